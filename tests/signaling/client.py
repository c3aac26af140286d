"""A socket.io test client of the room protocol that records what the server sends."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

NOTIFICATIONS = (
    "peerJoined",
    "peerLeft",
    "peerUpdated",
    "consumerClosed",
    "consumerPaused",
    "consumerResumed",
    "consumerScore",
    "producerMuted",
    "chatMessage",
    "removed",
    "reconnect",
    "serverShutdown",
)
WAIT_TIMEOUT = 5.0

NewConsumerHandler = Callable[[dict[str, Any]], Awaitable[Any]]


async def ack_new_consumer(data: dict[str, Any]) -> Any:
    return {}


class RoomClient:
    """One participant. `events` lists every (event, payload) in arrival order.

    `on_new_consumer` handles `newConsumer` requests, and its return value is the ack.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.on_new_consumer: NewConsumerHandler = ack_new_consumer
        self.connect_error: Any = None
        self.joined: dict[str, Any] = {}  # the join response, when the test joined
        self.disconnected = asyncio.Event()
        self._arrived = asyncio.Event()
        for name in NOTIFICATIONS:
            self.sio.on(name, self._recorder(name))
        self.sio.on("newConsumer", self._new_consumer)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)

    def _recorder(self, name: str) -> Callable[[Any], Awaitable[None]]:
        async def record(data: Any = None) -> None:
            self._record(name, data)

        return record

    def _record(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        self._arrived.set()

    async def _new_consumer(self, data: dict[str, Any]) -> Any:
        self._record("newConsumer", data)
        return await self.on_new_consumer(data)

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_error = data

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()
        self._arrived.set()

    async def connect(self, token: str | None) -> None:
        auth = {"token": token} if token is not None else {}
        await self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=5)

    async def rejected(self, auth: Any) -> dict[str, Any]:
        """Connect with `auth`, expect a rejection, and return its `data` ({code, message})."""
        try:
            await self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=5)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            await self.sio.disconnect()
            raise AssertionError("the connection was accepted")
        assert isinstance(self.connect_error, dict), self.connect_error
        data: dict[str, Any] = self.connect_error["data"]
        assert data["message"] == self.connect_error["message"]
        return data

    async def request(self, name: str, *args: Any, timeout: float = WAIT_TIMEOUT) -> Any:
        """Send one request and return the raw acknowledgement."""
        # python-socketio sends a tuple as several arguments and None as no argument.
        data: Any = args[0] if len(args) == 1 and args[0] is not None else tuple(args) or None
        return await self.sio.call(name, data, timeout=timeout)

    async def ok(self, name: str, payload: Any = None) -> dict[str, Any]:
        """Send a request that must succeed and return its `data`."""
        answer = await self.request(name, {} if payload is None else payload)
        assert isinstance(answer, dict) and "data" in answer, f"{name} failed: {answer}"
        data: dict[str, Any] = answer["data"]
        return data

    async def error(self, name: str, payload: Any = None) -> dict[str, Any]:
        """Send a request that must fail and return its `error` ({code, message})."""
        answer = await self.request(name, {} if payload is None else payload)
        assert isinstance(answer, dict) and "error" in answer, f"{name} succeeded: {answer}"
        error: dict[str, Any] = answer["error"]
        return error

    def received(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    async def wait_for(
        self,
        name: str,
        predicate: Callable[[Any], bool] = lambda data: True,
        timeout: float = WAIT_TIMEOUT,
    ) -> Any:
        """Return the first `name` payload matching `predicate`, waiting up to `timeout` s."""
        async with asyncio.timeout(timeout):
            while True:
                for event, data in self.events:
                    if event == name and predicate(data):
                        return data
                self._arrived.clear()
                await self._arrived.wait()

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()

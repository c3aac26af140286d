"""Ordered, bounded delivery of the messages the server sends to one socket.io client."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

DEFAULT_OUTBOX_SIZE = 512
# Packets that may wait in the socket.io engine's own (unbounded) queue of a client before
# the outbox stops handing it more, and how often the outbox checks again.
DEFAULT_ENGINE_BACKLOG = 256
BACKLOG_POLL_SECONDS = 0.02


class SocketServer(Protocol):
    """The part of `socketio.AsyncServer` that an Outbox uses."""

    async def emit(
        self, event: str, data: Any = None, *, to: str | None = None, callback: Any = None
    ) -> None: ...

    async def disconnect(self, sid: str) -> None: ...


class OutboxClosedError(Exception):
    """The outbox was closed or overflowed before a request got its acknowledgement."""


@dataclass
class _Message:
    event: str
    data: Any
    # Set for a request: resolved with the client's acknowledgement arguments.
    ack: "asyncio.Future[tuple[Any, ...]] | None" = None
    disconnect: bool = False


class Outbox:
    """Send one client's notifications and requests in the order they were queued.

    A single task drains the queue, so a `consumerClosed` can never overtake the
    `newConsumer` it refers to. The queue contains at most `size` messages. While
    `backlog()` (the packets the engine has not yet written to the client) is above
    `engine_backlog`, the task waits, so a slow reader fills this queue instead of the
    engine's. When the queue is full, the outbox drops what is queued, calls
    `on_overflow` and disconnects the client.
    """

    def __init__(
        self,
        server: SocketServer,
        sid: str,
        *,
        on_overflow: Callable[[], None],
        backlog: Callable[[], int] = lambda: 0,
        size: int = DEFAULT_OUTBOX_SIZE,
        engine_backlog: int = DEFAULT_ENGINE_BACKLOG,
    ) -> None:
        self._server = server
        self._sid = sid
        self._on_overflow = on_overflow
        self._backlog = backlog
        self._engine_backlog = engine_backlog
        self._queue: asyncio.Queue[_Message] = asyncio.Queue(maxsize=size)
        self._closing = False
        self._logger = structlog.get_logger("signaling.outbox").bind(sid=sid)
        self._task = asyncio.create_task(self._run(), name=f"outbox {sid}")

    @property
    def closing(self) -> bool:
        """True once a disconnect is queued: later messages are dropped."""
        return self._closing

    def notify(self, event: str, data: Any) -> None:
        """Queue a notification (an emit without acknowledgement)."""
        self._put(_Message(event, data))

    def request(self, event: str, data: Any) -> "asyncio.Future[tuple[Any, ...]]":
        """Queue a request; the future gets the acknowledgement arguments.

        The future fails with OutboxClosedError if the client is disconnected first.
        Waiting for it with a timeout is the caller's job.
        """
        ack: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._put(_Message(event, data, ack))
        return ack

    def disconnect(self) -> None:
        """Disconnect the client once every message queued before has been sent."""
        if self._closing:
            return
        self._closing = True
        if self._queue.full():
            self._drop_queued()
        self._queue.put_nowait(_Message("", None, disconnect=True))

    def _put(self, message: _Message) -> None:
        if self._closing:
            if message.ack is not None:
                message.ack.set_exception(OutboxClosedError(f"client {self._sid} is disconnecting"))
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._logger.warning(
                "client reads too slowly, disconnecting it", queued=self._queue.qsize()
            )
            self._drop_queued()
            if message.ack is not None:
                message.ack.set_exception(OutboxClosedError(f"outbox of {self._sid} overflowed"))
            self.disconnect()
            self._on_overflow()

    def _drop_queued(self) -> None:
        while not self._queue.empty():
            message = self._queue.get_nowait()
            if message.ack is not None and not message.ack.done():
                message.ack.set_exception(OutboxClosedError(f"client {self._sid} disconnected"))

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            if message.disconnect:
                await self._disconnect()
                return
            await self._wait_for_engine()
            await self._send(message)

    async def _wait_for_engine(self) -> None:
        # The engine signals nothing when its queue drains, so this polls.
        while self._backlog() > self._engine_backlog and not self._closing:  # noqa: ASYNC110
            await asyncio.sleep(BACKLOG_POLL_SECONDS)

    async def _send(self, message: _Message) -> None:
        callback = None
        ack = message.ack
        if ack is not None:

            def callback(*args: Any) -> None:
                if not ack.done():
                    ack.set_result(args)

        try:
            await self._server.emit(message.event, message.data, to=self._sid, callback=callback)
        except Exception as error:
            # The client may have gone away between queueing and sending.
            self._logger.debug("emit failed", event=message.event, error=repr(error))
            if ack is not None and not ack.done():
                ack.set_exception(OutboxClosedError(f"emit to {self._sid} failed: {error}"))

    async def _disconnect(self) -> None:
        try:
            await self._server.disconnect(self._sid)
        except Exception as error:
            self._logger.debug("disconnect failed", error=repr(error))

    async def wait_sent(self, timeout: float) -> None:
        """Wait until a queued disconnect has run, at most `timeout` seconds."""
        await asyncio.wait([self._task], timeout=timeout)

    async def close(self) -> None:
        """Stop sending: drop what is queued and end the sending task."""
        self._closing = True
        self._drop_queued()
        if self._task is asyncio.current_task():
            # Called from the disconnect that this task is running; it ends after it.
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

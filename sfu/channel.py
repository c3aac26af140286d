"""Request/response channel from the control plane to one worker process over two pipes."""

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import structlog

from sfu.channel_framing import FrameDecoder, FramingError, encode_frame
from sfu.errors import (
    InvalidParameterError,
    InvalidStateError,
    NotFoundError,
    RequestTimeoutError,
    SfuError,
    UnsupportedError,
)

DEFAULT_REQUEST_TIMEOUT = 10.0

NotificationHandler = Callable[[str, Any], None]

# Error names the worker may put into a response, mapped to the classes raised here.
_ERROR_CLASSES: dict[str, type[SfuError]] = {
    "InvalidStateError": InvalidStateError,
    "UnsupportedError": UnsupportedError,
    "InvalidParameterError": InvalidParameterError,
    "NotFoundError": NotFoundError,
}


class _PipeReader(asyncio.Protocol):
    """Feed what the worker writes into the channel's frame decoder."""

    def __init__(self, channel: "Channel") -> None:
        self._channel = channel

    def data_received(self, data: bytes) -> None:
        self._channel._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._channel._on_reader_closed(exc)


class Channel:
    """Send requests to a worker and dispatch its responses, notifications and log records.

    Every request has a timeout. When the channel closes, pending requests fail with
    `InvalidStateError`, so no caller waits forever on a dead worker.
    """

    def __init__(
        self,
        *,
        pid: int,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        on_log: Callable[[dict[str, Any]], None] | None = None,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self._pid = pid
        self._request_timeout = request_timeout
        self._on_log = on_log
        self._on_closed = on_closed
        self._decoder = FrameDecoder()
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._subscribers: dict[str, NotificationHandler] = {}
        self._writer: asyncio.WriteTransport | None = None
        self._pipes: tuple[Any, ...] = ()
        self._reader: asyncio.ReadTransport | None = None
        self._closed = False
        self._logger = structlog.get_logger("sfu.channel").bind(worker=pid)

    @property
    def closed(self) -> bool:
        return self._closed

    async def connect(self, read_fd: int, write_fd: int) -> None:
        """Attach to the pipe ends that the worker process writes to and reads from."""
        loop = asyncio.get_running_loop()
        # Opening a pipe descriptor does not block, so the async-open lint does not apply.
        read_pipe = open(read_fd, "rb", buffering=0, closefd=True)  # noqa: ASYNC230
        write_pipe = open(write_fd, "wb", buffering=0, closefd=True)  # noqa: ASYNC230
        self._pipes = (read_pipe, write_pipe)
        self._reader, _ = await loop.connect_read_pipe(lambda: _PipeReader(self), read_pipe)
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, write_pipe)

    def subscribe(self, target_id: str, handler: NotificationHandler) -> None:
        """Route the worker's notifications about `target_id` to `handler(event, data)`."""
        self._subscribers[target_id] = handler

    def unsubscribe(self, target_id: str) -> None:
        self._subscribers.pop(target_id, None)

    async def request(
        self,
        method: str,
        target_id: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Send a request and return the worker's response data.

        Raises the typed error the worker reported, `RequestTimeoutError` after `timeout`
        seconds, or `InvalidStateError` if the channel is or becomes closed.
        """
        future = self._send_request(method, target_id, data)
        limit = self._request_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            raise RequestTimeoutError(
                f"request {method!r} to worker {self._pid} timed out after {limit} s"
            ) from None

    def request_nowait(
        self, method: str, target_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        """Send a request without awaiting its response (used by synchronous `close()`).

        The channel still owns the pending future: an error response is logged, and closing
        the channel resolves it, so nothing is left dangling.
        """
        if self._closed:
            return
        try:
            future = self._send_request(method, target_id, data)
        except InvalidStateError:
            # The pipe is already closing (the worker died and its exit is not yet seen);
            # nothing is left to close on the worker side.
            return
        future.add_done_callback(self._log_unawaited_failure)

    def close(self) -> None:
        """Close both pipe ends and fail every pending request; idempotent."""
        if self._closed:
            return
        self._closed = True
        for method, future in self._pending.values():
            if not future.done():
                future.set_exception(
                    InvalidStateError(f"channel to worker {self._pid} closed during {method!r}")
                )
        self._pending.clear()
        self._subscribers.clear()
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.close()
        # The transports close their pipe files on a later loop iteration, which never comes
        # if the loop stops first. The garbage collector would then close descriptors that a
        # newer pipe may reuse, so close the files now.
        for pipe in self._pipes:
            pipe.close()
        if self._on_closed is not None:
            self._on_closed()

    def _send_request(
        self, method: str, target_id: str | None, data: dict[str, Any] | None
    ) -> "asyncio.Future[Any]":
        if self._closed or self._writer is None or self._writer.is_closing():
            raise InvalidStateError(f"channel to worker {self._pid} is closed; cannot {method!r}")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        frame = encode_frame(
            {"id": request_id, "method": method, "target": target_id, "data": data or {}}
        )
        self._writer.write(frame)
        # A request that timed out still has its entry here; the late response removes it.
        return future

    def _log_unawaited_failure(self, future: "asyncio.Future[Any]") -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and not isinstance(error, InvalidStateError):
            self._logger.warning("worker request failed", error=str(error))

    def _on_data(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
        except FramingError as error:
            self._logger.error("invalid frame from worker, closing channel", error=str(error))
            self.close()
            return
        for message in messages:
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            self._resolve(message)
        elif "event" in message:
            handler = self._subscribers.get(message.get("target") or "")
            if handler is not None:
                handler(message["event"], message.get("data"))
        elif "log" in message and self._on_log is not None:
            self._on_log(message["log"])

    def _resolve(self, message: dict[str, Any]) -> None:
        entry = self._pending.pop(message["id"], None)
        if entry is None:
            return
        method, future = entry
        if future.done():
            return
        if message.get("ok"):
            future.set_result(message.get("data"))
            return
        error_class = _ERROR_CLASSES.get(message.get("error", ""), SfuError)
        future.set_exception(error_class(message.get("reason") or f"{method} failed"))

    def _on_reader_closed(self, exc: Exception | None) -> None:
        if exc is not None:
            self._logger.debug("channel read pipe closed", error=str(exc))
        self.close()

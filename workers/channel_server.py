"""Worker side of the control channel: read requests from a pipe, write responses."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from sfu.channel_framing import FrameDecoder, FramingError, encode_frame
from workers.errors import WorkerRequestError

RequestHandler = Callable[[str, str | None, dict[str, Any]], Any | Awaitable[Any]]

_logger = structlog.get_logger("workers.channel")

# Requests queued between the pipe and the handler. Past this many the reader pauses, so the
# rest stays in the pipe and the control plane's writes block.
MAX_QUEUED_REQUESTS = 1024


class ChannelServer(asyncio.Protocol):
    """Handle requests one at a time, in arrival order, and send notifications."""

    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler
        self._decoder = FrameDecoder()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.ReadTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    async def connect(self, read_fd: int, write_fd: int) -> None:
        loop = asyncio.get_running_loop()
        # Opening a pipe descriptor does not block, so the async-open lint does not apply.
        read_pipe = open(read_fd, "rb", buffering=0, closefd=True)  # noqa: ASYNC230
        write_pipe = open(write_fd, "wb", buffering=0, closefd=True)  # noqa: ASYNC230
        self._reader, _ = await loop.connect_read_pipe(lambda: self, read_pipe)
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, write_pipe)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
        except FramingError as error:
            _logger.error("invalid frame from the control plane", error=str(error))
            self._set_closed()
            return
        for message in messages:
            self._queue.put_nowait(message)
        if self._queue.qsize() >= MAX_QUEUED_REQUESTS and self._reader is not None:
            self._reader.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_closed()

    def _set_closed(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def notify(self, target_id: str, event: str, data: Any = None) -> None:
        """Send an event about `target_id` to the control plane."""
        self._write({"target": target_id, "event": event, "data": data})

    def send_log(self, record: dict[str, Any]) -> None:
        self._write({"log": record})

    async def serve(self) -> None:
        """Process requests until the pipe closes."""
        closed_wait = asyncio.ensure_future(asyncio.shield(self.closed))
        try:
            while True:
                get = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait(
                    {get, closed_wait}, return_when=asyncio.FIRST_COMPLETED
                )
                if get not in done:
                    get.cancel()
                    return
                if self._queue.qsize() < MAX_QUEUED_REQUESTS // 2 and self._reader is not None:
                    self._reader.resume_reading()
                await self._handle(get.result())
        finally:
            closed_wait.cancel()

    async def _handle(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        method = message.get("method")
        if not isinstance(request_id, int) or not isinstance(method, str):
            _logger.error(
                "malformed request dropped", request_id=repr(request_id), method=repr(method)
            )
            return
        data = message.get("data")
        try:
            result = self._handler(
                method, message.get("target"), data if isinstance(data, dict) else {}
            )
            if inspect.isawaitable(result):
                result = await result
        except WorkerRequestError as error:
            self._write({"id": request_id, "ok": False, "error": error.name, "reason": str(error)})
        except Exception as error:
            _logger.exception("request failed", method=method)
            self._write(
                {
                    "id": request_id,
                    "ok": False,
                    "error": "SfuError",
                    "reason": f"{method}: {error!r}",
                }
            )
        else:
            self._write({"id": request_id, "ok": True, "data": result})

    def _write(self, message: dict[str, Any]) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode_frame(message))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.close()
        self._set_closed()

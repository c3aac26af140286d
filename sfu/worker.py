"""Worker: one media worker process (`python -m workers`) and the channel to it."""

import asyncio
import json
import os
import signal
import sys
import uuid
from typing import TYPE_CHECKING, Any

import structlog

from sfu.channel import DEFAULT_REQUEST_TIMEOUT, Channel
from sfu.entity import Entity
from sfu.errors import InvalidParameterError, SfuError, WorkerStartError

if TYPE_CHECKING:
    from sfu.router import Router
    from sfu.webrtc_server import WebRtcServer

LOG_LEVELS = ("debug", "warn", "error", "none")
DEFAULT_START_TIMEOUT = 15.0
# Lines of the worker's stderr kept to explain a failed start.
_STDERR_TAIL_LINES = 20
_LOG_METHODS = {"debug": "debug", "info": "info", "warn": "warning", "error": "error"}


class WorkerDiedError(SfuError):
    """A worker process exited without being closed; `exit_code` or `signal` gives the cause."""

    def __init__(self, pid: int, returncode: int) -> None:
        self.pid = pid
        self.exit_code: int | None = returncode if returncode >= 0 else None
        self.signal: str | None = signal.Signals(-returncode).name if returncode < 0 else None
        how = f"signal {self.signal}" if self.signal else f"exit code {self.exit_code}"
        super().__init__(f"worker process {pid} died unexpectedly ({how})")


class Worker(Entity):
    """Control-plane handle of a worker process.

    Events: `died(WorkerDiedError)` once if the process exits while the Worker is open,
    `subprocessclose` when the process has exited for any reason. Observer: `newrouter`,
    `newwebrtcserver`, `close`.
    """

    child_close_event = "workerclose"

    def __init__(
        self, process: asyncio.subprocess.Process, channel: Channel, app_data: dict[str, Any] | None
    ) -> None:
        super().__init__(str(process.pid), app_data)
        self._process = process
        self._channel = channel
        self._routers: dict[str, Entity] = {}
        self._webrtc_servers: dict[str, Entity] = {}
        self._died = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._logger = structlog.get_logger("sfu.worker").bind(worker=process.pid)

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    @property
    def died(self) -> bool:
        return self._died

    @property
    def channel(self) -> Channel:
        return self._channel

    def _children(self) -> list[dict[str, Entity]]:
        return [self._routers, self._webrtc_servers]

    def _request_close(self) -> None:
        self._logger.debug("closing worker")
        self._channel.request_nowait("worker.close")
        # The worker exits when its channel closes; SIGTERM covers a worker stuck in a request.
        asyncio.get_running_loop().call_later(2.0, self._terminate)

    def _terminate(self) -> None:
        if self._process.returncode is None:
            try:
                self._process.terminate()
            except ProcessLookupError:
                pass

    def _after_close(self) -> None:
        self._channel.close()

    async def wait_closed(self) -> int:
        """Wait until the worker process has exited and return its exit code."""
        return await self._process.wait()

    def _on_wait_done(self, future: "asyncio.Future[Any]") -> None:
        # The wait is cancelled only when the event loop shuts down under an open worker.
        if not future.cancelled():
            self._on_process_exit(future.result())

    def _on_process_exit(self, returncode: int) -> None:
        self._logger.debug("worker process exited", returncode=returncode)
        if not self.closed:
            self._died = True
            error = WorkerDiedError(self.pid, returncode)
            self._logger.error("worker died", error=str(error))
            self._closed = True
            self._channel.close()
            self._close_children()
            self.emit("died", error)
            self.observer.emit("close")
        self.emit("subprocessclose")

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("worker.dump")
        return result

    async def get_resource_usage(self) -> dict[str, int]:
        """Return the worker process's getrusage() figures (times in milliseconds)."""
        self._check_open("get_resource_usage")
        result: dict[str, int] = await self._channel.request("worker.getResourceUsage")
        return result

    async def get_media_counters(self) -> dict[str, int]:
        """Return the worker's cumulative media counters.

        Keys: rtpPacketsReceived/Sent, bytesReceived/Sent, nacksSent/Received,
        packetsRetransmitted, keyFrameRequestsSent/Received, packetsLost (reported by the
        worker's receive statistics) and `dropped.<reason>` for every drop reason.
        Closed objects keep counting, so the values never decrease.
        """
        self._check_open("get_media_counters")
        result: dict[str, int] = await self._channel.request("worker.getMediaCounters")
        return result

    async def update_settings(
        self, *, log_level: str | None = None, log_tags: list[str] | None = None
    ) -> None:
        self._check_open("update_settings")
        data: dict[str, Any] = {}
        if log_level is not None:
            if log_level not in LOG_LEVELS:
                raise InvalidParameterError(
                    f"log_level must be one of {list(LOG_LEVELS)}, got {log_level!r}"
                )
            data["logLevel"] = log_level
        if log_tags is not None:
            data["logTags"] = log_tags
        await self._channel.request("worker.updateSettings", None, data)

    async def create_router(
        self,
        *,
        media_codecs: list[dict[str, Any]] | None = None,
        app_data: dict[str, Any] | None = None,
    ) -> "Router":
        """Create a router whose RTP capabilities are built from `media_codecs`."""
        from sfu import ortc
        from sfu.router import Router

        self._check_open("create_router")
        _check_app_data(app_data)
        capabilities = ortc.generate_router_rtp_capabilities(media_codecs)
        router_id = str(uuid.uuid4())
        await self._channel.request("worker.createRouter", None, {"routerId": router_id})
        router = Router(router_id, self._channel, capabilities, app_data)
        self._adopt(self._routers, router)
        self.observer.emit("newrouter", router)
        return router

    async def create_webrtc_server(
        self, *, listen_infos: list[dict[str, Any]], app_data: dict[str, Any] | None = None
    ) -> "WebRtcServer":
        """Open one shared UDP socket and/or TCP server per listen info (single-port mode)."""
        from sfu.webrtc_server import WebRtcServer

        self._check_open("create_webrtc_server")
        _check_app_data(app_data)
        if not isinstance(listen_infos, list) or not listen_infos:
            raise InvalidParameterError(
                f"listen_infos must be a non-empty list, got {listen_infos!r}"
            )
        server_id = str(uuid.uuid4())
        data = await self._channel.request(
            "worker.createWebRtcServer",
            None,
            {"webRtcServerId": server_id, "listenInfos": listen_infos},
        )
        server = WebRtcServer(server_id, self._channel, data["listenInfos"], app_data)
        self._adopt(self._webrtc_servers, server)
        self.observer.emit("newwebrtcserver", server)
        return server

    def _on_log(self, record: dict[str, Any]) -> None:
        record = dict(record)
        level = record.pop("level", "info")
        event = record.pop("event", "worker log")
        record.pop("worker", None)
        method = getattr(self._logger, _LOG_METHODS.get(level, "info"))
        method(event, **record)

    def _own(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _check_app_data(app_data: Any) -> None:
    if app_data is not None and not isinstance(app_data, dict):
        raise InvalidParameterError(f"app_data must be a dict, got {type(app_data).__name__}")


def _worker_settings(
    log_level: str,
    log_tags: list[str] | None,
    rtc_min_port: int,
    rtc_max_port: int,
    dtls_certificate_file: str | None,
    dtls_private_key_file: str | None,
) -> dict[str, Any]:
    if log_level not in LOG_LEVELS:
        raise InvalidParameterError(
            f"log_level must be one of {list(LOG_LEVELS)}, got {log_level!r}"
        )
    for name, value in (("rtc_min_port", rtc_min_port), ("rtc_max_port", rtc_max_port)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
            raise InvalidParameterError(f"{name} must be an integer 1..65535, got {value!r}")
    if rtc_min_port > rtc_max_port:
        raise InvalidParameterError(
            f"rtc_min_port {rtc_min_port} is greater than rtc_max_port {rtc_max_port}"
        )
    if (dtls_certificate_file is None) != (dtls_private_key_file is None):
        raise InvalidParameterError(
            "dtls_certificate_file and dtls_private_key_file must be given together"
        )
    settings: dict[str, Any] = {
        "logLevel": log_level,
        "logTags": list(log_tags or []),
        "rtcMinPort": rtc_min_port,
        "rtcMaxPort": rtc_max_port,
    }
    if dtls_certificate_file is not None:
        settings["dtlsCertificateFile"] = dtls_certificate_file
        settings["dtlsPrivateKeyFile"] = dtls_private_key_file
    return settings


async def create_worker(
    *,
    log_level: str = "error",
    log_tags: list[str] | None = None,
    rtc_min_port: int = 10000,
    rtc_max_port: int = 59999,
    dtls_certificate_file: str | None = None,
    dtls_private_key_file: str | None = None,
    worker_bin: str | list[str] | None = None,
    app_data: dict[str, Any] | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> Worker:
    """Start a worker process and return its handle once it reports that it is running.

    `worker_bin` replaces the command (default: this Python with `-m workers`).
    Raises InvalidParameterError for bad settings and WorkerStartError when the process
    cannot be started or exits before it is ready.
    """
    _check_app_data(app_data)
    settings = _worker_settings(
        log_level,
        log_tags,
        rtc_min_port,
        rtc_max_port,
        dtls_certificate_file,
        dtls_private_key_file,
    )
    if worker_bin is None:
        command = [sys.executable, "-m", "workers"]
    elif isinstance(worker_bin, str):
        command = [worker_bin]
    elif (
        isinstance(worker_bin, list)
        and worker_bin
        and all(isinstance(part, str) for part in worker_bin)
    ):
        command = list(worker_bin)
    else:
        raise InvalidParameterError(
            f"worker_bin must be a path or a non-empty list of strings, got {worker_bin!r}"
        )

    to_child_read, to_child_write = os.pipe()
    from_child_read, from_child_write = os.pipe()
    arguments = [
        "--channel-fds",
        f"{to_child_read},{from_child_write}",
        "--settings",
        json.dumps(settings),
    ]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(to_child_read, from_child_write),
        )
    except OSError as error:
        for fd in (to_child_read, to_child_write, from_child_read, from_child_write):
            os.close(fd)
        raise WorkerStartError(f"cannot start worker {command[0]!r}: {error}") from error
    os.close(to_child_read)
    os.close(from_child_write)
    return await _attach(
        process, command, from_child_read, to_child_write, app_data, request_timeout, start_timeout
    )


async def _attach(
    process: asyncio.subprocess.Process,
    command: list[str],
    read_fd: int,
    write_fd: int,
    app_data: dict[str, Any] | None,
    request_timeout: float,
    start_timeout: float,
) -> Worker:
    loop = asyncio.get_running_loop()
    running: asyncio.Future[None] = loop.create_future()
    worker_ref: list[Worker] = []

    def on_log(record: dict[str, Any]) -> None:
        if worker_ref:
            worker_ref[0]._on_log(record)

    channel = Channel(pid=process.pid, request_timeout=request_timeout, on_log=on_log)

    def on_worker_event(event: str, data: Any) -> None:
        if event == "running" and not running.done():
            running.set_result(None)

    # Subscribe first: the worker's "running" can arrive while connect() is still awaiting.
    channel.subscribe("worker", on_worker_event)
    await channel.connect(read_fd, write_fd)
    worker = Worker(process, channel, app_data)
    worker_ref.append(worker)
    stderr_tail: list[str] = []
    worker._own(_read_stderr(process, worker, stderr_tail))
    exited: asyncio.Future[Any] = asyncio.ensure_future(process.wait())
    waiting: set[asyncio.Future[Any]] = {running, exited}
    done, _ = await asyncio.wait(
        waiting, timeout=start_timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if running not in done:
        running.cancel()
        if exited not in done:
            exited.cancel()
            process.kill()
            await process.wait()
            reason = f"did not report running within {start_timeout} s"
        else:
            reason = f"exited with code {process.returncode}"
        # Let the stderr reader drain what the process printed before it died.
        await asyncio.sleep(0.05)
        channel.close()
        detail = " | ".join(stderr_tail[-5:])
        raise WorkerStartError(
            f"worker {command[0]!r} {reason}" + (f": {detail}" if detail else "")
        )
    exited.add_done_callback(worker._on_wait_done)
    worker._logger.debug("worker started", command=command[0])
    return worker


async def _read_stderr(
    process: asyncio.subprocess.Process, worker: Worker, tail: list[str]
) -> None:
    """Log what the worker writes to stderr (tracebacks, interpreter errors) with its pid."""
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        if not line:
            return
        text = line.decode(errors="replace").rstrip()
        tail.append(text)
        del tail[:-_STDERR_TAIL_LINES]
        worker._logger.warning("worker stderr", line=text)

"""Entry point of a worker process: `python -m workers --channel-fds READ,WRITE --settings JSON`."""

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
import uvloop

from workers.certificate import Certificate
from workers.channel_server import ChannelServer
from workers.errors import InvalidParameterError
from workers.worker import Worker, WorkerSettings, load_certificate

# Allocations between young-generation collections (CPython's default is 700).
GC_THRESHOLD = 20_000
_LEVEL_NUMBERS = {"debug": 10, "warn": 30, "error": 40, "none": 100}


def _configure_logging(channel: ChannelServer, settings: WorkerSettings) -> None:
    """Send every log record over the channel, filtered by the current `logLevel`."""

    def to_channel(_logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        threshold = _LEVEL_NUMBERS[settings.log_level]
        level = {"warning": "warn", "exception": "error", "critical": "error"}.get(method, method)
        if _LEVEL_NUMBERS.get(level, 20) >= threshold:
            record = {key: _plain(value) for key, value in event.items()}
            record["level"] = level
            channel.send_log(record)
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.processors.format_exc_info, to_channel],
        cache_logger_on_first_use=False,
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _parse_args(argv: list[str]) -> tuple[int, int, dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m workers", description="pysfu media worker")
    parser.add_argument("--channel-fds", required=True, help="READ,WRITE pipe file descriptors")
    parser.add_argument("--settings", default="{}", help="worker settings as a JSON object")
    args = parser.parse_args(argv)
    try:
        read_fd, write_fd = (int(part) for part in args.channel_fds.split(","))
    except ValueError:
        parser.error(f"--channel-fds must be two integers READ,WRITE, got {args.channel_fds!r}")
    try:
        settings = json.loads(args.settings)
    except json.JSONDecodeError as error:
        parser.error(f"--settings is not valid JSON: {error}")
    if not isinstance(settings, dict):
        parser.error("--settings must be a JSON object")
    return read_fd, write_fd, settings


async def _run(
    read_fd: int, write_fd: int, settings: WorkerSettings, certificate: Certificate
) -> None:
    worker: Worker | None = None

    async def handle(method: str, target: str | None, data: dict[str, Any]) -> Any:
        assert worker is not None
        result = await worker.handle_request(method, target, data)
        if method == "worker.close":
            asyncio.get_running_loop().call_soon(channel.close)
        return result

    channel = ChannelServer(handle)
    await channel.connect(read_fd, write_fd)
    _configure_logging(channel, settings)
    worker = Worker(channel, settings, certificate)
    loop = asyncio.get_running_loop()
    # The control plane owns the lifetime: Ctrl+C in a terminal reaches the whole process
    # group, and the parent closes workers itself.
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.add_signal_handler(signal.SIGTERM, channel.close)
    # Forwarding allocates short-lived objects per packet, which the reference count frees.
    # Frequent young-generation collections still pause the loop, and full collections
    # walk every object imported at start; freeze those and collect less often.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    channel.notify("worker", "running", {"pid": os.getpid()})
    worker.logger.debug("worker running")
    await channel.serve()
    worker.close()


def main(argv: list[str] | None = None) -> int:
    read_fd, write_fd, raw_settings = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = WorkerSettings(raw_settings)
        certificate = load_certificate(settings)
    except (InvalidParameterError, OSError, ValueError) as error:
        print(f"pysfu worker: invalid settings: {error}", file=sys.stderr)
        return 2
    try:
        uvloop.run(_run(read_fd, write_fd, settings, certificate))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

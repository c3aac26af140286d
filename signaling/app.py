"""The aiohttp application of `pysfu serve` and the loop that runs it until a signal."""

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import socketio
import structlog
from aiohttp import web

from sfu import Worker, WorkerDiedError, create_worker
from signaling.config import Settings
from signaling.metrics import Metrics
from signaling.protocol import ProtocolOptions, RoomProtocol
from signaling.room import RoomRegistry
from signaling.web import (
    dev_token_disabled,
    dev_token_handler,
    health_handler,
    metrics_handler,
    web_app_handler,
)
from signaling.worker_pool import WorkerFactory, WorkerPool

# Seconds that open HTTP requests get to finish after the clients were disconnected. A
# client that ignores the disconnect keeps its WebSocket open, so this stays short.
SHUTDOWN_TIMEOUT = 1.0
_WORKER_LOG_LEVELS = {"debug": "debug", "info": "warn", "warning": "warn", "error": "error"}
_logger = structlog.get_logger("signaling.app")


@dataclass
class Server:
    """The parts of one server instance, reachable from the app and from tests."""

    settings: Settings
    keys: Mapping[str, str]
    sio: socketio.AsyncServer
    pool: WorkerPool
    registry: RoomRegistry
    protocol: RoomProtocol
    metrics: Metrics


SERVER_KEY = web.AppKey("server", Server)


def development_keys() -> dict[str, str]:
    """Return a random API key and secret for a server started without keys."""
    return {f"dev-{secrets.token_hex(4)}": secrets.token_urlsafe(32)}


def create_app(
    settings: Settings,
    *,
    keys: Mapping[str, str] | None = None,
    worker_factory: WorkerFactory | None = None,
) -> web.Application:
    """Build the application; its workers start when the app starts up.

    `keys` defaults to `settings.keys`, or to a random development pair when that is
    empty. `worker_factory` replaces `sfu.create_worker` (tests).
    """
    if keys is None:
        keys = settings.keys or development_keys()
    metrics = Metrics()
    cors: str | list[str] | None = None
    if "*" in settings.cors_origins:
        cors = "*"
    elif settings.cors_origins:
        cors = list(settings.cors_origins)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        max_http_buffer_size=settings.max_message_size,
        cors_allowed_origins=cors,
    )
    registry_holder: list[RoomRegistry] = []

    def worker_died(worker: Worker, error: WorkerDiedError) -> None:
        metrics.worker_deaths.inc()
        reason = f"the media worker of this room stopped ({error}); connect again to rejoin"
        peers = registry_holder[0].drop_worker(worker, reason)
        metrics.reconnects.inc(len(peers))

    pool_options: dict[str, object] = {
        "log_level": _WORKER_LOG_LEVELS[settings.log_level],
        "rtc_min_port": settings.rtc_min_port,
        "rtc_max_port": settings.rtc_max_port,
    }
    pool = WorkerPool(
        settings.workers,
        worker_options=pool_options,
        on_died=worker_died,
        factory=worker_factory or create_worker,
    )
    registry = RoomRegistry(lambda: pool.workers, metrics.consumer_ack_timeouts.inc)
    registry_holder.append(registry)
    protocol = RoomProtocol(
        sio,
        registry,
        metrics,
        keys=keys,
        options=ProtocolOptions(
            rtc_ip=settings.rtc_ip,
            announced_address=settings.announced_address,
            consumer_ack_timeout=settings.consumer_ack_timeout,
            max_peers_per_room=settings.max_peers_per_room,
        ),
    )
    server = Server(settings, keys, sio, pool, registry, protocol, metrics)

    app = web.Application(client_max_size=settings.max_message_size)
    app[SERVER_KEY] = server
    sio.attach(app, socketio_path="socket.io")
    _add_routes(app, server)
    app.cleanup_ctx.append(_workers_context)
    app.on_shutdown.append(_notify_shutdown)
    return app


def _add_routes(app: web.Application, server: Server) -> None:
    async def render() -> bytes:
        workers = server.pool.workers
        return await server.metrics.render(lambda: server.protocol.snapshot(workers), workers)

    app.router.add_get("/healthz", health_handler(lambda: len(server.pool.workers)))
    app.router.add_get("/metrics", metrics_handler(render))
    if server.settings.development_mode:
        ((api_key, api_secret),) = server.keys.items()
        app.router.add_get("/api/dev-token", dev_token_handler(api_key, api_secret))
    else:
        app.router.add_get("/api/dev-token", dev_token_disabled)
    app.router.add_get("/{path:.*}", web_app_handler(server.settings.web_dir))


async def _workers_context(app: web.Application) -> AsyncIterator[None]:
    """Start the worker pool; on cleanup close every room and then the workers."""
    server = app[SERVER_KEY]
    await server.pool.start()
    yield
    await server.protocol.close()
    server.registry.close()
    await server.pool.close()


async def _notify_shutdown(app: web.Application) -> None:
    server = app[SERVER_KEY]
    await server.protocol.notify_shutdown()
    # Ask the clients to close their engine.io connections too; aiohttp cancels the
    # handlers of those still open after SHUTDOWN_TIMEOUT. engineio raises ValueError
    # when disconnect() finds no connection.
    if server.sio.eio.sockets:
        await server.sio.eio.disconnect()
    await server.sio.shutdown()


def public_base_url(host: str, port: int) -> str:
    """Return the URL a local browser can open for a server listening on `host`."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def serve(settings: Settings, *, print_line: Callable[[str], None] = print) -> int:
    """Run the server until SIGTERM or SIGINT; return the process exit code."""
    app = create_app(settings)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    try:
        await runner.setup()
    except Exception as error:
        _logger.error("cannot start the media workers", error=str(error))
        print_line(f"pysfu: cannot start the media workers: {error}")
        return 1
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as error:
        print_line(f"pysfu: cannot listen on {settings.host}:{settings.port}: {error.strerror}")
        await runner.cleanup()
        return 1
    server = app[SERVER_KEY]
    stop = asyncio.Event()

    def on_signal() -> None:
        # Tell clients first: the workers may get the same signal and die any moment.
        server.pool.stop_replacing()
        server.protocol.begin_shutdown()
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    # The URL is printed once the signal handlers are in place, so that a supervisor
    # that waits for it can stop the server cleanly right away.
    base = public_base_url(settings.host, _bound_port(runner, settings.port))
    print_line(f"pysfu {len(server.pool.workers)} workers, listening on {base}")
    print_line(f"Join a room: {base}/?room=demo")
    if settings.development_mode:
        print_line("Development mode: no API key configured; tokens come from /api/dev-token")
    try:
        await stop.wait()
        _logger.info("shutting down")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
    _logger.info("stopped")
    return 0


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured

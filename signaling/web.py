"""HTTP routes: health, metrics, development tokens and the web app with SPA fallback."""

import asyncio
import html
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web

from signaling.tokens import (
    MAX_IDENTITY_LENGTH,
    MAX_NAME_LENGTH,
    VideoGrant,
    check_room_name,
    create_token,
)

BUILD_COMMAND = "npm ci --prefix web && npm run build --prefix web"
# Vite puts content-hashed file names under assets/, so browsers may keep them forever.
IMMUTABLE_PREFIX = "assets/"
_logger = structlog.get_logger("signaling.web")

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>pysfu</title></head>
<body>
<h1>pysfu is running</h1>
<p>The web app is not built: {folder} has no index.html.</p>
<p>Build it from the repository root with <code>{command}</code>, then reload this page.</p>
</body>
</html>
"""


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def health_handler(
    count_workers: Callable[[], int],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def health(request: web.Request) -> web.Response:
        workers = count_workers()
        if workers == 0:
            return web.json_response({"status": "unavailable", "workers": 0}, status=503)
        return web.json_response({"status": "ok", "workers": workers})

    return health


def metrics_handler(
    render: Callable[[], Awaitable[bytes]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def metrics(request: web.Request) -> web.Response:
        body = await render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    return metrics


def dev_token_handler(
    api_key: str, api_secret: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Return a handler that issues a token to any caller, for development mode only."""

    async def dev_token(request: web.Request) -> web.Response:
        room = request.query.get("room", "")
        problem = check_room_name(room)
        if problem is not None:
            return _error(400, "invalid_payload", f"query parameter {problem}")
        identity = request.query.get("identity") or f"guest-{secrets.token_hex(4)}"
        if len(identity) > MAX_IDENTITY_LENGTH or not identity.isprintable():
            return _error(
                400,
                "invalid_payload",
                f"query parameter identity must be 1..{MAX_IDENTITY_LENGTH} printable characters",
            )
        name = request.query.get("name", "")
        if len(name) > MAX_NAME_LENGTH or not name.isprintable():
            return _error(
                400,
                "invalid_payload",
                f"query parameter name must be at most {MAX_NAME_LENGTH} printable characters",
            )
        admin = request.query.get("admin", "") in ("1", "true")
        token = create_token(
            api_key=api_key,
            api_secret=api_secret,
            identity=identity,
            grant=VideoGrant(room=room, room_admin=admin),
            now=time.time(),
            name=name,
        )
        _logger.info("development token issued", room=room, identity=identity, admin=admin)
        return web.json_response({"token": token, "url": f"{request.scheme}://{request.host}"})

    return dev_token


async def dev_token_disabled(request: web.Request) -> web.Response:
    return _error(404, "not_found", "development tokens are off because API keys are configured")


def find_web_file(folder: Path, path: str) -> tuple[Path | None, bool]:
    """Return the file to serve for `path` and whether the app is built at all.

    A path that names no file inside `folder` gets index.html, so that client-side routes
    work. The file is None when such a path looks like an asset (its last segment has a dot).
    """
    root = folder.resolve()
    index = root / "index.html"
    if not index.is_file():
        return None, False
    candidate = (root / path).resolve()
    if path and candidate.is_relative_to(root) and candidate.is_file():
        return candidate, True
    if "." in path.rsplit("/", 1)[-1]:
        return None, True
    return index, True


def web_app_handler(folder: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Serve files of the built web app, with index.html for client-side routes."""

    async def web_app(request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("path", "")
        if path.startswith(("api/", "socket.io")):
            return _error(404, "not_found", f"no route for /{path}")
        # File system calls may block, so they run in a thread.
        found, built = await asyncio.to_thread(find_web_file, folder, path)
        if not built:
            page = NOT_BUILT_PAGE.format(
                folder=html.escape(str(folder)), command=html.escape(BUILD_COMMAND)
            )
            return web.Response(text=page, content_type="text/html")
        if found is None:
            return _error(404, "not_found", f"no file /{path} in the web app")
        response = web.FileResponse(found)
        if path.startswith(IMMUTABLE_PREFIX):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        elif found.name == "index.html":
            response.headers["Cache-Control"] = "no-cache"
        return response

    return web_app

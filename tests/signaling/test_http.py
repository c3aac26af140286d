"""HTTP routes: /healthz, /metrics, /api/dev-token and the web app with SPA fallback."""

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from signaling.config import Settings
from signaling.tokens import verify_token
from tests.signaling.conftest import RunningServer, make_settings, start_server


async def test_healthz(running: RunningServer) -> None:
    async with aiohttp.ClientSession() as session, session.get(running.url + "/healthz") as reply:
        assert reply.status == 200
        assert await reply.json() == {"status": "ok", "workers": 1}


async def test_metrics_counts(running: RunningServer) -> None:
    await running.join("alice")
    bob = await running.connect("bob")
    assert (await bob.error("join", {}))["code"] == "invalid_payload"
    status, text = await running.get("/metrics")
    assert status == 200
    lines = text.splitlines()
    for expected in (
        "pysfu_rooms 1.0",
        "pysfu_connections 2.0",
        "pysfu_peers 1.0",
        "pysfu_join_attempts_total 2.0",
        "pysfu_join_successes_total 1.0",
        'pysfu_join_failures_total{reason="invalid_payload"} 1.0',
        "pysfu_workers 1.0",
        'pysfu_requests_total{request="join",result="ok"} 1.0',
        'pysfu_requests_total{request="join",result="invalid_payload"} 1.0',
    ):
        assert expected in lines, expected
    pid = running.server.pool.workers[0].pid
    assert f'pysfu_worker_routers{{worker="{pid}"}} 1.0' in lines
    assert f'pysfu_worker_peers{{worker="{pid}"}} 2.0' in lines
    cpu = [line for line in lines if line.startswith("pysfu_worker_cpu_seconds_total{")]
    assert len(cpu) == 2
    assert all(float(line.rsplit(" ", 1)[1]) >= 0 for line in cpu)


async def test_dev_token_off_with_keys(running: RunningServer) -> None:
    status, text = await running.get("/api/dev-token?room=demo")
    assert status == 404
    assert "development tokens are off" in text


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    runner, server = await start_server(make_settings(tmp_path, keys={}))
    try:
        yield server
    finally:
        for client in server.clients:
            await client.close()
        await runner.cleanup()


async def test_dev_token(dev_server: RunningServer) -> None:
    url = dev_server.url + "/api/dev-token?room=demo&identity=ann&name=Ann&admin=1"
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        assert reply.status == 200
        body = await reply.json()
    assert body["url"] == dev_server.url
    claims = verify_token(body["token"], dev_server.server.keys, now=time.time())
    assert claims.identity == "ann"
    assert claims.name == "Ann"
    assert claims.video.room == "demo"
    assert claims.video.room_admin is True
    client = dev_server.client()
    await client.connect(body["token"])
    assert (await client.ok("getRouterRtpCapabilities"))["rtpCapabilities"]["codecs"]


async def test_dev_token_bad_room(dev_server: RunningServer) -> None:
    status, text = await dev_server.get("/api/dev-token?identity=x")
    assert status == 400
    assert "room must be a non-empty string" in text


async def test_web_app_not_built(running: RunningServer) -> None:
    status, text = await running.get("/")
    assert status == 200
    assert "The web app is not built" in text
    assert "npm ci --prefix web &amp;&amp; npm run build --prefix web" in text


@pytest.fixture
async def built_app(tmp_path: Path) -> AsyncIterator[RunningServer]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>app</html>")
    (dist / "assets" / "main-abc.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    settings: Settings = make_settings(tmp_path)
    runner, server = await start_server(settings)
    try:
        yield server
    finally:
        await runner.cleanup()


async def test_web_app_files(built_app: RunningServer) -> None:
    assert await built_app.get("/") == (200, "<html>app</html>")
    assert await built_app.get("/?room=demo") == (200, "<html>app</html>")
    assert await built_app.get("/rooms/demo") == (200, "<html>app</html>")
    assert await built_app.get("/assets/main-abc.js") == (200, "console.log(1)")
    status, _ = await built_app.get("/assets/missing.js")
    assert status == 404
    status, _ = await built_app.get("/api/unknown")
    assert status == 404
    status, text = await built_app.get("/..%2fsecret.txt")
    assert status == 404
    assert "outside" not in text


async def test_asset_cache_headers(built_app: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(built_app.url + "/assets/main-abc.js") as reply:
            assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        async with session.get(built_app.url + "/") as reply:
            assert reply.headers["Cache-Control"] == "no-cache"

"""An in-process `pysfu serve` on 127.0.0.1 with an ephemeral port and one real worker."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from signaling.app import SERVER_KEY, Server, create_app
from signaling.config import Settings
from signaling.tokens import VideoGrant, create_token
from tests.signaling.client import RoomClient

API_KEY = "test-key"
API_SECRET = "test-secret-" + "x" * 32
# Browser receive capabilities are only validated by `join`; these accept Opus and VP8.
RECV_CAPABILITIES: dict[str, Any] = {
    "codecs": [
        {
            "kind": "audio",
            "mimeType": "audio/opus",
            "preferredPayloadType": 100,
            "clockRate": 48000,
            "channels": 2,
            "parameters": {},
            "rtcpFeedback": [{"type": "transport-cc", "parameter": ""}],
        },
        {
            "kind": "video",
            "mimeType": "video/VP8",
            "preferredPayloadType": 101,
            "clockRate": 90000,
            "parameters": {},
            "rtcpFeedback": [
                {"type": "nack", "parameter": ""},
                {"type": "nack", "parameter": "pli"},
                {"type": "ccm", "parameter": "fir"},
            ],
        },
        {
            "kind": "video",
            "mimeType": "video/rtx",
            "preferredPayloadType": 102,
            "clockRate": 90000,
            "parameters": {"apt": 101},
            "rtcpFeedback": [],
        },
    ],
    "headerExtensions": [
        {
            "kind": "audio",
            "uri": "urn:ietf:params:rtp-hdrext:sdes:mid",
            "preferredId": 1,
            "preferredEncrypt": False,
            "direction": "sendrecv",
        },
        {
            "kind": "video",
            "uri": "urn:ietf:params:rtp-hdrext:sdes:mid",
            "preferredId": 1,
            "preferredEncrypt": False,
            "direction": "sendrecv",
        },
    ],
}


@dataclass
class RunningServer:
    server: Server
    url: str
    clients: list[RoomClient] = field(default_factory=list)

    def token(
        self,
        identity: str = "alice",
        room: str = "room-1",
        *,
        name: str = "",
        ttl: float = 600,
        now: float | None = None,
        **grant: Any,
    ) -> str:
        return create_token(
            api_key=API_KEY,
            api_secret=API_SECRET,
            identity=identity,
            grant=VideoGrant(room=room, **grant),
            now=time.time() if now is None else now,
            ttl=ttl,
            name=name,
        )

    def client(self) -> RoomClient:
        client = RoomClient(self.url)
        self.clients.append(client)
        return client

    async def connect(
        self, identity: str = "alice", room: str = "room-1", **grant: Any
    ) -> RoomClient:
        client = self.client()
        await client.connect(self.token(identity, room, **grant))
        return client

    async def join(self, identity: str = "alice", room: str = "room-1", **grant: Any) -> RoomClient:
        client = await self.connect(identity, room, **grant)
        client.joined = await client.ok("join", {"rtpCapabilities": RECV_CAPABILITIES})
        return client

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as response:
            return response.status, await response.text()

    async def metric(self, line_prefix: str) -> float:
        """Return the value of the first /metrics line starting with `line_prefix`."""
        _, text = await self.get("/metrics")
        for line in text.splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no metric {line_prefix!r} in /metrics")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll `check` every 50 ms until it returns True; fail after `timeout` seconds."""
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition still false after {timeout} s")


async def start_server(settings: Settings) -> tuple[web.AppRunner, RunningServer]:
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, RunningServer(app[SERVER_KEY], f"http://127.0.0.1:{port}")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "port": 0,
        "workers": 1,
        "keys": {API_KEY: API_SECRET},
        "web_dir": tmp_path / "dist",
        "consumer_ack_timeout": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningServer]:
    runner, server = await start_server(make_settings(tmp_path))
    try:
        yield server
    finally:
        for client in server.clients:
            await client.close()
        await runner.cleanup()

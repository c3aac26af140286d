"""Worker placement, worker death and replacement, with two real worker processes."""

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.signaling.conftest import RunningServer, eventually, make_settings, start_server


@pytest.fixture
async def two_workers(tmp_path: Path) -> AsyncIterator[RunningServer]:
    runner, server = await start_server(make_settings(tmp_path, workers=2))
    try:
        yield server
    finally:
        for client in server.clients:
            await client.close()
        await runner.cleanup()


async def test_rooms_spread_over_workers(two_workers: RunningServer) -> None:
    await two_workers.join("alice", room="first")
    await two_workers.join("bob", room="first")
    await two_workers.join("carol", room="second")
    rooms = two_workers.server.registry.rooms
    assert rooms["first"].worker is not rooms["second"].worker
    # The third room goes to the worker with fewer peers (1 rather than 2).
    await two_workers.join("dave", room="third")
    assert rooms["third"].worker is rooms["second"].worker


async def test_worker_death(two_workers: RunningServer) -> None:
    alice = await two_workers.join("alice", room="doomed")
    bob = await two_workers.join("bob", room="doomed")
    carol = await two_workers.join("carol", room="safe")
    registry = two_workers.server.registry
    doomed_worker = registry.rooms["doomed"].worker
    assert registry.rooms["safe"].worker is not doomed_worker

    os.kill(doomed_worker.pid, signal.SIGKILL)
    for client in (alice, bob):
        notice = await client.wait_for("reconnect")
        assert notice["reason"].startswith("the media worker of this room stopped (worker process")
        await asyncio.wait_for(client.disconnected.wait(), 5)
    assert "doomed" not in registry.rooms
    assert (await carol.ok("chatMessage", {"text": "unaffected"}))["id"]

    async def replaced() -> bool:
        return len(two_workers.server.pool.workers) == 2

    await eventually(replaced)
    assert doomed_worker not in two_workers.server.pool.workers
    assert await two_workers.metric("pysfu_worker_deaths_total") == 1
    assert await two_workers.metric("pysfu_reconnects_total") == 2
    assert await two_workers.metric("pysfu_workers") == 2
    again = await two_workers.join("alice", room="doomed")
    assert again.joined["roomId"] == "doomed"
    await again.ok("createWebRtcTransport", {"direction": "send"})

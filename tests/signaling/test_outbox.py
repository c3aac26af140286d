"""Outbox: ordering, acknowledgements, overflow and engine backpressure, with a fake server."""

import asyncio
from typing import Any

import pytest

from signaling.outbox import Outbox, OutboxClosedError


class FakeServer:
    """Records emits; acknowledges requests when `ack_with` is set."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any]] = []
        self.disconnected: list[str] = []
        self.ack_with: tuple[Any, ...] | None = None
        self.release = asyncio.Event()
        self.release.set()

    async def emit(
        self, event: str, data: Any = None, *, to: str | None = None, callback: Any = None
    ) -> None:
        await self.release.wait()
        self.emitted.append((event, data))
        if callback is not None and self.ack_with is not None:
            callback(*self.ack_with)

    async def disconnect(self, sid: str) -> None:
        self.disconnected.append(sid)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_order_kept() -> None:
    server = FakeServer()
    outbox = Outbox(server, "sid-1", on_overflow=lambda: None)
    outbox.notify("a", {"n": 1})
    ack = outbox.request("newConsumer", {"n": 2})
    outbox.notify("consumerClosed", {"n": 3})
    server.ack_with = ({},)
    assert await asyncio.wait_for(ack, 1) == ({},)
    await settle()
    assert server.emitted == [
        ("a", {"n": 1}),
        ("newConsumer", {"n": 2}),
        ("consumerClosed", {"n": 3}),
    ]
    await outbox.close()


async def test_disconnect_after_queued() -> None:
    server = FakeServer()
    outbox = Outbox(server, "sid-1", on_overflow=lambda: None)
    outbox.notify("removed", {"by": {}})
    outbox.disconnect()
    outbox.notify("late", {})
    await outbox.wait_sent(1)
    assert server.emitted == [("removed", {"by": {}})]
    assert server.disconnected == ["sid-1"]
    assert outbox.closing is True


async def test_request_after_disconnect_fails() -> None:
    outbox = Outbox(FakeServer(), "sid-1", on_overflow=lambda: None)
    outbox.disconnect()
    ack = outbox.request("newConsumer", {})
    with pytest.raises(OutboxClosedError, match="client sid-1 is disconnecting"):
        await ack
    await outbox.close()


async def test_overflow_disconnects() -> None:
    server = FakeServer()
    server.release.clear()  # the client reads nothing
    overflowed: list[bool] = []
    outbox = Outbox(server, "sid-1", on_overflow=lambda: overflowed.append(True), size=4)
    pending = outbox.request("newConsumer", {})
    for index in range(5):
        outbox.notify("consumerScore", {"n": index})
    assert overflowed == [True]
    with pytest.raises(OutboxClosedError):
        await pending
    server.release.set()
    await outbox.wait_sent(1)
    assert server.disconnected == ["sid-1"]
    # At most the message already taken by the sending task went out.
    assert len(server.emitted) <= 1


async def test_engine_backlog_waits() -> None:
    server = FakeServer()
    backlog = [1000]
    outbox = Outbox(server, "sid-1", on_overflow=lambda: None, backlog=lambda: backlog[0])
    outbox.notify("a", {})
    await asyncio.sleep(0.1)
    assert server.emitted == []
    backlog[0] = 0
    await asyncio.sleep(0.1)
    assert server.emitted == [("a", {})]
    await outbox.close()

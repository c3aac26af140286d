"""muteParticipant and removeParticipant, with and without the roomAdmin grant."""

import asyncio

from tests.signaling.conftest import RunningServer, eventually
from tests.signaling.test_flow import publish_audio, wait_consumer

UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def test_mute_participant(running: RunningServer) -> None:
    admin = await running.join("admin", name="Admin", room_admin=True)
    speaker = await running.join("speaker")
    listener = await running.join("listener")
    await listener.ok("createWebRtcTransport", {"direction": "recv"})
    producer_id = await publish_audio(speaker)
    offer = await listener.wait_for("newConsumer")
    await wait_consumer(listener, offer["id"], lambda consumer: not consumer["paused"])
    admin_id = admin.joined["peerId"]
    speaker_id = speaker.joined["peerId"]

    await admin.ok("muteParticipant", {"peerId": speaker_id, "producerId": producer_id})
    muted = await speaker.wait_for("producerMuted")
    assert muted == {"producerId": producer_id, "by": {"peerId": admin_id, "name": "Admin"}}
    assert await listener.wait_for("consumerPaused") == {"consumerId": offer["id"]}
    stats = await speaker.ok("getStats")
    assert stats["producers"][0]["paused"] is True


async def test_mute_needs_admin(running: RunningServer) -> None:
    speaker = await running.join("speaker")
    producer_id = await publish_audio(speaker)
    other = await running.join("other")
    error = await other.error(
        "muteParticipant",
        {"peerId": speaker.joined["peerId"], "producerId": producer_id},
    )
    assert error == {"code": "forbidden", "message": "the token does not grant roomAdmin"}
    await asyncio.sleep(0.1)
    assert speaker.received("producerMuted") == []
    stats = await speaker.ok("getStats")
    assert stats["producers"][0]["paused"] is False


async def test_mute_unknown(running: RunningServer) -> None:
    admin = await running.join("admin", room_admin=True)
    speaker = await running.join("speaker")
    await publish_audio(speaker)
    speaker_id = speaker.joined["peerId"]
    error = await admin.error("muteParticipant", {"peerId": UNKNOWN, "producerId": UNKNOWN})
    assert error == {"code": "not_found", "message": f"peer {UNKNOWN!r} not found in this room"}
    error = await admin.error("muteParticipant", {"peerId": speaker_id, "producerId": UNKNOWN})
    assert error == {"code": "not_found", "message": f"producer {UNKNOWN!r} not found"}


async def test_remove_participant(running: RunningServer) -> None:
    admin = await running.join("admin", name="Admin", room_admin=True)
    target = await running.join("target")
    watcher = await running.join("watcher")
    await publish_audio(target)
    target_id = target.joined["peerId"]
    admin_id = admin.joined["peerId"]

    await admin.ok("removeParticipant", {"peerId": target_id})
    removed = await target.wait_for("removed")
    assert removed == {"by": {"peerId": admin_id, "name": "Admin"}}
    await asyncio.wait_for(target.disconnected.wait(), 5)
    assert await watcher.wait_for("peerLeft") == {"peerId": target_id}
    assert await admin.wait_for("peerLeft") == {"peerId": target_id}

    async def target_gone() -> bool:
        return await running.metric("pysfu_peers") == 2

    await eventually(target_gone)
    assert await running.metric('pysfu_producers{kind="audio"}') == 0


async def test_remove_needs_admin(running: RunningServer) -> None:
    target = await running.join("target")
    other = await running.join("other")
    error = await other.error("removeParticipant", {"peerId": target.joined["peerId"]})
    assert error == {"code": "forbidden", "message": "the token does not grant roomAdmin"}
    assert target.received("removed") == []
    assert (await target.ok("chatMessage", {"text": "still here"}))["id"]


async def test_remove_unknown(running: RunningServer) -> None:
    admin = await running.join("admin", room_admin=True)
    error = await admin.error("removeParticipant", {"peerId": UNKNOWN})
    assert error == {"code": "not_found", "message": f"peer {UNKNOWN!r} not found in this room"}

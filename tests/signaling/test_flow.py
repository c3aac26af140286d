"""The room protocol between real clients and a real server and worker, without media."""

import asyncio
import time
from typing import Any

from tests.media_parameters import opus_producer_parameters, vp8_simulcast_producer_parameters
from tests.signaling.client import RoomClient
from tests.signaling.conftest import RECV_CAPABILITIES, RunningServer, eventually

DTLS_PARAMETERS = {
    "role": "client",
    "fingerprints": [{"algorithm": "sha-256", "value": "AB:" * 31 + "CD"}],
}


async def publish_audio(client: RoomClient, source: str = "microphone") -> str:
    transport = await client.ok("createWebRtcTransport", {"direction": "send"})
    answer = await client.ok(
        "produce",
        {
            "transportId": transport["id"],
            "kind": "audio",
            "rtpParameters": opus_producer_parameters(),
            "source": source,
            "appData": {"label": "mic"},
        },
    )
    producer_id: str = answer["id"]
    return producer_id


async def test_join_answer(running: RunningServer) -> None:
    bob = await running.join("bob", name="Bob")
    alice = await running.connect("alice", name="Alice", room_admin=True)
    caps = await alice.ok("getRouterRtpCapabilities")
    mime_types = [codec["mimeType"] for codec in caps["rtpCapabilities"]["codecs"]]
    assert mime_types == [
        "audio/opus",
        "video/VP8",
        "video/rtx",
        "video/VP9",
        "video/rtx",
        "video/H264",
        "video/rtx",
        "video/H264",
        "video/rtx",
    ]
    profiles = [
        codec["parameters"]["profile-level-id"]
        for codec in caps["rtpCapabilities"]["codecs"]
        if codec["mimeType"] == "video/H264"
    ]
    assert profiles == ["42e01f", "4d0032"]

    joined = await alice.ok("join", {"rtpCapabilities": RECV_CAPABILITIES})
    assert joined["roomId"] == "room-1"
    assert joined["identity"] == "alice"
    assert joined["name"] == "Alice"
    assert joined["permissions"] == {
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canPublishSources": [],
        "roomAdmin": True,
        "hidden": False,
    }
    assert len(joined["peers"]) == 1
    assert joined["peers"][0]["identity"] == "bob"
    assert joined["peers"][0]["name"] == "Bob"
    assert joined["peers"][0]["producers"] == []
    seen = await bob.wait_for("peerJoined")
    assert seen == {"id": joined["peerId"], "identity": "alice", "name": "Alice", "metadata": ""}


async def test_display_name_without_token_name(running: RunningServer) -> None:
    client = await running.connect("carol")
    joined = await client.ok("join", {"rtpCapabilities": RECV_CAPABILITIES, "displayName": "C"})
    assert joined["name"] == "C"


async def test_token_name_wins(running: RunningServer) -> None:
    client = await running.connect("dana", name="Dana")
    joined = await client.ok("join", {"rtpCapabilities": RECV_CAPABILITIES, "displayName": "D"})
    assert joined["name"] == "Dana"


async def test_join_twice(running: RunningServer) -> None:
    client = await running.join()
    error = await client.error("join", {"rtpCapabilities": RECV_CAPABILITIES})
    assert error == {"code": "already_joined", "message": "already joined room 'room-1'"}


async def test_transport_answer(running: RunningServer) -> None:
    client = await running.connect()
    transport = await client.ok("createWebRtcTransport", {"direction": "recv"})
    assert set(transport) == {"id", "iceParameters", "iceCandidates", "dtlsParameters"}
    assert transport["iceParameters"]["iceLite"] is True
    protocols = sorted(candidate["protocol"] for candidate in transport["iceCandidates"])
    assert protocols == ["tcp", "udp"]
    assert {candidate["ip"] for candidate in transport["iceCandidates"]} == {"127.0.0.1"}
    tcp_only = await client.ok("createWebRtcTransport", {"direction": "recv", "forceTcp": True})
    assert [c["protocol"] for c in tcp_only["iceCandidates"]] == ["tcp"]
    await client.ok(
        "connectWebRtcTransport",
        {"transportId": transport["id"], "dtlsParameters": DTLS_PARAMETERS},
    )
    error = await client.error(
        "connectWebRtcTransport",
        {"transportId": transport["id"], "dtlsParameters": DTLS_PARAMETERS},
    )
    assert error["code"] == "invalid_state"
    restarted = await client.ok("restartIce", {"transportId": transport["id"]})
    assert (
        restarted["iceParameters"]["usernameFragment"]
        != (transport["iceParameters"]["usernameFragment"])
    )


async def test_consumer_flow(running: RunningServer) -> None:
    """A producer reaches the other peer paused, the ack resumes it, and its close is notified."""
    alice = await running.join("alice")
    bob = await running.connect("bob")
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    producer_id = await publish_audio(alice)
    # Bob joins after the producer exists, so newConsumer follows his join response.
    joined = await bob.ok("join", {"rtpCapabilities": RECV_CAPABILITIES})
    assert joined["peers"][0]["producers"] == [
        {"id": producer_id, "kind": "audio", "source": "microphone", "paused": False}
    ]
    offer = await bob.wait_for("newConsumer")
    assert offer["producerId"] == producer_id
    assert offer["peerId"] == joined["peers"][0]["id"]
    assert offer["kind"] == "audio"
    assert offer["type"] == "simple"
    assert offer["producerPaused"] is False
    assert offer["appData"] == {
        "label": "mic",
        "source": "microphone",
        "peerId": joined["peers"][0]["id"],
    }
    assert offer["rtpParameters"]["codecs"][0]["mimeType"] == "audio/opus"
    assert offer["rtpParameters"]["mid"] == "0"

    consumer = await wait_consumer(bob, offer["id"], lambda c: c["paused"] is False)
    assert consumer["producerPaused"] is False
    assert await running.metric('pysfu_consumers{kind="audio"}') == 1
    assert await running.metric('pysfu_producers{kind="audio"}') == 1

    await alice.ok("pauseProducer", {"producerId": producer_id})
    assert await bob.wait_for("consumerPaused") == {"consumerId": offer["id"]}
    await alice.ok("resumeProducer", {"producerId": producer_id})
    assert await bob.wait_for("consumerResumed") == {"consumerId": offer["id"]}
    await alice.ok("closeProducer", {"producerId": producer_id})
    assert await bob.wait_for("consumerClosed") == {"consumerId": offer["id"]}
    stats = await bob.ok("getStats")
    assert stats["consumers"] == []


async def wait_consumer(client: RoomClient, consumer_id: str, check: Any) -> dict[str, Any]:
    """Poll getStats until the consumer exists and `check` accepts it."""
    async with asyncio.timeout(5):
        while True:
            stats = await client.ok("getStats")
            for consumer in stats["consumers"]:
                if consumer["id"] == consumer_id and check(consumer):
                    result: dict[str, Any] = consumer
                    return result
            await asyncio.sleep(0.05)


async def test_new_producer_reaches_joined_peer(running: RunningServer) -> None:
    alice = await running.join("alice")
    bob = await running.join("bob")
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    send = await alice.ok("createWebRtcTransport", {"direction": "send"})
    answer = await alice.ok(
        "produce",
        {
            "transportId": send["id"],
            "kind": "video",
            "rtpParameters": vp8_simulcast_producer_parameters(),
            "source": "camera",
        },
    )
    offer = await bob.wait_for("newConsumer")
    assert offer["producerId"] == answer["id"]
    assert offer["type"] == "simulcast"
    assert offer["appData"]["source"] == "camera"
    await wait_consumer(bob, offer["id"], lambda c: c["paused"] is False)


async def test_recv_transport_after_join(running: RunningServer) -> None:
    alice = await running.join("alice")
    producer_id = await publish_audio(alice)
    bob = await running.join("bob")
    await asyncio.sleep(0.2)
    assert bob.received("newConsumer") == []
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    offer = await bob.wait_for("newConsumer")
    assert offer["producerId"] == producer_id
    # A second receive transport does not consume the same producer again.
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    await asyncio.sleep(0.2)
    assert len(bob.received("newConsumer")) == 1


async def test_unacknowledged_consumer_closed(running: RunningServer) -> None:
    alice = await running.join("alice")
    bob = await running.join("bob")
    never = asyncio.Event()

    async def no_ack(data: dict[str, Any]) -> Any:
        await never.wait()

    bob.on_new_consumer = no_ack
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    await publish_audio(alice)
    offer = await bob.wait_for("newConsumer")
    # The fixture's ack timeout is 1 s.
    closed = await bob.wait_for("consumerClosed", timeout=3)
    assert closed == {"consumerId": offer["id"]}
    assert await running.metric("pysfu_consumer_ack_timeouts_total") == 1
    never.set()


async def test_rejected_consumer_closed(running: RunningServer) -> None:
    alice = await running.join("alice")
    bob = await running.join("bob")

    async def reject(data: dict[str, Any]) -> Any:
        return {"error": {"code": "unsupported", "message": "no decoder"}}

    bob.on_new_consumer = reject
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    await publish_audio(alice)
    offer = await bob.wait_for("newConsumer")
    assert await bob.wait_for("consumerClosed") == {"consumerId": offer["id"]}


async def test_chat_message(running: RunningServer) -> None:
    alice = await running.join("alice", name="Alice")
    bob = await running.join("bob")
    before = int(time.time() * 1000)
    answer = await alice.ok("chatMessage", {"text": "  hello  "})
    after = int(time.time() * 1000)
    assert before <= answer["timestamp"] <= after
    for client in (alice, bob):
        message = await client.wait_for("chatMessage")
        assert message["id"] == answer["id"]
        assert message["identity"] == "alice"
        assert message["name"] == "Alice"
        assert message["text"] == "hello"
        assert message["timestamp"] == answer["timestamp"]


async def test_chat_limits(running: RunningServer) -> None:
    alice = await running.join("alice")
    error = await alice.error("chatMessage", {"text": "   "})
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith("invalid text: '   ' (expected a string of 1..2000")
    error = await alice.error("chatMessage", {"text": "x" * 2001})
    assert error["code"] == "invalid_payload"
    answers = [await alice.request("chatMessage", {"text": "spam"}) for _ in range(12)]
    codes = [answer["error"]["code"] for answer in answers if "error" in answer]
    assert codes == ["rate_limited", "rate_limited"]


async def test_chat_needs_grant(running: RunningServer) -> None:
    client = await running.join("mute", can_publish_data=False)
    error = await client.error("chatMessage", {"text": "hi"})
    assert error == {"code": "forbidden", "message": "the token does not grant canPublishData"}


async def test_leave(running: RunningServer) -> None:
    alice = await running.join("alice")
    bob = await running.join("bob")
    await publish_audio(alice)
    assert await running.metric("pysfu_peers") == 2
    await running.join("carol")
    answer = await alice.request("leave", {})
    assert answer == {"data": {}}
    left = await bob.wait_for("peerLeft")
    assert set(left) == {"peerId"}
    await asyncio.wait_for(alice.disconnected.wait(), 5)
    assert await running.metric("pysfu_peers") == 2  # bob and carol
    assert await running.metric('pysfu_producers{kind="audio"}') == 0


async def test_disconnect_cleans_up(running: RunningServer) -> None:
    alice = await running.join("alice")
    bob = await running.join("bob")
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    await publish_audio(alice)
    offer = await bob.wait_for("newConsumer")
    await alice.close()
    assert await bob.wait_for("consumerClosed") == {"consumerId": offer["id"]}
    await bob.wait_for("peerLeft")
    assert await running.metric("pysfu_peers") == 1
    await bob.close()

    async def room_closed() -> bool:
        return await running.metric("pysfu_rooms") == 0

    await eventually(room_closed)


async def test_source_rules(running: RunningServer) -> None:
    client = await running.join("alice", can_publish_sources=("camera",))
    transport = await client.ok("createWebRtcTransport", {"direction": "send"})
    payload = {
        "transportId": transport["id"],
        "kind": "audio",
        "rtpParameters": opus_producer_parameters(),
        "source": "microphone",
    }
    error = await client.error("produce", payload)
    assert error == {
        "code": "forbidden",
        "message": "the token does not allow publishing source 'microphone' (allowed: camera)",
    }
    error = await client.error("produce", {**payload, "source": "camera"})
    assert error == {
        "code": "invalid_payload",
        "message": "invalid source: 'camera' (expected a source of kind 'audio')",
    }


async def test_publish_needs_grant(running: RunningServer) -> None:
    client = await running.join("viewer", can_publish=False)
    error = await client.error("createWebRtcTransport", {"direction": "send"})
    assert error == {"code": "forbidden", "message": "the token does not grant canPublish"}


async def test_hidden_peer(running: RunningServer) -> None:
    alice = await running.join("alice")
    ghost = await running.join("ghost", hidden=True)
    await asyncio.sleep(0.1)
    assert alice.received("peerJoined") == []
    joined = await running.join("bob")
    assert joined.received("peerJoined") == []
    bob_join = await (await running.connect("dave")).ok(
        "join", {"rtpCapabilities": RECV_CAPABILITIES}
    )
    assert {peer["identity"] for peer in bob_join["peers"]} == {"alice", "bob"}
    error = await ghost.error(
        "produce",
        {
            "transportId": "x",
            "kind": "audio",
            "rtpParameters": opus_producer_parameters(),
            "source": "microphone",
        },
    )
    assert error == {"code": "forbidden", "message": "hidden peers cannot publish"}

"""Requests in the wrong order, for unknown ids, with malformed or oversized payloads."""

import asyncio
from typing import Any

from tests.media_parameters import opus_producer_parameters
from tests.signaling.client import RoomClient
from tests.signaling.conftest import RECV_CAPABILITIES, RunningServer, eventually
from tests.signaling.test_flow import DTLS_PARAMETERS, publish_audio

UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def test_produce_before_join(running: RunningServer) -> None:
    client = await running.connect()
    transport = await client.ok("createWebRtcTransport", {"direction": "send"})
    error = await client.error(
        "produce",
        {
            "transportId": transport["id"],
            "kind": "audio",
            "rtpParameters": opus_producer_parameters(),
            "source": "microphone",
        },
    )
    assert error == {"code": "not_joined", "message": "join the room first"}


async def test_connect_before_create(running: RunningServer) -> None:
    client = await running.join()
    error = await client.error(
        "connectWebRtcTransport", {"transportId": UNKNOWN, "dtlsParameters": DTLS_PARAMETERS}
    )
    assert error == {"code": "not_found", "message": f"transport {UNKNOWN!r} not found"}


UNKNOWN_ID_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("restartIce", {"transportId": UNKNOWN}, f"transport {UNKNOWN!r} not found"),
    ("closeProducer", {"producerId": UNKNOWN}, f"producer {UNKNOWN!r} not found"),
    ("pauseProducer", {"producerId": UNKNOWN}, f"producer {UNKNOWN!r} not found"),
    ("resumeConsumer", {"consumerId": UNKNOWN}, f"consumer {UNKNOWN!r} not found"),
    (
        "setConsumerPreferredLayers",
        {"consumerId": UNKNOWN, "spatialLayer": 1},
        f"consumer {UNKNOWN!r} not found",
    ),
]


async def test_unknown_ids(running: RunningServer) -> None:
    client = await running.join()
    for name, payload, message in UNKNOWN_ID_CASES:
        error = await client.error(name, payload)
        assert error == {"code": "not_found", "message": message}, name


async def test_other_peers_producer(running: RunningServer) -> None:
    """A peer may close only its own producers."""
    alice = await running.join("alice")
    producer_id = await publish_audio(alice)
    bob = await running.join("bob")
    error = await bob.error("closeProducer", {"producerId": producer_id})
    assert error == {"code": "not_found", "message": f"producer {producer_id!r} not found"}


async def test_produce_on_recv_transport(running: RunningServer) -> None:
    client = await running.join()
    transport = await client.ok("createWebRtcTransport", {"direction": "recv"})
    error = await client.error(
        "produce",
        {
            "transportId": transport["id"],
            "kind": "audio",
            "rtpParameters": opus_producer_parameters(),
            "source": "microphone",
        },
    )
    assert error == {
        "code": "invalid_payload",
        "message": f"invalid transportId: {transport['id']!r} (expected a send transport)",
    }


async def test_unsupported_codec(running: RunningServer) -> None:
    client = await running.join()
    transport = await client.ok("createWebRtcTransport", {"direction": "send"})
    parameters = opus_producer_parameters()
    parameters["codecs"][0]["mimeType"] = "audio/G729"
    parameters["codecs"][0]["clockRate"] = 8000
    del parameters["codecs"][0]["channels"]
    error = await client.error(
        "produce",
        {
            "transportId": transport["id"],
            "kind": "audio",
            "rtpParameters": parameters,
            "source": "microphone",
        },
    )
    assert error["code"] == "unsupported"


async def test_transport_limit(running: RunningServer) -> None:
    client = await running.connect()
    for _ in range(4):
        await client.ok("createWebRtcTransport", {"direction": "recv"})
    error = await client.error("createWebRtcTransport", {"direction": "recv"})
    assert error == {"code": "forbidden", "message": "a peer may open at most 4 transports"}


MALFORMED_CASES: list[tuple[str, Any, str]] = [
    ("join", [1, 2], "invalid payload: list (expected an object)"),
    ("join", "hello", "invalid payload: str (expected an object)"),
    ("leave", 7, "invalid payload: int (expected an object)"),
    ("getStats", None, "invalid payload: null (expected an object)"),
    ("join", {}, "missing rtpCapabilities (expected the device's receive RTP capabilities)"),
    (
        "join",
        {"rtpCapabilities": {"codecs": "all"}},
        "invalid rtpCapabilities.codecs: 'all' (expected a list)",
    ),
    (
        "join",
        {"rtpCapabilities": RECV_CAPABILITIES, "displayName": "x" * 5000},
        "invalid displayName: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... "
        "(expected a string of 1..128 characters)",
    ),
    (
        "createWebRtcTransport",
        {"direction": 5},
        "invalid direction: 5 (expected one of 'send', 'recv')",
    ),
    (
        "createWebRtcTransport",
        {"direction": "send", "forceTcp": "yes"},
        "invalid forceTcp: 'yes' (expected true or false)",
    ),
    (
        "connectWebRtcTransport",
        {"transportId": UNKNOWN},
        "missing dtlsParameters (expected an object with role and fingerprints)",
    ),
    (
        "connectWebRtcTransport",
        {"transportId": UNKNOWN, "dtlsParameters": {"fingerprints": [{"algorithm": 1}]}},
        "invalid dtlsParameters.fingerprints[0].algorithm: 1 "
        "(expected a string of 1..16 characters)",
    ),
    (
        "restartIce",
        {"transportId": "t" * 65},
        "invalid transportId: 'tttttttttttttttttttttttttttttttttttttttttttttttttttttttt... "
        "(expected a string of 1..64 characters)",
    ),
    (
        "closeProducer",
        {"producerId": ["a"]},
        "invalid producerId: ['a'] (expected a string of 1..64 characters)",
    ),
    (
        "produce",
        {"transportId": UNKNOWN, "kind": "data", "source": "camera"},
        "invalid kind: 'data' (expected one of 'audio', 'video')",
    ),
    (
        "produce",
        {"transportId": UNKNOWN, "kind": "video", "source": "camera"},
        "missing rtpParameters (expected the RTP parameters of the sender)",
    ),
    (
        "produce",
        {
            "transportId": UNKNOWN,
            "kind": "audio",
            "source": "microphone",
            "rtpParameters": {"codecs": [{"mimeType": 5}]},
        },
        "missing rtpParameters.codecs[0].payloadType (expected an integer in 0..127)",
    ),
    (
        "setConsumerPreferredLayers",
        {"consumerId": UNKNOWN, "spatialLayer": -1},
        "invalid spatialLayer: -1 (expected an integer in 0..15)",
    ),
    (
        "chatMessage",
        {"text": "y" * 10000},
        "invalid text: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy... "
        "(expected a string of 1..2000 characters after stripping spaces)",
    ),
    (
        "muteParticipant",
        {"peerId": UNKNOWN},
        "missing producerId (expected a string of 1..64 characters)",
    ),
]


async def test_malformed_payload(running: RunningServer) -> None:
    client = await running.connect()
    for name, payload, message in MALFORMED_CASES:
        answer = await client.request(name, payload)
        assert answer == {"error": {"code": "invalid_payload", "message": message}}, name


async def test_payload_argument_count(running: RunningServer) -> None:
    client = await running.connect()
    expected = "invalid payload: {} arguments (expected one object)"
    answer = await client.request("getStats")
    assert answer["error"] == {"code": "invalid_payload", "message": expected.format(0)}
    answer = await client.request("getStats", {}, {})
    assert answer["error"] == {"code": "invalid_payload", "message": expected.format(2)}


async def test_unknown_request(running: RunningServer) -> None:
    client = await running.connect()
    answer = await client.request("selfDestruct", {})
    assert answer == {"error": {"code": "unsupported", "message": "unknown request 'selfDestruct'"}}


async def test_payload_too_large(running: RunningServer) -> None:
    client = await running.join()
    answer = await client.request("chatMessage", {"text": "hi", "padding": "p" * 40000})
    assert answer["error"]["code"] == "payload_too_large"
    assert answer["error"]["message"] == ("the payload is 40029 bytes encoded, more than 32768")


async def test_oversized_message_dropped(running: RunningServer) -> None:
    """A message over the engine limit (64 KiB) ends the connection, not the server."""
    client = await running.join()
    await client.sio.emit("chatMessage", {"text": "z" * 100_000})
    await asyncio.wait_for(client.disconnected.wait(), 5)
    status, _ = await running.get("/healthz")
    assert status == 200
    other = await running.join("bob")
    assert (await other.ok("chatMessage", {"text": "still here"}))["id"]


async def test_requests_run_in_order(running: RunningServer) -> None:
    alice = await running.join("alice")
    bob = await running.join("bob")
    await bob.ok("createWebRtcTransport", {"direction": "recv"})
    producer_id = await publish_audio(alice)
    await bob.wait_for("newConsumer")
    names = ["pauseProducer", "resumeProducer"] * 5 + ["pauseProducer"]
    answers = await asyncio.gather(
        *(alice.request(name, {"producerId": producer_id}) for name in names)
    )
    assert answers == [{"data": {}}] * len(names)
    stats = await alice.ok("getStats")
    assert stats["producers"][0]["paused"] is True
    await bob.wait_for("consumerPaused")

    async def all_arrived() -> bool:
        return len(consumer_events(bob)) >= len(names)

    await eventually(all_arrived)
    assert consumer_events(bob) == ["consumerPaused", "consumerResumed"] * 5 + ["consumerPaused"]


def consumer_events(client: RoomClient) -> list[str]:
    return [name for name, _ in client.events if name in ("consumerPaused", "consumerResumed")]


async def test_pending_requests_bounded(running: RunningServer) -> None:
    client = await running.connect()
    transport = await client.ok("createWebRtcTransport", {"direction": "recv"})
    answers = await asyncio.gather(
        *(client.request("restartIce", {"transportId": transport["id"]}) for _ in range(80))
    )
    codes = [answer["error"]["code"] for answer in answers if "error" in answer]
    assert codes, "no request was rejected"
    assert set(codes) == {"rate_limited"}
    assert sum("data" in answer for answer in answers) >= 32

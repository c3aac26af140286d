"""Thousands of random payloads, from a seeded generator, sent to every request event."""

import copy
import json
import random
from typing import Any

from tests.media_parameters import vp8_simulcast_producer_parameters
from tests.signaling.client import RoomClient
from tests.signaling.conftest import RECV_CAPABILITIES, RunningServer
from tests.signaling.test_flow import DTLS_PARAMETERS, publish_audio

SEED = 20240601
# Larger messages make the engine close the connection, which another test covers.
MAX_ENCODED_PAYLOAD = 60000
PAYLOADS_PER_EVENT = 120
ERROR_CODES = {
    "invalid_payload",
    "not_joined",
    "already_joined",
    "not_found",
    "forbidden",
    "unsupported",
    "invalid_state",
    "payload_too_large",
    "rate_limited",
}
# Keys that requests read, so that random objects often reach the deeper checks.
FIELDS = (
    "rtpCapabilities",
    "displayName",
    "direction",
    "forceTcp",
    "transportId",
    "dtlsParameters",
    "kind",
    "rtpParameters",
    "source",
    "appData",
    "producerId",
    "consumerId",
    "spatialLayer",
    "temporalLayer",
    "text",
    "peerId",
    "codecs",
    "headerExtensions",
    "encodings",
    "fingerprints",
    "mimeType",
    "clockRate",
    "payloadType",
    "parameters",
)
WORDS = ("send", "recv", "audio", "video", "camera", "microphone", "screen", "auto", "", " ")


class PayloadGenerator:
    """Random JSON values biased towards the shapes the protocol expects."""

    def __init__(
        self, seed: int, known_ids: list[str], templates: dict[str, dict[str, Any]]
    ) -> None:
        self.random = random.Random(seed)
        self.known_ids = known_ids
        self.templates = templates

    def value(self, depth: int = 0) -> Any:
        choice = self.random.randrange(12 if depth < 3 else 8)
        if choice == 0:
            return None
        if choice == 1:
            return self.random.choice([True, False])
        if choice == 2:
            return self.random.choice([0, -1, 1, 2**31, -(2**63), 10**30, 127, 255])
        if choice == 3:
            return self.random.choice([0.5, -1e308, 1e308, 3.0])
        if choice == 4:
            return self.random.choice(WORDS)
        if choice == 5:
            return self.text()
        if choice == 6:
            return self.random.choice(self.known_ids) if self.known_ids else "id"
        if choice == 7:
            return "\u0000\ud7ff\u202e" * self.random.randrange(1, 50)
        if choice in (8, 9):
            return self.object(depth + 1)
        return [self.value(depth + 1) for _ in range(self.random.randrange(5))]

    def text(self) -> str:
        length = self.random.choice([0, 1, 10, 100, 2500])
        return "".join(chr(self.random.randrange(32, 0x2FFF)) for _ in range(length))

    def object(self, depth: int = 0) -> dict[str, Any]:
        keys = self.random.sample(FIELDS, self.random.randrange(6))
        return {key: self.value(depth) for key in keys}

    def mutate(self, template: Any) -> Any:
        """Return a copy of `template` with one value, at a random depth, replaced or removed."""
        result = copy.deepcopy(template)
        parent: Any = None
        key: Any = None
        node = result
        while isinstance(node, dict | list) and node and self.random.random() < 0.8:
            parent = node
            key = self.random.choice(list(node) if isinstance(node, dict) else range(len(node)))
            node = node[key]
        if parent is None:
            return self.value(1)
        if isinstance(parent, dict) and self.random.random() < 0.3:
            del parent[key]
        else:
            parent[key] = self.value(1)
        return result

    def payload(self, name: str) -> Any:
        """Return a random payload that fits in one socket.io message of the test server."""
        while True:
            roll = self.random.random()
            if roll < 0.1:
                payload = self.value(2)
            elif roll < 0.5 or name not in self.templates:
                payload = self.object()
            else:
                payload = self.mutate(self.templates[name])
            if len(json.dumps(payload)) <= MAX_ENCODED_PAYLOAD:
                return payload


def request_templates(
    send_id: str, recv_id: str, producer_id: str, consumer_id: str, peer_id: str
) -> dict[str, dict[str, Any]]:
    """Return a valid payload of each request, for the generator to mutate."""
    return {
        "join": {"rtpCapabilities": RECV_CAPABILITIES, "displayName": "fuzz"},
        "createWebRtcTransport": {"direction": "recv", "forceTcp": False},
        "connectWebRtcTransport": {"transportId": recv_id, "dtlsParameters": DTLS_PARAMETERS},
        "restartIce": {"transportId": recv_id},
        "produce": {
            "transportId": send_id,
            "kind": "video",
            "rtpParameters": vp8_simulcast_producer_parameters(),
            "source": "camera",
            "appData": {"label": "fuzz"},
        },
        "closeProducer": {"producerId": producer_id},
        "pauseProducer": {"producerId": producer_id},
        "resumeProducer": {"producerId": producer_id},
        "pauseConsumer": {"consumerId": consumer_id},
        "resumeConsumer": {"consumerId": consumer_id},
        "setConsumerPreferredLayers": {
            "consumerId": consumer_id,
            "spatialLayer": 1,
            "temporalLayer": 0,
        },
        "chatMessage": {"text": "fuzz"},
        "muteParticipant": {"peerId": peer_id, "producerId": producer_id},
        "removeParticipant": {"peerId": peer_id},
    }


def check_answer(name: str, payload: Any, answer: Any) -> None:
    assert isinstance(answer, dict), (name, payload, answer)
    assert len(answer) == 1, (name, payload, answer)
    if "data" in answer:
        assert isinstance(answer["data"], dict), (name, payload, answer)
        return
    error = answer["error"]
    assert error["code"] in ERROR_CODES, (name, payload, answer)
    assert isinstance(error["message"], str) and error["message"], (name, payload, answer)


async def fuzz(client: RoomClient, names: list[str], generator: PayloadGenerator) -> int:
    sent = 0
    for name in names:
        for _ in range(PAYLOADS_PER_EVENT):
            payload = generator.payload(name)
            if name == "leave" and isinstance(payload, dict):
                # A valid leave would end the fuzzed session.
                payload = [payload]
            answer = await client.request(name, payload)
            check_answer(name, payload, answer)
            sent += 1
    return sent


async def test_fuzz_every_request(running: RunningServer) -> None:
    names = running.server.protocol.request_names
    assert len(names) == 17
    outsider = await running.connect("outsider")
    member = await running.join("member", room_admin=True)
    publisher = await running.join("publisher")
    producer_id = await publish_audio(publisher)
    transport = await member.ok("createWebRtcTransport", {"direction": "recv"})
    send = await member.ok("createWebRtcTransport", {"direction": "send"})
    consumer_id = (await member.wait_for("newConsumer"))["id"]
    publisher_id = publisher.joined["peerId"]
    known_ids = [producer_id, transport["id"], send["id"], consumer_id, publisher_id]
    templates = request_templates(
        send["id"], transport["id"], producer_id, consumer_id, publisher_id
    )

    sent = await fuzz(outsider, names, PayloadGenerator(SEED, known_ids, templates))
    sent += await fuzz(member, names, PayloadGenerator(SEED + 1, known_ids, templates))
    assert sent == 2 * 17 * PAYLOADS_PER_EVENT

    status, body = await running.get("/healthz")
    assert status == 200, body
    newcomer = await running.connect("newcomer", room="after-fuzz")
    answer = await newcomer.ok("join", {"rtpCapabilities": RECV_CAPABILITIES})
    assert answer["roomId"] == "after-fuzz"
    assert await publish_audio(newcomer)
    _, metrics = await running.get("/metrics")
    assert 'result="internal"' not in metrics

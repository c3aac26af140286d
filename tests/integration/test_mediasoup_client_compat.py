"""Check sfu.ortc output against the real mediasoup-client 3.24.1 from npm.

tests/node/client_check.mjs loads a mediasoup-client Device (FakeHandler, with the
capabilities of a Chrome-like offer) with router capabilities, produces tracks,
and consumes the consumer parameters that sfu.ortc computes for that device.
It also builds the remote SDP offer that the Chrome handler would apply, because
FakeHandler itself builds no SDP. Setup: `npm ci --prefix tests/node`.

NOTE: mediasoup-client 3.24.1 declares Node.js >= 22 in its package.json, but npm
only warns about it, and these tests also pass on Node.js 20.20.
"""

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sfu import ortc

pytestmark = pytest.mark.timeout(60)

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
CLIENT_CHECK_SCRIPT = NODE_DIR / "client_check.mjs"
SETUP_HINT = "run `npm ci --prefix tests/node` from the repository root"
CLIENT_TIMEOUT_SECONDS = 20

Json = dict[str, Any]

OPUS: Json = {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}
VP8: Json = {
    "kind": "video",
    "mimeType": "video/VP8",
    "clockRate": 90000,
    "parameters": {"x-google-start-bitrate": 1000},
}
VP9_PROFILE_2: Json = {
    "kind": "video",
    "mimeType": "video/VP9",
    "clockRate": 90000,
    "parameters": {"profile-id": 2, "x-google-start-bitrate": 1000},
}
H264_MAIN: Json = {
    "kind": "video",
    "mimeType": "video/h264",
    "clockRate": 90000,
    "parameters": {
        "packetization-mode": 1,
        "profile-level-id": "4d0032",
        "level-asymmetry-allowed": 1,
        "x-google-start-bitrate": 1000,
    },
}
H264_CONSTRAINED_BASELINE: Json = {
    "kind": "video",
    "mimeType": "video/h264",
    "clockRate": 90000,
    "parameters": {
        "packetization-mode": 1,
        "profile-level-id": "42e01f",
        "level-asymmetry-allowed": 1,
        "x-google-start-bitrate": 1000,
    },
}

# The mediaCodecs of the mediasoup demo server.
DEMO_CODECS: list[Json] = [OPUS, VP8, VP9_PROFILE_2, H264_MAIN, H264_CONSTRAINED_BASELINE]

AUDIO_TRACK: Json = {"kind": "audio", "codecOptions": {"opusStereo": True, "opusDtx": True}}
VP8_TRACK: Json = {"kind": "video", "codecMimeType": "video/VP8"}
VP8_SIMULCAST_TRACK: Json = {
    "kind": "video",
    "codecMimeType": "video/VP8",
    "encodings": [
        {"scaleResolutionDownBy": 4, "maxBitrate": 500000, "scalabilityMode": "L1T3"},
        {"scaleResolutionDownBy": 2, "maxBitrate": 1000000, "scalabilityMode": "L1T3"},
        {"scaleResolutionDownBy": 1, "maxBitrate": 5000000, "scalabilityMode": "L1T3"},
    ],
}
VP9_SVC_TRACK: Json = {
    "kind": "video",
    "codecMimeType": "video/VP9",
    "encodings": [{"scalabilityMode": "L3T3_KEY", "maxBitrate": 5000000}],
}
# Chrome's H264 entries that match the demo's router entries, after the client
# wrote the negotiated profile-level-id into them.
H264_MAIN_TRACK: Json = {
    "kind": "video",
    "codecMimeType": "video/H264",
    "codecParameters": {"profile-level-id": "4d001f"},
}
H264_CONSTRAINED_BASELINE_TRACK: Json = {
    "kind": "video",
    "codecMimeType": "video/H264",
    "codecParameters": {"profile-level-id": "42e01f"},
}

# name: (router mediaCodecs, native capabilities of the device, tracks to produce)
SCENARIOS: dict[str, tuple[list[Json], str, list[Json]]] = {
    "demo": (
        DEMO_CODECS,
        "chrome",
        [
            AUDIO_TRACK,
            VP8_TRACK,
            VP8_SIMULCAST_TRACK,
            VP9_SVC_TRACK,
            H264_MAIN_TRACK,
            H264_CONSTRAINED_BASELINE_TRACK,
        ],
    ),
    "audio_only": ([OPUS], "chrome", [AUDIO_TRACK]),
    "h264_only": (
        [H264_CONSTRAINED_BASELINE, H264_MAIN],
        "chrome",
        [H264_CONSTRAINED_BASELINE_TRACK, H264_MAIN_TRACK],
    ),
    "opus_h264": (
        [OPUS, H264_CONSTRAINED_BASELINE],
        "chrome",
        [AUDIO_TRACK, {"kind": "video"}],
    ),
    "demo_library_device": (DEMO_CODECS, "library", [{"kind": "audio"}, VP8_SIMULCAST_TRACK]),
}

# Hand-written router capabilities and consumer parameters in the shapes that a
# mediasoup server sends, independent of sfu.ortc, for the checks that prove the
# harness rejects bad input.
LITERAL_ROUTER_CAPS: Json = {
    "codecs": [
        {
            "kind": "audio",
            "mimeType": "audio/opus",
            "preferredPayloadType": 100,
            "clockRate": 48000,
            "channels": 2,
            "parameters": {},
            "rtcpFeedback": [{"type": "nack", "parameter": ""}, {"type": "transport-cc"}],
        },
        {
            "kind": "video",
            "mimeType": "video/VP8",
            "preferredPayloadType": 101,
            "clockRate": 90000,
            "parameters": {"x-google-start-bitrate": 1000},
            "rtcpFeedback": [
                {"type": "nack", "parameter": ""},
                {"type": "nack", "parameter": "pli"},
                {"type": "ccm", "parameter": "fir"},
                {"type": "goog-remb", "parameter": ""},
                {"type": "transport-cc", "parameter": ""},
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
            "kind": "video",
            "uri": "urn:ietf:params:rtp-hdrext:sdes:mid",
            "preferredId": 1,
            "preferredEncrypt": False,
            "direction": "sendrecv",
        },
        {
            "kind": "video",
            "uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "preferredId": 5,
            "preferredEncrypt": False,
            "direction": "sendrecv",
        },
    ],
}

LITERAL_VP8_CONSUMER: Json = {
    "id": "consumer-vp8",
    "producerId": "producer-vp8",
    "kind": "video",
    "rtpParameters": {
        "mid": "0",
        "codecs": [
            {
                "mimeType": "video/VP8",
                "payloadType": 101,
                "clockRate": 90000,
                "parameters": {},
                "rtcpFeedback": [
                    {"type": "nack", "parameter": ""},
                    {"type": "nack", "parameter": "pli"},
                    {"type": "ccm", "parameter": "fir"},
                    {"type": "transport-cc", "parameter": ""},
                ],
            },
            {
                "mimeType": "video/rtx",
                "payloadType": 102,
                "clockRate": 90000,
                "parameters": {"apt": 101},
                "rtcpFeedback": [],
            },
        ],
        "headerExtensions": [
            {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1, "encrypt": False},
            {
                "uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                "id": 5,
                "encrypt": False,
            },
        ],
        "encodings": [{"ssrc": 523456789, "rtx": {"ssrc": 523456790}}],
        "rtcp": {"cname": "literalcname", "reducedSize": True},
    },
}


def run_client_check(job: Json) -> Json:
    """Run one job through client_check.mjs and return its result.

    Fails the test, without skipping, when Node.js or the npm packages are missing.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node not found on PATH: install Node.js 20 or later, then {SETUP_HINT}")

    client_package = NODE_DIR / "node_modules" / "mediasoup-client" / "package.json"
    if not client_package.is_file():
        pytest.fail(
            f"mediasoup-client is not installed in {NODE_DIR / 'node_modules'}: {SETUP_HINT}"
        )

    completed = subprocess.run(
        [node, str(CLIENT_CHECK_SCRIPT)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"client_check.mjs exited with {completed.returncode}: {completed.stderr}")

    result: Json = json.loads(completed.stdout)
    return result


def load_and_produce(router_caps: Json, native: str, tracks: list[Json]) -> Json:
    result = run_client_check(
        {"routerRtpCapabilities": router_caps, "nativeRtpCapabilities": native, "produce": tracks}
    )

    assert result["routerCapabilitiesValidation"] == {"ok": True}, json.dumps(router_caps)
    assert result["load"] == {"ok": True}, json.dumps(router_caps)
    for track, produced in zip(tracks, result["produced"], strict=True):
        assert produced["ok"], f"client could not produce {track}: {produced.get('error')}"

    return result


def consume(router_caps: Json, native: str, consumers: list[Json]) -> Json:
    return run_client_check(
        {
            "routerRtpCapabilities": router_caps,
            "nativeRtpCapabilities": native,
            "consumers": consumers,
        }
    )


def make_consumers(
    router_caps: Json,
    produced: list[Json],
    recv_caps: Json,
    *,
    enable_rtx: bool = True,
) -> list[Json]:
    """Map each produced rtpParameters with sfu.ortc into a consumer for recv_caps."""
    consumers = []
    for index, entry in enumerate(produced):
        kind = entry["kind"]
        producer_parameters = ortc.validate_rtp_parameters(entry["rtpParameters"])

        mapping = ortc.get_producer_rtp_parameters_mapping(producer_parameters, router_caps)
        consumable = ortc.get_consumable_rtp_parameters(
            kind, producer_parameters, router_caps, mapping
        )
        assert ortc.can_consume(consumable, recv_caps), json.dumps(consumable)

        consumer_parameters = ortc.get_consumer_rtp_parameters(
            consumable, recv_caps, pipe=False, enable_rtx=enable_rtx
        )
        consumer_parameters["mid"] = str(index)
        consumers.append(
            {
                "id": f"consumer-{index}",
                "producerId": f"producer-{index}",
                "kind": kind,
                "rtpParameters": consumer_parameters,
            }
        )

    return consumers


def assert_all_consumed(consumers: list[Json], result: Json) -> None:
    """Assert that the client validated and consumed every consumer, naming the JSON if not."""
    assert result["load"] == {"ok": True}
    for consumer, outcome in zip(consumers, result["consumers"], strict=True):
        parameters = json.dumps(consumer["rtpParameters"])
        assert outcome["validation"] == {"ok": True}, f"{outcome['validation']}: {parameters}"
        assert outcome["consume"] == {"ok": True}, f"{outcome['consume']}: {parameters}"

    assert result["remoteOffer"]["problems"] == [], result["remoteOffer"]["sdp"]

    offer_lines = result["remoteOffer"]["sdp"].splitlines()
    for consumer in consumers:
        assert f"a=mid:{consumer['rtpParameters']['mid']}" in offer_lines


def assert_matches_recv_caps(consumer_parameters: Json, recv_caps: Json) -> None:
    """Assert that every codec and extension of a consumer is one the device announced."""
    caps_by_payload_type = {codec["preferredPayloadType"]: codec for codec in recv_caps["codecs"]}
    for codec in consumer_parameters["codecs"]:
        cap = caps_by_payload_type.get(codec["payloadType"])
        assert cap is not None, f"payload type {codec['payloadType']} not in recv caps"
        assert cap["mimeType"].lower() == codec["mimeType"].lower()
        assert cap["clockRate"] == codec["clockRate"]
        assert cap.get("channels") == codec.get("channels")
        assert cap["parameters"].get("apt") == codec["parameters"].get("apt")

    cap_extensions = {(ext["uri"], ext["preferredId"]) for ext in recv_caps["headerExtensions"]}
    for ext in consumer_parameters["headerExtensions"]:
        assert (ext["uri"], ext["id"]) in cap_extensions, ext


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_client_consumes_sfu_output(scenario: str) -> None:
    media_codecs, native, tracks = SCENARIOS[scenario]
    router_caps = ortc.generate_router_rtp_capabilities(copy.deepcopy(media_codecs))

    loaded = load_and_produce(router_caps, native, tracks)
    recv_caps = loaded["recvRtpCapabilities"]
    consumers = make_consumers(router_caps, loaded["produced"], recv_caps)
    for consumer in consumers:
        assert_matches_recv_caps(consumer["rtpParameters"], recv_caps)

    consumed = consume(router_caps, native, consumers)

    assert consumed["recvRtpCapabilities"] == recv_caps
    assert_all_consumed(consumers, consumed)


def test_client_receives_producer_features() -> None:
    router_caps = ortc.generate_router_rtp_capabilities(copy.deepcopy(DEMO_CODECS))
    tracks = [AUDIO_TRACK, VP8_SIMULCAST_TRACK, VP9_SVC_TRACK, H264_MAIN_TRACK]

    loaded = load_and_produce(router_caps, "chrome", tracks)
    audio, simulcast, svc, h264 = (
        consumer["rtpParameters"]
        for consumer in make_consumers(
            router_caps, loaded["produced"], loaded["recvRtpCapabilities"]
        )
    )

    # What the Chrome-like device sent: codecOptions in the Opus parameters, and
    # simulcast encodings identified by rid only.
    produced_simulcast = loaded["produced"][1]["rtpParameters"]
    assert [encoding.get("rid") for encoding in produced_simulcast["encodings"]] == [
        "r0",
        "r1",
        "r2",
    ]
    assert [encoding.get("ssrc") for encoding in produced_simulcast["encodings"]] == [None] * 3

    assert audio["codecs"][0]["parameters"]["sprop-stereo"] == 1
    assert audio["codecs"][0]["parameters"]["usedtx"] == 1
    assert simulcast["encodings"][0]["scalabilityMode"] == "L3T3"
    assert simulcast["encodings"][0]["maxBitrate"] == 5000000
    assert svc["encodings"][0]["scalabilityMode"] == "L3T3_KEY"
    assert h264["codecs"][0]["parameters"]["profile-level-id"] == "4d001f"


def test_client_consumes_without_rtx() -> None:
    router_caps = ortc.generate_router_rtp_capabilities(copy.deepcopy(DEMO_CODECS))
    tracks = [AUDIO_TRACK, VP8_TRACK, H264_CONSTRAINED_BASELINE_TRACK]

    loaded = load_and_produce(router_caps, "chrome", tracks)
    consumers = make_consumers(
        router_caps, loaded["produced"], loaded["recvRtpCapabilities"], enable_rtx=False
    )
    for consumer in consumers:
        codecs = consumer["rtpParameters"]["codecs"]
        rtx_codecs = [codec for codec in codecs if codec["mimeType"].lower().endswith("/rtx")]
        assert rtx_codecs == []
        assert "rtx" not in consumer["rtpParameters"]["encodings"][0]

    assert_all_consumed(consumers, consume(router_caps, "chrome", consumers))


def test_client_consumes_producer_of_other_device() -> None:
    router_caps = ortc.generate_router_rtp_capabilities(copy.deepcopy(DEMO_CODECS))
    chrome = load_and_produce(router_caps, "chrome", [AUDIO_TRACK, VP8_TRACK, H264_MAIN_TRACK])
    library = load_and_produce(router_caps, "library", [])
    library_caps = library["recvRtpCapabilities"]

    audio, vp8, h264 = chrome["produced"]
    consumers = make_consumers(router_caps, [audio, vp8], library_caps)
    mapping = ortc.get_producer_rtp_parameters_mapping(h264["rtpParameters"], router_caps)
    h264_consumable = ortc.get_consumable_rtp_parameters(
        "video", h264["rtpParameters"], router_caps, mapping
    )

    assert not ortc.can_consume(h264_consumable, library_caps)
    assert_all_consumed(consumers, consume(router_caps, "library", consumers))


def test_harness_accepts_literal_consumer() -> None:
    result = consume(LITERAL_ROUTER_CAPS, "chrome", [LITERAL_VP8_CONSUMER])

    assert_all_consumed([LITERAL_VP8_CONSUMER], result)


def test_harness_rejects_boolean_codec_parameter() -> None:
    consumer = copy.deepcopy(LITERAL_VP8_CONSUMER)
    consumer["rtpParameters"]["codecs"][0]["parameters"]["usedtx"] = True

    [outcome] = consume(LITERAL_ROUTER_CAPS, "chrome", [consumer])["consumers"]

    error = "TypeError: invalid codec parameter [key:usedtxs, value:true]"
    assert outcome["validation"] == {"ok": False, "error": error}
    assert outcome["consume"] == {"ok": False, "error": error}


def test_harness_rejects_string_apt() -> None:
    consumer = copy.deepcopy(LITERAL_VP8_CONSUMER)
    consumer["rtpParameters"]["codecs"][1]["parameters"]["apt"] = "101"

    [outcome] = consume(LITERAL_ROUTER_CAPS, "chrome", [consumer])["consumers"]

    error = "TypeError: invalid codec apt parameter"
    assert outcome["validation"] == {"ok": False, "error": error}
    assert outcome["consume"] == {"ok": False, "error": error}


def test_harness_rejects_unknown_payload_type() -> None:
    consumer = copy.deepcopy(LITERAL_VP8_CONSUMER)
    consumer["rtpParameters"]["codecs"][0]["payloadType"] = 35
    consumer["rtpParameters"]["codecs"][1]["parameters"]["apt"] = 35

    [outcome] = consume(LITERAL_ROUTER_CAPS, "chrome", [consumer])["consumers"]

    assert outcome["validation"] == {"ok": True}
    assert outcome["consume"] == {
        "ok": False,
        "error": "UnsupportedError: cannot consume this Producer",
    }


def test_harness_rejects_router_caps_boolean_parameter() -> None:
    router_caps = copy.deepcopy(LITERAL_ROUTER_CAPS)
    router_caps["codecs"][0]["parameters"]["useinbandfec"] = True

    result = consume(router_caps, "chrome", [])

    error = "TypeError: invalid codec parameter [key:useinbandfecs, value:true]"
    assert result["routerCapabilitiesValidation"] == {"ok": False, "error": error}
    assert result["load"] == {"ok": False, "error": error}


def test_harness_rejects_missing_encodings() -> None:
    consumer = copy.deepcopy(LITERAL_VP8_CONSUMER)
    consumer["rtpParameters"]["encodings"] = []

    result = consume(LITERAL_ROUTER_CAPS, "chrome", [consumer])

    # FakeHandler accepts it, but the Chrome handler's remote offer cannot be built.
    assert result["consumers"][0]["consume"] == {"ok": True}
    assert result["remoteOffer"]["sdp"] is None
    assert result["remoteOffer"]["problems"] == [
        "building the remote offer failed: TypeError: Cannot read properties of undefined"
        " (reading 'ssrc')"
    ]


def test_harness_rejects_shared_ssrc() -> None:
    second = copy.deepcopy(LITERAL_VP8_CONSUMER)
    second["id"] = "consumer-vp8-2"
    second["rtpParameters"]["mid"] = "1"

    result = consume(LITERAL_ROUTER_CAPS, "chrome", [LITERAL_VP8_CONSUMER, second])

    assert result["remoteOffer"]["problems"] == [
        "mid 1: ssrc 523456789 also used by mid 0",
        "mid 1: ssrc 523456790 also used by mid 0",
    ]

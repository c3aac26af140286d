"""Tests of sfu.ortc against browser shapes and mediasoup 3.32's own answers.

The fixtures in tests/fixtures/rtp/ come from generate_fixtures.js there: real
Chrome, Firefox and Safari offers run through mediasoup-client 3.24.1 (device
capabilities, producer parameters) and mediasoup 3.32.2's server ORTC code
(mapping, consumable and consumer parameters).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfu import ortc
from sfu.errors import InvalidParameterError, UnsupportedError
from sfu.supported_rtp_capabilities import supported_rtp_capabilities

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rtp"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


ROUTER = _load("router_rtp_capabilities.json")
DEVICES = _load("browser_devices.json")
ANSWERS = _load("mediasoup_answers.json")
DEMO_CAPS = ROUTER["rtpCapabilities"]["demo"]
H264_CAPS = ROUTER["rtpCapabilities"]["h264"]


def producer(device: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(DEVICES[device]["producers"][name])


def recv_caps(device: str) -> dict[str, Any]:
    return copy.deepcopy(DEVICES[device]["recvRtpCapabilities"])


def answer_id(entry: dict[str, Any]) -> str:
    return f"{entry['producerDevice']}-{entry['producerName']}"


def router_caps_for(device: str) -> dict[str, Any]:
    caps: dict[str, Any] = ROUTER["rtpCapabilities"][DEVICES[device]["router"]]
    return caps


def strip_ssrcs(params: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(params)
    for encoding in out["encodings"]:
        encoding.pop("ssrc", None)
        encoding.pop("rtx", None)
    return out


def consume(device: str, name: str, consumer_device: str, **kwargs: Any) -> dict[str, Any]:
    source = producer(device, name)
    caps = router_caps_for(device)
    mapping = ortc.get_producer_rtp_parameters_mapping(source["rtpParameters"], caps)
    consumable = ortc.get_consumable_rtp_parameters(
        source["kind"], source["rtpParameters"], caps, mapping
    )
    options = {"pipe": False, "enable_rtx": source["kind"] == "video"} | kwargs
    return ortc.get_consumer_rtp_parameters(consumable, recv_caps(consumer_device), **options)


def expect_error(error_type: type[Exception], text: str, call: Callable[[], Any]) -> None:
    with pytest.raises(error_type) as error:
        call()
    assert str(error.value) == text


# ---------------------------------------------------------------------------
# Router capabilities


@pytest.mark.parametrize("name", ["demo", "h264"])
def test_router_caps_match_mediasoup(name: str) -> None:
    caps = ortc.generate_router_rtp_capabilities(ROUTER["mediaCodecs"][name])
    assert caps == ROUTER["rtpCapabilities"][name]


def test_router_caps_demo_payload_types() -> None:
    caps = ortc.generate_router_rtp_capabilities(ROUTER["mediaCodecs"]["demo"])
    summary = [(c["mimeType"], c["preferredPayloadType"], c["parameters"]) for c in caps["codecs"]]
    assert summary[:3] == [
        ("audio/opus", 100, {}),
        ("video/VP8", 101, {"x-google-start-bitrate": 1000}),
        ("video/rtx", 102, {"apt": 101}),
    ]
    # Canonical mimeType and the supported level-asymmetry-allowed merged in.
    assert summary[5] == (
        "video/H264",
        105,
        {
            "level-asymmetry-allowed": 1,
            "packetization-mode": 1,
            "profile-level-id": "4d0032",
            "x-google-start-bitrate": 1000,
        },
    )
    assert "channels" not in caps["codecs"][1]
    assert caps["codecs"][0]["channels"] == 2


def test_router_caps_header_extensions_are_supported_list() -> None:
    caps = ortc.generate_router_rtp_capabilities([])
    assert caps == {
        "codecs": [],
        "headerExtensions": supported_rtp_capabilities()["headerExtensions"],
    }
    ids = {(e["kind"], e["uri"]): e["preferredId"] for e in caps["headerExtensions"]}
    assert ids[("video", "urn:ietf:params:rtp-hdrext:sdes:mid")] == 1
    assert ids[("video", "urn:3gpp:video-orientation")] == 8
    assert ids[("audio", "urn:mediasoup:params:rtp-hdrext:packet-id")] == 11
    assert ("audio", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time") not in ids


def test_router_caps_none_is_empty() -> None:
    assert ortc.generate_router_rtp_capabilities(None)["codecs"] == []


def test_router_caps_dynamic_order_skips_127() -> None:
    vp8 = {"mimeType": "video/VP8", "clockRate": 90000}
    caps = ortc.generate_router_rtp_capabilities(
        [vp8] * 15 + [{"mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]
    )
    payload_types = [c["preferredPayloadType"] for c in caps["codecs"]]
    assert payload_types == [*range(100, 127), 96, 97, 98, 99]
    assert 127 not in payload_types


def test_router_caps_out_of_payload_types() -> None:
    vp8 = {"mimeType": "video/VP8", "clockRate": 90000}
    expect_error(
        InvalidParameterError,
        "invalid mediaCodecs: no dynamic payload type left for mediaCodecs[15] "
        "(expected at most 31 dynamic payload types, counting one RTX per video codec)",
        lambda: ortc.generate_router_rtp_capabilities([vp8] * 16),
    )


def test_router_caps_static_payload_types() -> None:
    caps = ortc.generate_router_rtp_capabilities(
        [
            {"mimeType": "audio/PCMU", "clockRate": 8000},
            {"mimeType": "audio/PCMA", "clockRate": 8000},
            {"mimeType": "audio/G722", "clockRate": 8000},
            {"mimeType": "audio/CN", "clockRate": 8000},
            {"mimeType": "audio/telephone-event", "clockRate": 8000},
        ]
    )
    assert [c["preferredPayloadType"] for c in caps["codecs"]] == [0, 8, 9, 13, 100]
    assert [c["channels"] for c in caps["codecs"]] == [1, 1, 1, 1, 1]


def test_router_caps_preferred_payload_type_is_kept() -> None:
    caps = ortc.generate_router_rtp_capabilities(
        [
            {"mimeType": "video/VP8", "clockRate": 90000},
            {"mimeType": "video/VP9", "clockRate": 90000, "preferredPayloadType": 102},
        ]
    )
    # 102 left the free list, so VP9's RTX takes 103.
    assert [c["preferredPayloadType"] for c in caps["codecs"]] == [100, 101, 102, 103]
    assert caps["codecs"][3]["parameters"] == {"apt": 102}


def test_router_caps_multiopus_matches_stream_layout() -> None:
    caps = ortc.generate_router_rtp_capabilities(
        [
            {
                "mimeType": "audio/multiopus",
                "clockRate": 48000,
                "channels": 6,
                "parameters": {"num_streams": 4, "coupled_streams": 2},
            }
        ]
    )
    assert caps["codecs"][0]["parameters"]["channel_mapping"] == "0,4,1,2,3,5"
    expect_error(
        UnsupportedError,
        "media codec not supported: mediaCodecs[0] is audio/multiopus/48000/6",
        lambda: ortc.generate_router_rtp_capabilities(
            [
                {
                    "mimeType": "audio/multiopus",
                    "clockRate": 48000,
                    "channels": 6,
                    "parameters": {"num_streams": 3, "coupled_streams": 2},
                }
            ]
        ),
    )


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        (
            {"mimeType": "audio/opus", "clockRate": 48000},
            "media codec not supported: mediaCodecs[0] is audio/opus/48000/1",
        ),
        (
            {"mimeType": "video/H265", "clockRate": 90000},
            "media codec not supported: mediaCodecs[0] is video/H265/90000",
        ),
        (
            {"mimeType": "video/VP8", "clockRate": 48000},
            "media codec not supported: mediaCodecs[0] is video/VP8/48000",
        ),
    ],
)
def test_router_caps_unsupported_codec(codec: dict[str, Any], text: str) -> None:
    expect_error(UnsupportedError, text, lambda: ortc.generate_router_rtp_capabilities([codec]))


def test_router_caps_duplicate_payload_type() -> None:
    expect_error(
        InvalidParameterError,
        "invalid mediaCodecs[1].preferredPayloadType: 101 "
        "(expected a payload type not used by an earlier codec or its RTX)",
        lambda: ortc.generate_router_rtp_capabilities(
            [
                {"mimeType": "video/VP8", "clockRate": 90000},
                {"mimeType": "video/VP9", "clockRate": 90000, "preferredPayloadType": 101},
            ]
        ),
    )


def test_router_caps_reject_probator_payload_type() -> None:
    expect_error(
        InvalidParameterError,
        "invalid mediaCodecs[0].preferredPayloadType: 127 "
        "(expected any payload type but 127, which mediasoup-client uses for its probator)",
        lambda: ortc.generate_router_rtp_capabilities(
            [{"mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 127}]
        ),
    )


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        (
            {"clockRate": 90000},
            'missing mediaCodecs[0].mimeType (expected a string such as "video/VP8")',
        ),
        (
            {"mimeType": "vp8", "clockRate": 90000},
            'invalid mediaCodecs[0].mimeType: \'vp8\' (expected "audio/<name>" or "video/<name>")',
        ),
        (
            {"mimeType": "video/VP8", "clockRate": True},
            "invalid mediaCodecs[0].clockRate: True (expected an integer in 1..4294967295)",
        ),
        (
            {"mimeType": "video/VP8"},
            "missing mediaCodecs[0].clockRate (expected an integer in 1..4294967295)",
        ),
        (
            {"mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": "96"},
            "invalid mediaCodecs[0].preferredPayloadType: '96' (expected an integer in 0..127)",
        ),
        (
            {"mimeType": "audio/opus", "clockRate": 48000, "channels": 2.0},
            "invalid mediaCodecs[0].channels: 2.0 (expected an integer in 1..255)",
        ),
        (
            {"mimeType": "video/VP8", "clockRate": 90000, "parameters": {"x": True}},
            "invalid mediaCodecs[0].parameters['x']: True (expected a string or a number)",
        ),
        (
            {"mimeType": "video/VP8", "clockRate": 90000, "parameters": []},
            "invalid mediaCodecs[0].parameters: [] (expected an object)",
        ),
    ],
)
def test_router_caps_wrong_types(codec: dict[str, Any], text: str) -> None:
    expect_error(
        InvalidParameterError, text, lambda: ortc.generate_router_rtp_capabilities([codec])
    )


def test_router_caps_media_codecs_not_list() -> None:
    expect_error(
        InvalidParameterError,
        "invalid mediaCodecs: {'mimeType': 'video/VP8'} (expected a list)",
        lambda: ortc.generate_router_rtp_capabilities({"mimeType": "video/VP8"}),  # type: ignore[arg-type]
    )


def test_router_caps_never_emit_booleans() -> None:
    caps = ortc.generate_router_rtp_capabilities(ROUTER["mediaCodecs"]["demo"])
    for codec in caps["codecs"]:
        for value in codec["parameters"].values():
            assert isinstance(value, (int, str))
            assert not isinstance(value, bool)


# ---------------------------------------------------------------------------
# Producers: mapping, consumable parameters, type


@pytest.mark.parametrize("entry", ANSWERS, ids=answer_id)
def test_mapping_matches_mediasoup(entry: dict[str, Any]) -> None:
    source = producer(entry["producerDevice"], entry["producerName"])
    caps = router_caps_for(entry["producerDevice"])
    mapping = ortc.get_producer_rtp_parameters_mapping(source["rtpParameters"], caps)

    assert mapping["codecs"] == entry["mapping"]["codecs"]
    base = mapping["encodings"][0]["mappedSsrc"]
    assert ortc.SSRC_MIN <= base <= ortc.SSRC_MAX
    for index, (ours, theirs) in enumerate(
        zip(mapping["encodings"], entry["mapping"]["encodings"], strict=True)
    ):
        assert ours["mappedSsrc"] == base + index
        # mediasoup 3.32 leaves scalabilityMode out of the mapping; pysfu keeps it.
        trimmed = {k: v for k, v in ours.items() if k not in ("mappedSsrc", "scalabilityMode")}
        assert trimmed == {k: v for k, v in theirs.items() if k != "mappedSsrc"}


@pytest.mark.parametrize("entry", ANSWERS, ids=answer_id)
def test_consumable_matches_mediasoup(entry: dict[str, Any]) -> None:
    source = producer(entry["producerDevice"], entry["producerName"])
    caps = router_caps_for(entry["producerDevice"])
    consumable = ortc.get_consumable_rtp_parameters(
        source["kind"], source["rtpParameters"], caps, entry["mapping"]
    )
    assert consumable == entry["consumable"]


@pytest.mark.parametrize("entry", ANSWERS, ids=answer_id)
def test_consumers_match_mediasoup(entry: dict[str, Any]) -> None:
    kind = producer(entry["producerDevice"], entry["producerName"])["kind"]
    for device, expected in entry["consumers"].items():
        caps = recv_caps(device)
        assert ortc.can_consume(entry["consumable"], caps) is expected["canConsume"], device
        if not expected["canConsume"]:
            continue
        params = ortc.get_consumer_rtp_parameters(
            entry["consumable"], caps, pipe=False, enable_rtx=kind == "video"
        )
        assert strip_ssrcs(params) == strip_ssrcs(expected["rtpParameters"]), device
        assert len(params["encodings"]) == 1
        assert ("rtx" in params["encodings"][0]) == (
            "rtx" in expected["rtpParameters"]["encodings"][0]
        )


@pytest.mark.parametrize("entry", ANSWERS, ids=answer_id)
def test_pipe_consumer_matches_mediasoup(entry: dict[str, Any]) -> None:
    params = ortc.get_pipe_consumer_rtp_parameters(
        entry["consumable"],
        enable_rtx=False,
        router_rtp_capabilities=router_caps_for(entry["producerDevice"]),
    )
    assert strip_ssrcs(params) == strip_ssrcs(entry["pipe"])
    base = params["encodings"][0]["ssrc"]
    assert [e["ssrc"] for e in params["encodings"]] == [
        base + i for i in range(len(params["encodings"]))
    ]
    assert all("rtx" not in e for e in params["encodings"])


def test_chrome_vp8_simulcast_by_rid() -> None:
    source = producer("chrome_demo", "vp8_simulcast")
    params = source["rtpParameters"]
    assert [e["rid"] for e in params["encodings"]] == ["r0", "r1", "r2"]
    assert all("ssrc" not in e for e in params["encodings"])

    mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
    assert mapping["codecs"] == [
        {"payloadType": 96, "mappedPayloadType": 101},
        {"payloadType": 97, "mappedPayloadType": 102},
    ]
    assert [e["rid"] for e in mapping["encodings"]] == ["r0", "r1", "r2"]
    assert [e["scalabilityMode"] for e in mapping["encodings"]] == ["L1T3"] * 3
    assert ortc.get_producer_type(params) == "simulcast"


def test_firefox_vp8_simulcast_by_rid() -> None:
    params = producer("firefox_demo", "vp8_simulcast")["rtpParameters"]
    assert params["codecs"][0]["payloadType"] == 120
    mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
    assert mapping["codecs"] == [
        {"payloadType": 120, "mappedPayloadType": 101},
        {"payloadType": 124, "mappedPayloadType": 102},
    ]
    assert ortc.get_producer_type(params) == "simulcast"


def test_safari_legacy_ssrc_simulcast() -> None:
    params = producer("safari_demo", "vp8_simulcast")["rtpParameters"]
    assert all("rid" not in e for e in params["encodings"])
    assert all("ssrc" in e and "ssrc" in e["rtx"] for e in params["encodings"])

    mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS, rng=random.Random(7))
    assert [e["ssrc"] for e in mapping["encodings"]] == [e["ssrc"] for e in params["encodings"]]
    assert all("rid" not in e for e in mapping["encodings"])

    consumable = ortc.get_consumable_rtp_parameters("video", params, DEMO_CAPS, mapping)
    assert [e["ssrc"] for e in consumable["encodings"]] == [
        e["mappedSsrc"] for e in mapping["encodings"]
    ]
    assert all("rtx" not in e for e in consumable["encodings"])


def test_mapping_is_deterministic_with_rng() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    first = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS, rng=random.Random(1))
    second = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS, rng=random.Random(1))
    assert first == second


def test_opus_sprop_stereo_reaches_consumers() -> None:
    params = producer("chrome_demo", "opus")["rtpParameters"]
    assert params["codecs"][0]["parameters"]["sprop-stereo"] == 1
    consumer = consume("chrome_demo", "opus", "firefox_demo")
    assert consumer["codecs"] == [
        {
            "mimeType": "audio/opus",
            "payloadType": 100,
            "clockRate": 48000,
            "channels": 2,
            "parameters": {"minptime": 10, "useinbandfec": 1, "sprop-stereo": 1, "usedtx": 1},
            # Firefox's capture lists no feedback for Opus.
            "rtcpFeedback": [],
        }
    ]
    assert consumer["encodings"][0].keys() == {"ssrc"}


def test_opus_nack_needs_enable_rtx() -> None:
    with_rtx = consume("chrome_demo", "opus", "safari_demo", enable_rtx=True)
    without = consume("chrome_demo", "opus", "safari_demo", enable_rtx=False)
    assert {"type": "nack", "parameter": ""} in with_rtx["codecs"][0]["rtcpFeedback"]
    assert {"type": "nack", "parameter": ""} not in without["codecs"][0]["rtcpFeedback"]


def test_vp9_profile_2_svc() -> None:
    params = producer("chrome_demo", "vp9_svc")["rtpParameters"]
    assert params["codecs"][0]["parameters"] == {"profile-id": 2}
    assert ortc.get_producer_type(params) == "svc"

    consumer = consume("chrome_demo", "vp9_svc", "chrome_demo")
    encoding = consumer["encodings"][0]
    assert encoding["scalabilityMode"] == "L3T3_KEY"
    assert encoding["maxBitrate"] == 5000000
    assert encoding["rtx"] == {"ssrc": encoding["ssrc"] + 1}
    assert ortc.SSRC_MIN <= encoding["ssrc"] <= ortc.SSRC_MAX
    assert [c["mimeType"] for c in consumer["codecs"]] == ["video/VP9", "video/rtx"]


def test_vp9_profile_0_device_cannot_consume_profile_2() -> None:
    source = producer("chrome_demo", "vp9_svc")
    mapping = ortc.get_producer_rtp_parameters_mapping(source["rtpParameters"], DEMO_CAPS)
    consumable = ortc.get_consumable_rtp_parameters(
        "video", source["rtpParameters"], DEMO_CAPS, mapping
    )
    caps = recv_caps("chrome_demo")
    for codec in caps["codecs"]:
        if codec["mimeType"] == "video/VP9":
            codec["parameters"]["profile-id"] = 0
    assert ortc.can_consume(consumable, caps) is False
    expect_error(
        UnsupportedError,
        "no compatible media codecs: rtpCapabilities has no strict match for video/VP9/90000",
        lambda: ortc.get_consumer_rtp_parameters(consumable, caps, pipe=False, enable_rtx=True),
    )


def test_simulcast_consumer_gets_one_encoding() -> None:
    consumer = consume("chrome_demo", "vp8_simulcast", "safari_demo")
    assert len(consumer["encodings"]) == 1
    encoding = consumer["encodings"][0]
    assert encoding["scalabilityMode"] == "L3T3"
    assert encoding["maxBitrate"] == 5000000
    assert encoding["rtx"]["ssrc"] == encoding["ssrc"] + 1
    assert "mid" not in consumer
    assert consumer["rtcp"] == {"cname": "yQ7lSzSOTzPnm8oA", "reducedSize": True}
    assert consumer["msid"] == "5dceda4c-fa94-4f54-91f2-632d4e28fb04 chrome-vp8_simulcast"


@pytest.mark.parametrize(
    ("device", "name", "profile_level_id", "mapped"),
    [
        ("chrome_h264", "h264_42e01f_pm1", "42e01f", 104),
        ("chrome_h264", "h264_42e01f_pm0", "42e01f", 106),
        ("chrome_h264", "h264_4d001f_pm1", "4d001f", 102),
        ("safari_h264", "h264_640c1f_pm1", "640c1f", 100),
        ("firefox_h264", "h264_42e01f_pm1", "42e01f", 104),
    ],
)
def test_h264_variants_map(device: str, name: str, profile_level_id: str, mapped: int) -> None:
    source = producer(device, name)
    mapping = ortc.get_producer_rtp_parameters_mapping(source["rtpParameters"], H264_CAPS)
    assert mapping["codecs"][0]["mappedPayloadType"] == mapped
    consumable = ortc.get_consumable_rtp_parameters(
        "video", source["rtpParameters"], H264_CAPS, mapping
    )
    assert consumable["codecs"][0]["parameters"]["profile-level-id"] == profile_level_id


def test_h264_packetization_mode_must_match() -> None:
    params = producer("chrome_h264", "h264_42e01f_pm0")["rtpParameters"]
    expect_error(
        UnsupportedError,
        "unsupported codec [mimeType:video/H264, payloadType:115]: "
        "the router has no matching codec",
        lambda: ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS),
    )


def test_h264_answer_lowers_level_without_asymmetry() -> None:
    caps = ortc.generate_router_rtp_capabilities(
        [
            {
                "mimeType": "video/H264",
                "clockRate": 90000,
                "parameters": {
                    "packetization-mode": 1,
                    "profile-level-id": "42e01f",
                    "level-asymmetry-allowed": 0,
                },
            }
        ]
    )
    params = producer("chrome_h264", "h264_42e01f_pm1")["rtpParameters"]
    params["codecs"][0]["parameters"]["profile-level-id"] = "42e034"
    mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    consumable = ortc.get_consumable_rtp_parameters("video", params, caps, mapping)
    assert consumable["codecs"][0]["parameters"]["profile-level-id"] == "42e01f"

    caps["codecs"][0]["parameters"]["level-asymmetry-allowed"] = 1
    consumable = ortc.get_consumable_rtp_parameters("video", params, caps, mapping)
    assert consumable["codecs"][0]["parameters"]["profile-level-id"] == "42e034"


def test_h264_profile_mismatch_is_unsupported() -> None:
    params = producer("safari_h264", "h264_640c1f_pm1")["rtpParameters"]
    expect_error(
        UnsupportedError,
        "unsupported codec [mimeType:video/H264, payloadType:96]: the router has no matching codec",
        lambda: ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS),
    )


def test_consumable_drops_abs_capture_time_unless_sent() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
    uri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"
    without = ortc.get_consumable_rtp_parameters("video", params, DEMO_CAPS, mapping)
    assert uri not in [e["uri"] for e in without["headerExtensions"]]

    params["headerExtensions"].append({"uri": uri, "id": 12})
    with_ext = ortc.get_consumable_rtp_parameters("video", params, DEMO_CAPS, mapping)
    assert {"uri": uri, "id": 9, "encrypt": False, "parameters": {}} in with_ext["headerExtensions"]


def test_consumable_header_extensions_are_router_sendable() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
    consumable = ortc.get_consumable_rtp_parameters("video", params, DEMO_CAPS, mapping)
    assert [(e["uri"], e["id"]) for e in consumable["headerExtensions"]] == [
        ("urn:ietf:params:rtp-hdrext:sdes:mid", 1),
        ("http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", 4),
        ("http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", 5),
        ("urn:3gpp:video-orientation", 8),
        ("http://www.webrtc.org/experiments/rtp-hdrext/playout-delay", 10),
        ("urn:mediasoup:params:rtp-hdrext:packet-id", 11),
    ]


def test_empty_encodings_count_as_one() -> None:
    params = producer("chrome_demo", "opus")["rtpParameters"]
    params["encodings"] = []
    mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
    assert len(mapping["encodings"]) == 1
    assert mapping["encodings"][0].keys() == {"mappedSsrc"}
    consumable = ortc.get_consumable_rtp_parameters("audio", params, DEMO_CAPS, mapping)
    assert consumable["encodings"] == [{"ssrc": mapping["encodings"][0]["mappedSsrc"]}]
    assert ortc.get_producer_type(params) == "simple"


@pytest.mark.parametrize(
    ("device", "name", "expected"),
    [
        ("chrome_demo", "opus", "simple"),
        ("chrome_demo", "vp8_simulcast", "simulcast"),
        ("firefox_demo", "vp8_simulcast", "simulcast"),
        ("safari_demo", "vp8_simulcast", "simulcast"),
        ("chrome_demo", "vp9_svc", "svc"),
        ("chrome_demo", "h264_42e01f_pm1", "simple"),
    ],
)
def test_producer_type(device: str, name: str, expected: str) -> None:
    assert ortc.get_producer_type(producer(device, name)["rtpParameters"]) == expected


def test_producer_type_single_vp8_with_temporal_layers_is_svc() -> None:
    params = producer("chrome_demo", "h264_42e01f_pm1")["rtpParameters"]
    params["encodings"][0]["scalabilityMode"] = "L1T3"
    assert ortc.get_producer_type(params) == "svc"


# ---------------------------------------------------------------------------
# Producer errors


def _mapping_error(params: dict[str, Any], error_type: type[Exception], text: str) -> None:
    expect_error(
        error_type, text, lambda: ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
    )


def test_duplicate_payload_type_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["codecs"][1]["payloadType"] = 96
    params["codecs"][1]["parameters"]["apt"] = 96
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.codecs[1].payloadType: 96 "
        "(expected a payload type not used by another codec)",
    )


def test_rtx_apt_to_missing_codec_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["codecs"][1]["parameters"]["apt"] = 55
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.codecs[1].parameters['apt']: 55 "
        "(expected the payload type of a media codec in rtpParameters.codecs)",
    )


def test_rtx_apt_to_rtx_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["codecs"][1]["parameters"]["apt"] = 97
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.codecs[1].parameters['apt']: 97 "
        "(expected the payload type of a media codec in rtpParameters.codecs)",
    )


def test_rtx_without_apt_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["codecs"][1]["parameters"] = {}
    _mapping_error(
        params,
        InvalidParameterError,
        "missing rtpParameters.codecs[1].parameters['apt'] "
        "(expected the payload type that this RTX repairs)",
    )


def test_rtx_apt_string_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["codecs"][1]["parameters"]["apt"] = "96"
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.codecs[1].parameters['apt']: '96' "
        "(expected an integer payload type in 0..127)",
    )


def test_rtx_for_router_codec_without_rtx_unsupported() -> None:
    params = producer("chrome_demo", "opus")["rtpParameters"]
    params["codecs"].append(
        {
            "mimeType": "audio/rtx",
            "payloadType": 112,
            "clockRate": 48000,
            "parameters": {"apt": 111},
        }
    )
    _mapping_error(
        params,
        UnsupportedError,
        "no RTX codec for capability codec PT 100 "
        "(the producer's RTX payload type 112 has nothing to map to)",
    )


def test_unsupported_producer_codec() -> None:
    params = producer("chrome_demo", "h264_42e01f_pm1")["rtpParameters"]
    params["codecs"][0]["mimeType"] = "video/AV1"
    _mapping_error(
        params,
        UnsupportedError,
        "unsupported codec [mimeType:video/AV1, payloadType:109]: the router has no matching codec",
    )


def test_only_rtx_codecs_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["codecs"] = [params["codecs"][1]]
    params["codecs"][0]["parameters"]["apt"] = 97
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.codecs[0].parameters['apt']: 97 "
        "(expected the payload type of a media codec in rtpParameters.codecs)",
    )


def test_empty_codecs_rejected() -> None:
    params = producer("chrome_demo", "opus")["rtpParameters"]
    params["codecs"] = []
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.codecs: [] (expected at least one media codec)",
    )


def test_simulcast_encoding_without_rid_or_ssrc_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    del params["encodings"][1]["rid"]
    _mapping_error(
        params,
        InvalidParameterError,
        "missing rtpParameters.encodings[1].ssrc or rtpParameters.encodings[1].rid "
        "(expected one of them in every simulcast encoding)",
    )


def test_duplicate_rid_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["encodings"][2]["rid"] = "r0"
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.encodings[2].rid: 'r0' "
        "(expected a rid not used by another encoding)",
    )


def test_single_encoding_needs_mid_ssrc_or_rid() -> None:
    params = producer("chrome_demo", "opus")["rtpParameters"]
    del params["mid"]
    del params["encodings"][0]["ssrc"]
    _mapping_error(
        params,
        InvalidParameterError,
        "missing rtpParameters.mid or rtpParameters.encodings[0].ssrc or .rid "
        "(expected one of them, so that incoming packets can be matched to the producer)",
    )


def test_simulcast_with_spatial_layers_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["encodings"][0]["scalabilityMode"] = "L3T3"
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.encodings[0].scalabilityMode: 'L3T3' "
        "(expected one spatial layer per encoding when there are several encodings)",
    )


def test_vp9_simulcast_unsupported() -> None:
    params = producer("chrome_demo", "vp9_svc")["rtpParameters"]
    params["encodings"] = [{"rid": "r0"}, {"rid": "r1"}]
    expect_error(
        UnsupportedError,
        "video/VP9 codec not supported for simulcast (2 encodings); simulcast needs VP8 or H264",
        lambda: ortc.get_producer_type(params),
    )


def test_opus_with_layers_unsupported() -> None:
    params = producer("chrome_demo", "opus")["rtpParameters"]
    params["encodings"][0]["scalabilityMode"] = "L1T3"
    expect_error(
        UnsupportedError,
        "audio/opus codec not supported for scalabilityMode 'L1T3'; "
        "layers need VP8, VP9, H264 or AV1",
        lambda: ortc.get_producer_type(params),
    )


def test_codec_payload_type_must_name_media_codec() -> None:
    params = producer("chrome_demo", "h264_42e01f_pm1")["rtpParameters"]
    params["encodings"][0]["codecPayloadType"] = params["codecs"][1]["payloadType"]
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.encodings[0].codecPayloadType: 114 "
        "(expected the payload type of a media codec in rtpParameters.codecs)",
    )


def test_duplicate_header_extension_id_rejected() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    params["headerExtensions"][1]["id"] = params["headerExtensions"][0]["id"]
    _mapping_error(
        params,
        InvalidParameterError,
        "invalid rtpParameters.headerExtensions[1].id: 9 "
        "(expected an id not used by another header extension)",
    )


@pytest.mark.parametrize(
    ("mutate", "text"),
    [
        (
            lambda p: p["codecs"][0].update(payloadType="96"),
            "invalid rtpParameters.codecs[0].payloadType: '96' (expected an integer in 0..127)",
        ),
        (
            lambda p: p["codecs"][0].update(payloadType=True),
            "invalid rtpParameters.codecs[0].payloadType: True (expected an integer in 0..127)",
        ),
        (
            lambda p: p["codecs"][0].pop("mimeType"),
            'missing rtpParameters.codecs[0].mimeType (expected a string such as "video/VP8")',
        ),
        (
            lambda p: p["codecs"][0]["parameters"].update({"x-google-start-bitrate": False}),
            "invalid rtpParameters.codecs[0].parameters['x-google-start-bitrate']: False "
            "(expected a string or a number)",
        ),
        (
            lambda p: p["codecs"][0]["parameters"].update({"foo": None}),
            "invalid rtpParameters.codecs[0].parameters['foo']: None "
            "(expected a string or a number)",
        ),
        (
            lambda p: p.update(codecs={}),
            "invalid rtpParameters.codecs: {} (expected a list)",
        ),
        (
            lambda p: p.pop("codecs"),
            "missing rtpParameters.codecs (expected a list)",
        ),
        (
            lambda p: p["encodings"][0].update(maxBitrate=-1),
            "invalid rtpParameters.encodings[0].maxBitrate: -1 "
            "(expected an integer in 0..9007199254740991)",
        ),
        (
            lambda p: p["encodings"][0].update(dtx="no"),
            "invalid rtpParameters.encodings[0].dtx: 'no' (expected true or false)",
        ),
        (
            lambda p: p["encodings"][0].update(rtx={"ssrc": "1"}),
            "invalid rtpParameters.encodings[0].rtx.ssrc: '1' "
            "(expected an integer in 0..4294967295)",
        ),
        (
            lambda p: p["headerExtensions"][0].update(id=0),
            "invalid rtpParameters.headerExtensions[0].id: 0 (expected an integer in 1..255)",
        ),
        (
            lambda p: p["codecs"][0]["rtcpFeedback"].append({"parameter": "pli"}),
            "missing rtpParameters.codecs[0].rtcpFeedback[5].type (expected a non-empty string)",
        ),
        (
            lambda p: p.update(mid=1),
            "invalid rtpParameters.mid: 1 (expected a string)",
        ),
        (
            lambda p: p.update(rtcp={"cname": 5}),
            "invalid rtpParameters.rtcp.cname: 5 (expected a string)",
        ),
    ],
)
def test_wrong_types_name_the_field(mutate: Callable[[Any], Any], text: str) -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    mutate(params)
    _mapping_error(params, InvalidParameterError, text)


# ---------------------------------------------------------------------------
# Validation and normalisation


def test_validate_rtp_parameters_normalises() -> None:
    params = {
        "mid": None,
        "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000, "channels": 2}],
        "encodings": [{"ssrc": 1, "active": True, "scaleResolutionDownBy": 2}],
        "rtcp": {"cname": "abc", "reducedSize": False, "mux": True},
    }
    assert ortc.validate_rtp_parameters(params) == {
        "codecs": [
            {
                "mimeType": "video/VP8",
                "payloadType": 96,
                "clockRate": 90000,
                "parameters": {},
                "rtcpFeedback": [],
            }
        ],
        "encodings": [{"ssrc": 1, "active": True, "scaleResolutionDownBy": 2, "dtx": False}],
        "rtcp": {"cname": "abc", "reducedSize": True, "mux": True},
        "headerExtensions": [],
    }


def test_validate_rtp_capabilities_normalises() -> None:
    caps = {
        "codecs": [
            {
                "kind": "video",
                "mimeType": "audio/opus",
                "preferredPayloadType": 111,
                "clockRate": 48000,
            }
        ],
        "headerExtensions": [{"kind": "audio", "uri": "urn:x", "preferredId": 3}],
    }
    assert ortc.validate_rtp_capabilities(caps) == {
        "codecs": [
            {
                "kind": "audio",
                "mimeType": "audio/opus",
                "preferredPayloadType": 111,
                "clockRate": 48000,
                "channels": 1,
                "parameters": {},
                "rtcpFeedback": [],
            }
        ],
        "headerExtensions": [
            {
                "kind": "audio",
                "uri": "urn:x",
                "preferredId": 3,
                "preferredEncrypt": False,
                "direction": "sendrecv",
            }
        ],
    }
    assert ortc.validate_rtp_capabilities({}) == {"codecs": [], "headerExtensions": []}


@pytest.mark.parametrize(
    ("caps", "text"),
    [
        ("x", "invalid rtpCapabilities: 'x' (expected an object)"),
        ({"codecs": "x"}, "invalid rtpCapabilities.codecs: 'x' (expected a list)"),
        (
            {"headerExtensions": [{"kind": "data", "uri": "u", "preferredId": 1}]},
            "invalid rtpCapabilities.headerExtensions[0].kind: 'data' "
            '(expected "audio" or "video")',
        ),
        (
            {
                "headerExtensions": [
                    {"kind": "audio", "uri": "u", "preferredId": 1, "direction": "up"}
                ]
            },
            "invalid rtpCapabilities.headerExtensions[0].direction: 'up' "
            "(expected sendrecv or sendonly or recvonly or inactive)",
        ),
        (
            {"headerExtensions": [{"kind": "audio", "uri": "u", "preferredId": "1"}]},
            "invalid rtpCapabilities.headerExtensions[0].preferredId: '1' "
            "(expected an integer in 1..255)",
        ),
        (
            {
                "codecs": [
                    {
                        "mimeType": "video/VP8",
                        "clockRate": 90000,
                        "rtcpFeedback": [{"type": "nack", "parameter": 1}],
                    }
                ]
            },
            "invalid rtpCapabilities.codecs[0].rtcpFeedback[0].parameter: 1 (expected a string)",
        ),
    ],
)
def test_validate_rtp_capabilities_errors(caps: Any, text: str) -> None:
    expect_error(InvalidParameterError, text, lambda: ortc.validate_rtp_capabilities(caps))


def test_can_consume_invalid_caps_raises() -> None:
    entry = ANSWERS[0]
    expect_error(
        InvalidParameterError,
        "invalid rtpCapabilities.codecs[0].clockRate: '48000' "
        "(expected an integer in 1..4294967295)",
        lambda: ortc.can_consume(
            entry["consumable"], {"codecs": [{"mimeType": "audio/opus", "clockRate": "48000"}]}
        ),
    )


def test_can_consume_false_without_codecs() -> None:
    assert ortc.can_consume(ANSWERS[0]["consumable"], {}) is False


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"streamId": 1}, {"streamId": 1, "ordered": True}),
        (
            {"streamId": 2, "maxRetransmits": 0},
            {"streamId": 2, "maxRetransmits": 0, "ordered": False},
        ),
        (
            {"streamId": 3, "ordered": False, "maxPacketLifeTime": 500},
            {"streamId": 3, "ordered": False, "maxPacketLifeTime": 500},
        ),
    ],
)
def test_validate_sctp_stream_parameters(params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert ortc.validate_sctp_stream_parameters(params) == expected


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({}, "missing sctpStreamParameters.streamId (expected an integer in 0..65534)"),
        (
            {"streamId": 1, "maxRetransmits": 1, "maxPacketLifeTime": 1},
            "invalid sctpStreamParameters: maxPacketLifeTime and maxRetransmits are both given "
            "(expected at most one of them)",
        ),
        (
            {"streamId": 1, "ordered": True, "maxRetransmits": 1},
            "invalid sctpStreamParameters.ordered: True (expected false when maxPacketLifeTime "
            "or maxRetransmits is given)",
        ),
        (
            {"streamId": 1, "ordered": 1},
            "invalid sctpStreamParameters.ordered: 1 (expected true or false)",
        ),
    ],
)
def test_validate_sctp_stream_parameters_errors(params: dict[str, Any], text: str) -> None:
    expect_error(InvalidParameterError, text, lambda: ortc.validate_sctp_stream_parameters(params))


# ---------------------------------------------------------------------------
# Consumers


def test_consumer_without_rtx() -> None:
    consumer = consume("chrome_demo", "vp8_simulcast", "chrome_demo", enable_rtx=False)
    assert [c["mimeType"] for c in consumer["codecs"]] == ["video/VP8"]
    assert consumer["codecs"][0]["rtcpFeedback"] == [
        {"type": "transport-cc", "parameter": ""},
        {"type": "ccm", "parameter": "fir"},
        {"type": "nack", "parameter": "pli"},
    ]
    assert "rtx" not in consumer["encodings"][0]


def test_consumer_without_bwe() -> None:
    consumer = consume("chrome_demo", "vp8_simulcast", "chrome_demo", enable_bwe=False)
    uris = [e["uri"] for e in consumer["headerExtensions"]]
    assert "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time" not in uris
    assert "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01" not in uris
    types = {fb["type"] for fb in consumer["codecs"][0]["rtcpFeedback"]}
    assert types == {"nack", "ccm"}


def test_consumer_remb_when_only_abs_send_time() -> None:
    source = producer("chrome_demo", "vp8_simulcast")
    mapping = ortc.get_producer_rtp_parameters_mapping(source["rtpParameters"], DEMO_CAPS)
    consumable = ortc.get_consumable_rtp_parameters(
        "video", source["rtpParameters"], DEMO_CAPS, mapping
    )
    caps = recv_caps("chrome_demo")
    caps["headerExtensions"] = [
        e for e in caps["headerExtensions"] if "transport-wide-cc" not in e["uri"]
    ]
    consumer = ortc.get_consumer_rtp_parameters(consumable, caps, pipe=False, enable_rtx=True)
    types = [fb["type"] for fb in consumer["codecs"][0]["rtcpFeedback"]]
    assert "goog-remb" in types
    assert "transport-cc" not in types


def test_consumer_extensions_need_same_id() -> None:
    caps = recv_caps("chrome_demo")
    for ext in caps["headerExtensions"]:
        if ext["uri"] == "urn:ietf:params:rtp-hdrext:sdes:mid":
            ext["preferredId"] = 14
    source = producer("chrome_demo", "vp8_simulcast")
    mapping = ortc.get_producer_rtp_parameters_mapping(source["rtpParameters"], DEMO_CAPS)
    consumable = ortc.get_consumable_rtp_parameters(
        "video", source["rtpParameters"], DEMO_CAPS, mapping
    )
    consumer = ortc.get_consumer_rtp_parameters(consumable, caps, pipe=False, enable_rtx=True)
    assert "urn:ietf:params:rtp-hdrext:sdes:mid" not in [
        e["uri"] for e in consumer["headerExtensions"]
    ]


def test_pipe_flag_keeps_all_encodings() -> None:
    consumer = consume("safari_demo", "vp8_simulcast", "chrome_demo", pipe=True)
    assert len(consumer["encodings"]) == 3
    ssrcs = [e["ssrc"] for e in consumer["encodings"]]
    rtx_ssrcs = [e["rtx"]["ssrc"] for e in consumer["encodings"]]
    assert ssrcs == [ssrcs[0], ssrcs[0] + 1, ssrcs[0] + 2]
    assert rtx_ssrcs == [rtx_ssrcs[0], rtx_ssrcs[0] + 1, rtx_ssrcs[0] + 2]
    assert not set(ssrcs) & set(rtx_ssrcs)
    assert consumer["encodings"][0]["scalabilityMode"] == "L1T3"


def test_pipe_consumer_with_rtx_and_dependency_descriptor() -> None:
    entry = next(a for a in ANSWERS if answer_id(a) == "chrome_demo-vp8_simulcast")
    params = ortc.get_pipe_consumer_rtp_parameters(entry["consumable"], enable_rtx=True)
    assert [c["mimeType"] for c in params["codecs"]] == ["video/VP8", "video/rtx"]
    assert params["codecs"][0]["rtcpFeedback"] == [
        {"type": "nack", "parameter": ""},
        {"type": "nack", "parameter": "pli"},
        {"type": "ccm", "parameter": "fir"},
    ]
    assert [(e["uri"], e["id"]) for e in params["headerExtensions"]] == [
        (
            "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension",
            7,
        ),
        ("urn:3gpp:video-orientation", 8),
        ("http://www.webrtc.org/experiments/rtp-hdrext/playout-delay", 10),
        ("urn:mediasoup:params:rtp-hdrext:packet-id", 11),
    ]
    assert all(e["rtx"]["ssrc"] != e["ssrc"] for e in params["encodings"])


def test_pipe_consumer_audio_has_no_dependency_descriptor() -> None:
    entry = next(a for a in ANSWERS if answer_id(a) == "chrome_demo-opus")
    params = ortc.get_pipe_consumer_rtp_parameters(entry["consumable"])
    assert "dependency-descriptor" not in json.dumps(params["headerExtensions"])


def test_disable_bwe_in_rtp_parameters() -> None:
    params = producer("chrome_demo", "vp8_simulcast")["rtpParameters"]
    out = ortc.disable_bwe_in_rtp_parameters(params)
    uris = [e["uri"] for e in out["headerExtensions"]]
    assert "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time" not in uris
    assert {fb["type"] for fb in out["codecs"][0]["rtcpFeedback"]} == {"ccm", "nack"}


# ---------------------------------------------------------------------------
# Purity


def test_functions_leave_inputs_unchanged() -> None:
    media_codecs = copy.deepcopy(ROUTER["mediaCodecs"]["demo"])
    before_codecs = copy.deepcopy(media_codecs)
    caps = ortc.generate_router_rtp_capabilities(media_codecs)
    assert media_codecs == before_codecs

    for device, name in [
        ("chrome_demo", "vp8_simulcast"),
        ("safari_demo", "vp8_simulcast"),
        ("chrome_demo", "h264_4d001f_pm1"),
        ("chrome_demo", "opus"),
    ]:
        source = producer(device, name)
        params = source["rtpParameters"]
        device_caps = recv_caps("chrome_demo")
        snapshot = copy.deepcopy((params, caps, device_caps))

        ortc.validate_rtp_parameters(params)
        ortc.validate_rtp_capabilities(device_caps)
        ortc.get_producer_type(params)
        mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
        mapping_before = copy.deepcopy(mapping)
        consumable = ortc.get_consumable_rtp_parameters(source["kind"], params, caps, mapping)
        consumable_before = copy.deepcopy(consumable)
        ortc.can_consume(consumable, device_caps)
        consumer = ortc.get_consumer_rtp_parameters(
            consumable, device_caps, pipe=False, enable_rtx=True, enable_bwe=False
        )
        ortc.get_consumer_rtp_parameters(consumable, device_caps, pipe=True, enable_rtx=True)
        ortc.get_pipe_consumer_rtp_parameters(consumable, enable_rtx=False)
        ortc.disable_bwe_in_rtp_parameters(params)

        assert (params, caps, device_caps) == snapshot
        assert mapping == mapping_before
        assert consumable == consumable_before
        # The consumer parameters share no objects with the consumable ones.
        consumer["codecs"][0]["parameters"]["changed"] = 1
        consumer["rtcp"]["cname"] = "changed"
        assert consumable == consumable_before


def test_h264_answer_does_not_touch_producer_parameters() -> None:
    params = producer("chrome_demo", "h264_4d001f_pm1")["rtpParameters"]
    params["codecs"][0]["parameters"]["profile-level-id"] = "4d0034"
    caps = copy.deepcopy(DEMO_CAPS)
    caps["codecs"][5]["parameters"]["level-asymmetry-allowed"] = 0
    mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    consumable = ortc.get_consumable_rtp_parameters("video", params, caps, mapping)
    assert consumable["codecs"][0]["parameters"]["profile-level-id"] == "4d0032"
    assert params["codecs"][0]["parameters"]["profile-level-id"] == "4d0034"


# ---------------------------------------------------------------------------
# Random mutations


_LEAF_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.just("video/VP8"),
    st.just("video/rtx"),
    st.just("42e01f"),
    st.just("L3T3_KEY"),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _mutate(root: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value if action == "replace" else root
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    if action == "delete":
        del parent[key]
    else:
        parent[key] = value
    return root


_SOURCES = [
    ("chrome_demo", "vp8_simulcast"),
    ("safari_demo", "vp8_simulcast"),
    ("chrome_demo", "vp9_svc"),
    ("chrome_demo", "h264_4d001f_pm1"),
    ("firefox_demo", "opus"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(_SOURCES),
    data=st.data(),
    mutations=st.integers(min_value=1, max_value=3),
)
def test_mutated_parameters_raise_only_typed_errors(
    source: tuple[str, str], data: st.DataObject, mutations: int
) -> None:
    device, name = source
    original = producer(device, name)
    params: Any = copy.deepcopy(original["rtpParameters"])
    for _ in range(mutations):
        paths = _paths(params)
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "delete"]))
        value = data.draw(_LEAF_VALUES)
        params = _mutate(params, path, action, value)

    snapshot = copy.deepcopy(params)
    try:
        ortc.validate_rtp_parameters(params)
        ortc.get_producer_type(params)
        mapping = ortc.get_producer_rtp_parameters_mapping(params, DEMO_CAPS)
        consumable = ortc.get_consumable_rtp_parameters(
            original["kind"], params, DEMO_CAPS, mapping
        )
        caps = recv_caps("chrome_demo")
        if ortc.can_consume(consumable, caps):
            ortc.get_consumer_rtp_parameters(consumable, caps, pipe=False, enable_rtx=True)
        ortc.get_pipe_consumer_rtp_parameters(consumable, enable_rtx=True)
    except (InvalidParameterError, UnsupportedError):
        pass
    # NaN != NaN, so compare the JSON text, which writes NaN the same way twice.
    assert json.dumps(params, sort_keys=True, default=repr) == json.dumps(
        snapshot, sort_keys=True, default=repr
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_capabilities_raise_only_typed_errors(data: st.DataObject) -> None:
    caps: Any = recv_caps("safari_demo")
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(caps)))
        caps = _mutate(
            caps, path, data.draw(st.sampled_from(["replace", "delete"])), data.draw(_LEAF_VALUES)
        )
    entry = ANSWERS[1]
    try:
        if ortc.can_consume(entry["consumable"], caps):
            ortc.get_consumer_rtp_parameters(entry["consumable"], caps, pipe=False, enable_rtx=True)
    except (InvalidParameterError, UnsupportedError):
        pass

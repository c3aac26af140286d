"""Router codecs and browser-shaped producer parameters shared by integration tests."""

from typing import Any

MEDIA_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {
        "kind": "video",
        "mimeType": "video/VP8",
        "clockRate": 90000,
        "parameters": {"x-google-start-bitrate": 1000},
    },
    {
        "kind": "video",
        "mimeType": "video/H264",
        "clockRate": 90000,
        "parameters": {
            "packetization-mode": 1,
            "profile-level-id": "42e01f",
            "level-asymmetry-allowed": 1,
        },
    },
]


def opus_producer_parameters(ssrc: int = 11111111, mid: str = "0") -> dict[str, Any]:
    """Opus as Chrome sends it through mediasoup-client."""
    return {
        "mid": mid,
        "codecs": [
            {
                "mimeType": "audio/opus",
                "payloadType": 111,
                "clockRate": 48000,
                "channels": 2,
                "parameters": {"minptime": 10, "useinbandfec": 1, "sprop-stereo": 1},
                "rtcpFeedback": [{"type": "transport-cc", "parameter": ""}],
            }
        ],
        "headerExtensions": [
            {
                "uri": "urn:ietf:params:rtp-hdrext:sdes:mid",
                "id": 4,
                "encrypt": False,
                "parameters": {},
            },
            {
                "uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                "id": 1,
                "encrypt": False,
                "parameters": {},
            },
        ],
        "encodings": [{"ssrc": ssrc, "dtx": False}],
        "rtcp": {"cname": "test-cname", "reducedSize": True},
    }


def vp8_simulcast_producer_parameters(mid: str = "1") -> dict[str, Any]:
    """VP8 with three rid-based simulcast encodings, as Chrome sends it."""
    return {
        "mid": mid,
        "codecs": [
            {
                "mimeType": "video/VP8",
                "payloadType": 96,
                "clockRate": 90000,
                "parameters": {},
                "rtcpFeedback": [
                    {"type": "goog-remb", "parameter": ""},
                    {"type": "transport-cc", "parameter": ""},
                    {"type": "ccm", "parameter": "fir"},
                    {"type": "nack", "parameter": ""},
                    {"type": "nack", "parameter": "pli"},
                ],
            },
            {
                "mimeType": "video/rtx",
                "payloadType": 97,
                "clockRate": 90000,
                "parameters": {"apt": 96},
                "rtcpFeedback": [],
            },
        ],
        "headerExtensions": [
            {
                "uri": "urn:ietf:params:rtp-hdrext:sdes:mid",
                "id": 4,
                "encrypt": False,
                "parameters": {},
            },
            {
                "uri": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
                "id": 10,
                "encrypt": False,
                "parameters": {},
            },
            {
                "uri": "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
                "id": 11,
                "encrypt": False,
                "parameters": {},
            },
            {
                "uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                "id": 3,
                "encrypt": False,
                "parameters": {},
            },
        ],
        "encodings": [
            {
                "rid": "r0",
                "active": True,
                "scaleResolutionDownBy": 4,
                "maxBitrate": 500000,
                "scalabilityMode": "L1T3",
            },
            {
                "rid": "r1",
                "active": True,
                "scaleResolutionDownBy": 2,
                "maxBitrate": 1000000,
                "scalabilityMode": "L1T3",
            },
            {
                "rid": "r2",
                "active": True,
                "scaleResolutionDownBy": 1,
                "maxBitrate": 5000000,
                "scalabilityMode": "L1T3",
            },
        ],
        "rtcp": {"cname": "test-cname", "reducedSize": True},
    }


def device_capabilities(router_capabilities: dict[str, Any]) -> dict[str, Any]:
    """Receive capabilities of a device that supports everything the router offers."""
    return {
        "codecs": [dict(codec) for codec in router_capabilities["codecs"]],
        "headerExtensions": [
            dict(extension)
            for extension in router_capabilities["headerExtensions"]
            if extension.get("direction", "sendrecv") in ("sendrecv", "sendonly")
        ],
    }

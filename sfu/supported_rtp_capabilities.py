"""Codecs and RTP header extensions that pysfu can route.

The lists mirror mediasoup 3.32.2 (``node/lib/supportedRtpCapabilities.js``)
after its own normalisation: audio codecs carry ``channels`` (1 when the codec
has no channel count), every codec has ``parameters`` and ``rtcpFeedback``, and
every feedback entry has ``parameter``. A router's capabilities are built from
these entries by ``sfu.ortc.generate_router_rtp_capabilities``.
"""

from __future__ import annotations

import copy
from typing import Any

from sfu.rtp_parameters import RtpCapabilities

_VIDEO_FEEDBACK: list[dict[str, str]] = [
    {"type": "nack", "parameter": ""},
    {"type": "nack", "parameter": "pli"},
    {"type": "ccm", "parameter": "fir"},
    {"type": "goog-remb", "parameter": ""},
    {"type": "transport-cc", "parameter": ""},
]

_OPUS_FEEDBACK: list[dict[str, str]] = [
    {"type": "nack", "parameter": ""},
    {"type": "transport-cc", "parameter": ""},
]

_TRANSPORT_CC_ONLY: list[dict[str, str]] = [{"type": "transport-cc", "parameter": ""}]


def _audio(
    mime_type: str,
    clock_rate: int,
    *,
    channels: int = 1,
    payload_type: int | None = None,
    parameters: dict[str, Any] | None = None,
    feedback: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    codec: dict[str, Any] = {"kind": "audio", "mimeType": mime_type}
    if payload_type is not None:
        codec["preferredPayloadType"] = payload_type
    codec["clockRate"] = clock_rate
    codec["channels"] = channels
    codec["parameters"] = parameters or {}
    codec["rtcpFeedback"] = feedback or []
    return codec


def _video(mime_type: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "video",
        "mimeType": mime_type,
        "clockRate": 90000,
        "parameters": parameters or {},
        "rtcpFeedback": _VIDEO_FEEDBACK,
    }


def _extension(kind: str, uri: str, preferred_id: int, direction: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "uri": uri,
        "preferredId": preferred_id,
        "preferredEncrypt": False,
        "direction": direction,
    }


# Static payload types come from RFC 3551 §6 (PCMU 0, PCMA 8, G722 9, CN 13).
_CODECS: list[dict[str, Any]] = [
    _audio("audio/opus", 48000, channels=2, feedback=_OPUS_FEEDBACK),
    # Multichannel Opus as Chrome implements it: 4.0, 5.1 and 7.1 layouts.
    _audio(
        "audio/multiopus",
        48000,
        channels=4,
        parameters={"channel_mapping": "0,1,2,3", "num_streams": 2, "coupled_streams": 2},
        feedback=_OPUS_FEEDBACK,
    ),
    _audio(
        "audio/multiopus",
        48000,
        channels=6,
        parameters={"channel_mapping": "0,4,1,2,3,5", "num_streams": 4, "coupled_streams": 2},
        feedback=_OPUS_FEEDBACK,
    ),
    _audio(
        "audio/multiopus",
        48000,
        channels=8,
        parameters={
            "channel_mapping": "0,6,1,2,3,4,5,7",
            "num_streams": 5,
            "coupled_streams": 3,
        },
        feedback=_OPUS_FEEDBACK,
    ),
    _audio("audio/PCMU", 8000, payload_type=0, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/PCMA", 8000, payload_type=8, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/ISAC", 32000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/ISAC", 16000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/G722", 8000, payload_type=9, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/iLBC", 8000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/SILK", 24000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/SILK", 16000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/SILK", 12000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/SILK", 8000, feedback=_TRANSPORT_CC_ONLY),
    _audio("audio/CN", 32000, payload_type=13),
    _audio("audio/CN", 16000, payload_type=13),
    _audio("audio/CN", 8000, payload_type=13),
    _audio("audio/telephone-event", 48000),
    _audio("audio/telephone-event", 32000),
    _audio("audio/telephone-event", 16000),
    _audio("audio/telephone-event", 8000),
    _video("video/VP8"),
    _video("video/VP9"),
    _video("video/H264", {"level-asymmetry-allowed": 1}),
    _video("video/AV1"),
]

# The ids are mediasoup 3.32's preferred ids. Consumers always use these ids
# and the media worker rewrites incoming extensions to them, so they only need
# to be unique per kind. Direction is the router's point of view: "recvonly"
# extensions (RID, repaired RID, dependency descriptor) are read from producers
# but never offered to consumers.
_HEADER_EXTENSIONS: list[dict[str, Any]] = [
    _extension("audio", "urn:ietf:params:rtp-hdrext:sdes:mid", 1, "sendrecv"),
    _extension("video", "urn:ietf:params:rtp-hdrext:sdes:mid", 1, "sendrecv"),
    _extension("video", "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", 2, "recvonly"),
    _extension("video", "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", 3, "recvonly"),
    _extension(
        "video", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", 4, "sendrecv"
    ),
    _extension(
        "audio",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        5,
        "sendrecv",
    ),
    _extension(
        "video",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        5,
        "sendrecv",
    ),
    _extension("audio", "urn:ietf:params:rtp-hdrext:ssrc-audio-level", 6, "sendrecv"),
    _extension(
        "video",
        "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension",
        7,
        "recvonly",
    ),
    _extension("video", "urn:3gpp:video-orientation", 8, "sendrecv"),
    _extension(
        "audio", "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time", 9, "sendrecv"
    ),
    _extension(
        "video", "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time", 9, "sendrecv"
    ),
    _extension(
        "audio", "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay", 10, "sendrecv"
    ),
    _extension(
        "video", "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay", 10, "sendrecv"
    ),
    _extension("audio", "urn:mediasoup:params:rtp-hdrext:packet-id", 11, "sendrecv"),
    _extension("video", "urn:mediasoup:params:rtp-hdrext:packet-id", 11, "sendrecv"),
]


def supported_rtp_capabilities() -> RtpCapabilities:
    """Return a fresh deep copy of the supported codecs and header extensions."""
    return {
        "codecs": copy.deepcopy(_CODECS),
        "headerExtensions": copy.deepcopy(_HEADER_EXTENSIONS),
    }

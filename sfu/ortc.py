"""RTP capability negotiation: router capabilities, producer mapping, consumer parameters.

These are the ORTC rules of mediasoup 3.32 (``node/src/ortc.ts`` plus the checks
its worker makes in ``RtpParameters.cpp`` and ``Producer.cpp``), so that an
unmodified mediasoup-client 3.x accepts what pysfu sends and sends what pysfu
accepts. Parameters are plain dictionaries with the camelCase keys of that wire
format.

Every function here is pure: it deep-copies its inputs, never modifies them and
returns new dictionaries. The only impure input is randomness for SSRCs, which
the functions that draw SSRCs take as an optional ``rng``.

Errors: ``InvalidParameterError`` is raised for a value of the wrong type or out
of range, and for parameters that contradict themselves, such as a duplicated
payload type. Its message names the field and the value. ``UnsupportedError`` is
raised for well-formed input that pysfu cannot serve, such as a codec that the
router lacks.
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections.abc import Callable, Iterable
from typing import Any

from sfu import h264_profile_level_id as h264
from sfu.errors import InvalidParameterError, UnsupportedError
from sfu.rtp_parameters import (
    ABS_CAPTURE_TIME_URI,
    ABS_SEND_TIME_URI,
    DEPENDENCY_DESCRIPTOR_URI,
    MID_URI,
    PROBATOR_PAYLOAD_TYPE,
    TRANSPORT_WIDE_CC_URI,
    MediaKind,
    ProducerType,
    RtcpFeedback,
    RtcpParameters,
    RtpCapabilities,
    RtpCodecCapability,
    RtpCodecParameters,
    RtpEncodingParameters,
    RtpHeaderExtension,
    RtpHeaderExtensionParameters,
    RtpMapping,
    RtpParameters,
    SctpStreamParameters,
)
from sfu.scalability_modes import parse_scalability_mode
from sfu.supported_rtp_capabilities import supported_rtp_capabilities

__all__ = [
    "DYNAMIC_PAYLOAD_TYPES",
    "SSRC_MAX",
    "SSRC_MIN",
    "can_consume",
    "disable_bwe_in_rtp_parameters",
    "generate_router_rtp_capabilities",
    "get_consumable_rtp_parameters",
    "get_consumer_rtp_parameters",
    "get_pipe_consumer_rtp_parameters",
    "get_producer_rtp_parameters_mapping",
    "get_producer_type",
    "validate_rtcp_feedback",
    "validate_rtcp_parameters",
    "validate_rtp_capabilities",
    "validate_rtp_codec_capability",
    "validate_rtp_codec_parameters",
    "validate_rtp_encoding_parameters",
    "validate_rtp_header_extension",
    "validate_rtp_header_extension_parameters",
    "validate_rtp_parameters",
    "validate_sctp_stream_parameters",
]

# Dynamic payload types in the order mediasoup hands them out (RFC 3551 §3
# reserves 96..127 for dynamic use). 127 is left out because mediasoup-client
# gives it to its bandwidth "probator" m-section, which copies the first video
# consumer's codec. If a router gave 127 to another codec, the bundled SDP
# would map one payload type to two codecs.
DYNAMIC_PAYLOAD_TYPES: tuple[int, ...] = (*range(100, 127), *range(96, 100))

# SSRCs that pysfu draws for mapped producer streams and consumer streams, as in
# mediasoup 3.32; the RTX SSRC of a consumer is the media SSRC + 1.
SSRC_MIN = 100_000_000
SSRC_MAX = 999_999_999

_MIME_TYPE_RE = re.compile(r"^(audio|video)/(.+)", re.IGNORECASE)
_EXTENSION_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_MAX_PAYLOAD_TYPE = 127
_MAX_EXTENSION_ID = 255
_MAX_CHANNELS = 255
_MAX_UINT32 = 0xFFFFFFFF
_MAX_SAFE_INTEGER = 2**53 - 1  # largest integer that a JavaScript number represents exactly
_MAX_VALUE_REPR = 80

# Codecs for which the media worker can forward one encoding with several
# layers ("svc") or several encodings ("simulcast"), as in mediasoup 3.32
# (worker/include/RTC/RTP/Codecs/Tools.hpp).
_SVC_MIME_TYPES = frozenset({"video/vp8", "video/vp9", "video/h264", "video/av1"})
_SIMULCAST_MIME_TYPES = frozenset({"video/vp8", "video/h264"})

_SYSTEM_RANDOM = random.SystemRandom()


# --------------------------------------------------------------------------
# Error helpers


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        text = text[: _MAX_VALUE_REPR - 3] + "..."
    return text


def _invalid(field: str, value: Any, expected: str) -> InvalidParameterError:
    return InvalidParameterError(f"invalid {field}: {_show(value)} (expected {expected})")


def _missing(field: str, expected: str) -> InvalidParameterError:
    return InvalidParameterError(f"missing {field} (expected {expected})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if _is_int(value):
        return True
    return isinstance(value, float) and math.isfinite(value)


# --------------------------------------------------------------------------
# Field checks that normalise a dictionary in place. The public validators
# below call them on a deep copy.


def _require_dict(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(field, value, "an object")
    return value


def _require_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(field, value, "a list")
    return value


def _check_int(
    obj: dict[str, Any], key: str, field: str, low: int, high: int, *, required: bool
) -> None:
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        if required:
            raise _missing(f"{field}.{key}", f"an integer in {low}..{high}")
        return
    if not _is_int(value) or not low <= value <= high:
        raise _invalid(f"{field}.{key}", value, f"an integer in {low}..{high}")


def _check_str(
    obj: dict[str, Any], key: str, field: str, *, required: bool, non_empty: bool = False
) -> None:
    value = obj.get(key)
    expected = "a non-empty string" if non_empty else "a string"
    if value is None:
        obj.pop(key, None)
        if required:
            raise _missing(f"{field}.{key}", expected)
        return
    if not isinstance(value, str) or (non_empty and not value):
        raise _invalid(f"{field}.{key}", value, expected)


def _check_bool(obj: dict[str, Any], key: str, field: str, default: bool) -> None:
    value = obj.get(key)
    if value is None:
        obj[key] = default
        return
    if not isinstance(value, bool):
        raise _invalid(f"{field}.{key}", value, "true or false")


def _normalize_list(
    obj: dict[str, Any],
    key: str,
    field: str,
    normalize: Callable[[Any, str], dict[str, Any]],
    *,
    required: bool = False,
) -> None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _missing(f"{field}.{key}", "a list")
        obj[key] = []
        return
    items = _require_list(value, f"{field}.{key}")
    obj[key] = [normalize(item, f"{field}.{key}[{i}]") for i, item in enumerate(items)]


def _normalize_mime_type(codec: dict[str, Any], field: str) -> MediaKind:
    mime_type = codec.get("mimeType")
    if mime_type is None or mime_type == "":
        raise _missing(f"{field}.mimeType", 'a string such as "video/VP8"')
    if not isinstance(mime_type, str):
        raise _invalid(f"{field}.mimeType", mime_type, 'a string such as "video/VP8"')
    match = _MIME_TYPE_RE.match(mime_type)
    if match is None:
        raise _invalid(f"{field}.mimeType", mime_type, '"audio/<name>" or "video/<name>"')
    return "audio" if match.group(1).lower() == "audio" else "video"


def _normalize_channels(codec: dict[str, Any], field: str, kind: MediaKind) -> None:
    # Audio defaults to one channel; video has no channel count at all.
    if kind == "video":
        codec.pop("channels", None)
        return
    if codec.get("channels") is None:
        codec["channels"] = 1
        return
    _check_int(codec, "channels", field, 1, _MAX_CHANNELS, required=True)


def _normalize_codec_fmtp(codec: dict[str, Any], field: str) -> None:
    # mediasoup-client rejects anything but strings and numbers here ("invalid
    # codec parameter"), booleans included, so pysfu never lets one through.
    parameters = codec.get("parameters")
    if parameters is None:
        codec["parameters"] = {}
        return
    _require_dict(parameters, f"{field}.parameters")
    for key, value in parameters.items():
        if not isinstance(key, str):
            raise _invalid(f"{field}.parameters key", key, "a string")
        name = f"{field}.parameters[{key!r}]"
        if not isinstance(value, str) and not _is_number(value):
            raise _invalid(name, value, "a string or a number")
        if key == "apt" and (not _is_int(value) or not 0 <= value <= _MAX_PAYLOAD_TYPE):
            raise _invalid(name, value, f"an integer payload type in 0..{_MAX_PAYLOAD_TYPE}")


def _normalize_codec_common(codec: dict[str, Any], field: str) -> MediaKind:
    kind = _normalize_mime_type(codec, field)
    if "kind" in codec:
        # Like mediasoup, the kind always follows the mimeType, whatever was given.
        codec["kind"] = kind
    _check_int(codec, "clockRate", field, 1, _MAX_UINT32, required=True)
    _normalize_channels(codec, field, kind)
    _normalize_codec_fmtp(codec, field)
    _normalize_list(codec, "rtcpFeedback", field, _normalize_rtcp_feedback)
    return kind


def _normalize_rtcp_feedback(value: Any, field: str) -> RtcpFeedback:
    fb = _require_dict(value, field)
    _check_str(fb, "type", field, required=True, non_empty=True)
    if fb.get("parameter") is None:
        fb["parameter"] = ""
    _check_str(fb, "parameter", field, required=True)
    return fb


def _normalize_codec_capability(value: Any, field: str) -> RtpCodecCapability:
    codec = _require_dict(value, field)
    codec["kind"] = _normalize_mime_type(codec, field)
    _check_int(codec, "preferredPayloadType", field, 0, _MAX_PAYLOAD_TYPE, required=False)
    _normalize_codec_common(codec, field)
    return codec


def _normalize_header_extension(value: Any, field: str) -> RtpHeaderExtension:
    ext = _require_dict(value, field)
    kind = ext.get("kind")
    if kind not in ("audio", "video"):
        raise _invalid(f"{field}.kind", kind, '"audio" or "video"')
    _check_str(ext, "uri", field, required=True, non_empty=True)
    _check_int(ext, "preferredId", field, 1, _MAX_EXTENSION_ID, required=True)
    _check_bool(ext, "preferredEncrypt", field, False)
    direction = ext.get("direction")
    if direction is None:
        ext["direction"] = "sendrecv"
    elif direction not in _EXTENSION_DIRECTIONS:
        raise _invalid(f"{field}.direction", direction, " or ".join(_EXTENSION_DIRECTIONS))
    return ext


def _normalize_capabilities(value: Any, field: str) -> RtpCapabilities:
    caps = _require_dict(value, field)
    _normalize_list(caps, "codecs", field, _normalize_codec_capability)
    _normalize_list(caps, "headerExtensions", field, _normalize_header_extension)
    return caps


def _normalize_codec_parameters(value: Any, field: str) -> RtpCodecParameters:
    codec = _require_dict(value, field)
    _check_int(codec, "payloadType", field, 0, _MAX_PAYLOAD_TYPE, required=True)
    _normalize_codec_common(codec, field)
    # An RTX codec is useless without the payload type it repairs (RFC 4588 §8.6).
    if _is_rtx(codec) and "apt" not in codec["parameters"]:
        raise _missing(f"{field}.parameters['apt']", "the payload type that this RTX repairs")
    return codec


def _normalize_header_extension_parameters(value: Any, field: str) -> RtpHeaderExtensionParameters:
    ext = _require_dict(value, field)
    _check_str(ext, "uri", field, required=True, non_empty=True)
    # RFC 8285 §4.2: id 0 is padding; two-byte headers reach 255.
    _check_int(ext, "id", field, 1, _MAX_EXTENSION_ID, required=True)
    _check_bool(ext, "encrypt", field, False)
    parameters = ext.get("parameters")
    if parameters is None:
        ext["parameters"] = {}
        return ext
    _require_dict(parameters, f"{field}.parameters")
    for key, item in parameters.items():
        if not isinstance(item, str) and not _is_number(item):
            raise _invalid(f"{field}.parameters[{key!r}]", item, "a string or a number")
    return ext


def _normalize_encoding(value: Any, field: str) -> RtpEncodingParameters:
    encoding = _require_dict(value, field)
    _check_int(encoding, "ssrc", field, 0, _MAX_UINT32, required=False)
    _check_str(encoding, "rid", field, required=False, non_empty=True)
    _check_int(encoding, "codecPayloadType", field, 0, _MAX_PAYLOAD_TYPE, required=False)
    rtx = encoding.get("rtx")
    if rtx is None:
        encoding.pop("rtx", None)
    else:
        _require_dict(rtx, f"{field}.rtx")
        _check_int(rtx, "ssrc", f"{field}.rtx", 0, _MAX_UINT32, required=True)
    _check_bool(encoding, "dtx", field, False)
    _check_str(encoding, "scalabilityMode", field, required=False)
    _check_int(encoding, "maxBitrate", field, 0, _MAX_SAFE_INTEGER, required=False)
    return encoding


def _normalize_rtcp(value: Any, field: str) -> RtcpParameters:
    rtcp = _require_dict(value, field)
    _check_str(rtcp, "cname", field, required=False)
    reduced_size = rtcp.get("reducedSize")
    if reduced_size is not None and not isinstance(reduced_size, bool):
        raise _invalid(f"{field}.reducedSize", reduced_size, "true or false")
    # pysfu, like mediasoup, always sends reduced-size RTCP (RFC 5506).
    rtcp["reducedSize"] = True
    return rtcp


def _normalize_rtp_parameters(value: Any, field: str) -> RtpParameters:
    params = _require_dict(value, field)
    _check_str(params, "mid", field, required=False)
    _normalize_list(params, "codecs", field, _normalize_codec_parameters, required=True)
    _normalize_list(params, "headerExtensions", field, _normalize_header_extension_parameters)
    _normalize_list(params, "encodings", field, _normalize_encoding)
    rtcp = params.get("rtcp")
    params["rtcp"] = _normalize_rtcp({} if rtcp is None else rtcp, f"{field}.rtcp")
    _check_str(params, "msid", field, required=False)
    return params


# --------------------------------------------------------------------------
# Public validators. Each returns a normalised deep copy and raises
# InvalidParameterError naming the first bad field.


def validate_rtp_capabilities(caps: Any, *, field: str = "rtpCapabilities") -> RtpCapabilities:
    """Validate RTP capabilities and return a normalised copy.

    Missing ``codecs``/``headerExtensions`` become empty lists, audio codecs get
    ``channels`` 1, ``kind`` follows the mimeType, and header extensions get
    ``preferredEncrypt`` false and ``direction`` "sendrecv".
    Raises InvalidParameterError.
    """
    return _normalize_capabilities(copy.deepcopy(caps), field)


def validate_rtp_codec_capability(codec: Any, *, field: str = "codec") -> RtpCodecCapability:
    """Validate one codec capability and return a normalised copy. Raises InvalidParameterError."""
    return _normalize_codec_capability(copy.deepcopy(codec), field)


def validate_rtcp_feedback(fb: Any, *, field: str = "rtcpFeedback") -> RtcpFeedback:
    """Validate one RTCP feedback entry; ``parameter`` defaults to "".

    Raises InvalidParameterError.
    """
    return _normalize_rtcp_feedback(copy.deepcopy(fb), field)


def validate_rtp_header_extension(
    ext: Any, *, field: str = "headerExtension"
) -> RtpHeaderExtension:
    """Validate one header extension capability. Raises InvalidParameterError."""
    return _normalize_header_extension(copy.deepcopy(ext), field)


def validate_rtp_parameters(params: Any, *, field: str = "rtpParameters") -> RtpParameters:
    """Validate RTP parameters and return a normalised copy.

    ``codecs`` is required; missing ``headerExtensions``/``encodings`` become
    empty lists, ``rtcp.reducedSize`` becomes true, encodings get ``dtx`` false.
    Unknown keys (such as the browser's ``active`` or ``scaleResolutionDownBy``
    in encodings) are kept. Raises InvalidParameterError.
    """
    return _normalize_rtp_parameters(copy.deepcopy(params), field)


def validate_rtp_codec_parameters(codec: Any, *, field: str = "codec") -> RtpCodecParameters:
    """Validate one codec of RTP parameters. Raises InvalidParameterError."""
    return _normalize_codec_parameters(copy.deepcopy(codec), field)


def validate_rtp_header_extension_parameters(
    ext: Any, *, field: str = "headerExtension"
) -> RtpHeaderExtensionParameters:
    """Validate one header extension of RTP parameters. Raises InvalidParameterError."""
    return _normalize_header_extension_parameters(copy.deepcopy(ext), field)


def validate_rtp_encoding_parameters(
    encoding: Any, *, field: str = "encoding"
) -> RtpEncodingParameters:
    """Validate one encoding of RTP parameters. Raises InvalidParameterError."""
    return _normalize_encoding(copy.deepcopy(encoding), field)


def validate_rtcp_parameters(rtcp: Any, *, field: str = "rtcp") -> RtcpParameters:
    """Validate RTCP parameters; ``reducedSize`` is always true. Raises InvalidParameterError."""
    return _normalize_rtcp(copy.deepcopy(rtcp), field)


def validate_sctp_stream_parameters(
    params: Any, *, field: str = "sctpStreamParameters"
) -> SctpStreamParameters:
    """Validate SCTP stream parameters of a data producer and return a normalised copy.

    ``ordered`` defaults to true, or to false when ``maxPacketLifeTime`` or
    ``maxRetransmits`` is given, because partial reliability needs unordered
    delivery (RFC 8831 §6.1). Raises InvalidParameterError.
    """
    out = _require_dict(copy.deepcopy(params), field)
    _check_int(out, "streamId", field, 0, 65534, required=True)
    _check_int(out, "maxPacketLifeTime", field, 0, 65535, required=False)
    _check_int(out, "maxRetransmits", field, 0, 65535, required=False)
    partial = "maxPacketLifeTime" in out or "maxRetransmits" in out
    if "maxPacketLifeTime" in out and "maxRetransmits" in out:
        raise InvalidParameterError(
            f"invalid {field}: maxPacketLifeTime and maxRetransmits are both given "
            "(expected at most one of them)"
        )

    ordered = out.get("ordered")
    if ordered is None:
        out["ordered"] = not partial
    elif not isinstance(ordered, bool):
        raise _invalid(f"{field}.ordered", ordered, "true or false")
    elif ordered and partial:
        raise InvalidParameterError(
            f"invalid {field}.ordered: True (expected false when maxPacketLifeTime "
            "or maxRetransmits is given)"
        )
    return out


# --------------------------------------------------------------------------
# Codec matching


def _is_rtx(codec: dict[str, Any]) -> bool:
    return str(codec.get("mimeType", "")).lower().endswith("/rtx")


def _fmtp_or_zero(parameters: dict[str, Any], key: str) -> Any:
    # mediasoup reads these as `value || 0`, so an absent, empty or zero value is 0.
    return parameters.get(key) or 0


def _codecs_match(a: dict[str, Any], b: dict[str, Any], *, strict: bool) -> bool:
    """Return whether two normalised codecs describe the same codec (mediasoup ``matchCodecs``).

    Loose matching compares mimeType, clock rate and channels (plus the stream
    layout of multiopus). Strict matching also compares the parameters that change
    the bitstream: H.264 packetization-mode and profile (RFC 6184 §8.1), and VP9
    profile-id.
    """
    mime_type = a["mimeType"].lower()
    if mime_type != b["mimeType"].lower():
        return False
    if a["clockRate"] != b["clockRate"] or a.get("channels") != b.get("channels"):
        return False

    a_params = a["parameters"]
    b_params = b["parameters"]
    if mime_type == "audio/multiopus":
        same_streams: bool = a_params.get("num_streams") == b_params.get("num_streams")
        same_coupled: bool = a_params.get("coupled_streams") == b_params.get("coupled_streams")
        return same_streams and same_coupled
    if not strict:
        return True
    if mime_type == "video/h264":
        return _h264_match(a_params, b_params)
    if mime_type == "video/vp9":
        same_profile: bool = _fmtp_or_zero(a_params, "profile-id") == _fmtp_or_zero(
            b_params, "profile-id"
        )
        return same_profile
    return True


def _h264_match(a_params: dict[str, Any], b_params: dict[str, Any]) -> bool:
    if _fmtp_or_zero(a_params, "packetization-mode") != _fmtp_or_zero(
        b_params, "packetization-mode"
    ):
        return False
    if not h264.is_same_profile(a_params, b_params):
        return False
    # Levels never make a mismatch, but an answer must be computable.
    try:
        h264.generate_profile_level_id_for_answer(a_params, b_params)
    except ValueError:
        return False
    return True


def _apply_h264_answer(codec: dict[str, Any], router_codec: dict[str, Any]) -> None:
    """Rewrite a producer codec's ``profile-level-id`` to the answer the router gives it.

    This is mediasoup's ``matchCodecs(..., {modify: true})``: the browser sends at
    the level that the router's answer allowed, so consumers must see that value.
    """
    if codec["mimeType"].lower() != "video/h264":
        return
    answer = h264.generate_profile_level_id_for_answer(
        codec["parameters"], router_codec["parameters"]
    )
    if answer is None:
        codec["parameters"].pop("profile-level-id", None)
    else:
        codec["parameters"]["profile-level-id"] = answer


def _codec_by_payload_type(
    codecs: Iterable[dict[str, Any]], payload_type: Any, key: str = "payloadType"
) -> dict[str, Any] | None:
    return next((codec for codec in codecs if codec.get(key) == payload_type), None)


def _rtx_for(codecs: Iterable[dict[str, Any]], payload_type: Any) -> dict[str, Any] | None:
    """Return the RTX codec whose ``apt`` is ``payload_type``, if any."""
    return next(
        (c for c in codecs if _is_rtx(c) and c["parameters"].get("apt") == payload_type), None
    )


def _strict_match(
    candidates: Iterable[dict[str, Any]], codec: dict[str, Any], *, candidate_first: bool
) -> dict[str, Any] | None:
    """Return the first candidate that strictly matches ``codec``.

    ``candidate_first`` puts the candidate in the "local" position of the H.264
    answer computation, as mediasoup does when it matches device capabilities.
    """
    for candidate in candidates:
        pair = (candidate, codec) if candidate_first else (codec, candidate)
        if _codecs_match(*pair, strict=True):
            return candidate
    return None


def _describe_codec(codec: dict[str, Any]) -> str:
    text = f"{codec['mimeType']}/{codec['clockRate']}"
    if "channels" in codec:
        text += f"/{codec['channels']}"
    return text


# --------------------------------------------------------------------------
# Router capabilities


def generate_router_rtp_capabilities(
    media_codecs: list[dict[str, Any]] | None,
) -> RtpCapabilities:
    """Build a router's RTP capabilities from the application's ``mediaCodecs``.

    Each media codec must loosely match a supported codec (mimeType, clock rate,
    channels; so Opus needs ``channels: 2``). It takes the application's
    ``preferredPayloadType``, else the codec's static payload type, else the next
    free one of :data:`DYNAMIC_PAYLOAD_TYPES`. Its parameters are the supported
    ones overlaid with the application's; its RTCP feedback is the supported one.
    Every video codec is followed by an RTX entry (RFC 4588) with the next free
    dynamic payload type. The header extensions are the full supported list.

    Raises InvalidParameterError for malformed codecs, a duplicated payload type,
    payload type 127 (kept for mediasoup-client's probator) or running out of
    dynamic payload types, and UnsupportedError for a codec pysfu cannot route.
    """
    if media_codecs is None:
        media_codecs = []
    _require_list(media_codecs, "mediaCodecs")

    supported = supported_rtp_capabilities()
    free_payload_types = list(DYNAMIC_PAYLOAD_TYPES)
    codecs: list[RtpCodecCapability] = []

    for index, raw_codec in enumerate(media_codecs):
        field = f"mediaCodecs[{index}]"
        media_codec = validate_rtp_codec_capability(raw_codec, field=field)
        supported_codec = next(
            (c for c in supported["codecs"] if _codecs_match(media_codec, c, strict=False)),
            None,
        )
        if supported_codec is None:
            raise UnsupportedError(
                f"media codec not supported: {field} is {_describe_codec(media_codec)}"
            )

        payload_type = _choose_payload_type(media_codec, supported_codec, free_payload_types, field)
        if any(c["preferredPayloadType"] == payload_type for c in codecs):
            raise InvalidParameterError(
                f"invalid {field}.preferredPayloadType: {payload_type} "
                "(expected a payload type not used by an earlier codec or its RTX)"
            )

        codec = _router_codec(supported_codec, payload_type, media_codec["parameters"])
        codecs.append(codec)
        if codec["kind"] == "video":
            rtx_payload_type = _take_dynamic_payload_type(free_payload_types, field)
            codecs.append(_router_rtx_codec(codec, rtx_payload_type))

    return {"codecs": codecs, "headerExtensions": supported["headerExtensions"]}


def _choose_payload_type(
    media_codec: dict[str, Any],
    supported_codec: dict[str, Any],
    free_payload_types: list[int],
    field: str,
) -> int:
    requested = media_codec.get("preferredPayloadType")
    if requested is not None:
        if requested == PROBATOR_PAYLOAD_TYPE:
            raise _invalid(
                f"{field}.preferredPayloadType",
                requested,
                "any payload type but 127, which mediasoup-client uses for its probator",
            )
        if requested in free_payload_types:
            free_payload_types.remove(requested)
        return int(requested)

    static_payload_type = supported_codec.get("preferredPayloadType")
    if static_payload_type is not None:
        return int(static_payload_type)
    return _take_dynamic_payload_type(free_payload_types, field)


def _take_dynamic_payload_type(free_payload_types: list[int], field: str) -> int:
    if not free_payload_types:
        raise InvalidParameterError(
            f"invalid mediaCodecs: no dynamic payload type left for {field} "
            f"(expected at most {len(DYNAMIC_PAYLOAD_TYPES)} dynamic payload types, "
            "counting one RTX per video codec)"
        )
    return free_payload_types.pop(0)


def _router_codec(
    supported_codec: dict[str, Any], payload_type: int, app_parameters: dict[str, Any]
) -> RtpCodecCapability:
    codec: RtpCodecCapability = {
        "kind": supported_codec["kind"],
        "mimeType": supported_codec["mimeType"],
        "preferredPayloadType": payload_type,
        "clockRate": supported_codec["clockRate"],
    }
    if "channels" in supported_codec:
        codec["channels"] = supported_codec["channels"]
    codec["parameters"] = {**supported_codec["parameters"], **app_parameters}
    codec["rtcpFeedback"] = copy.deepcopy(supported_codec["rtcpFeedback"])
    return codec


def _router_rtx_codec(codec: dict[str, Any], payload_type: int) -> RtpCodecCapability:
    return {
        "kind": codec["kind"],
        "mimeType": f"{codec['kind']}/rtx",
        "preferredPayloadType": payload_type,
        "clockRate": codec["clockRate"],
        "parameters": {"apt": codec["preferredPayloadType"]},
        "rtcpFeedback": [],
    }


# --------------------------------------------------------------------------
# Producer checks and type


def _check_producer_codecs(params: RtpParameters) -> None:
    """Check the codec list as mediasoup's worker does (RtpParameters::ValidateCodecs)."""
    codecs = params["codecs"]
    if not codecs:
        raise InvalidParameterError(
            "invalid rtpParameters.codecs: [] (expected at least one media codec)"
        )

    seen: set[int] = set()
    for index, codec in enumerate(codecs):
        payload_type = codec["payloadType"]
        if payload_type in seen:
            raise InvalidParameterError(
                f"invalid rtpParameters.codecs[{index}].payloadType: {payload_type} "
                "(expected a payload type not used by another codec)"
            )
        seen.add(payload_type)

    for index, codec in enumerate(codecs):
        if not _is_rtx(codec):
            continue
        apt = codec["parameters"]["apt"]
        target = _codec_by_payload_type(codecs, apt)
        if target is None or _is_rtx(target):
            raise _invalid(
                f"rtpParameters.codecs[{index}].parameters['apt']",
                apt,
                "the payload type of a media codec in rtpParameters.codecs",
            )

    if all(_is_rtx(codec) for codec in codecs):
        raise InvalidParameterError(
            "invalid rtpParameters.codecs: only RTX codecs (expected at least one media codec)"
        )


def _first_media_codec(params: RtpParameters) -> dict[str, Any]:
    codec: dict[str, Any] = next(c for c in params["codecs"] if not _is_rtx(c))
    return codec


def _codec_for_encoding(params: RtpParameters, index: int) -> dict[str, Any]:
    encoding = params["encodings"][index]
    payload_type = encoding.get("codecPayloadType")
    if payload_type is None:
        return _first_media_codec(params)
    codec = _codec_by_payload_type(params["codecs"], payload_type)
    if codec is None or _is_rtx(codec):
        raise _invalid(
            f"rtpParameters.encodings[{index}].codecPayloadType",
            payload_type,
            "the payload type of a media codec in rtpParameters.codecs",
        )
    return codec


def _check_producer_encodings(params: RtpParameters) -> None:
    """Check encodings as mediasoup's worker does (ValidateEncodings and Producer)."""
    encodings = params["encodings"]
    simulcast = len(encodings) > 1

    for index, encoding in enumerate(encodings):
        field = f"rtpParameters.encodings[{index}]"
        _codec_for_encoding(params, index)
        mode = encoding.get("scalabilityMode")
        if simulcast and parse_scalability_mode(mode).spatial_layers > 1:
            raise _invalid(
                f"{field}.scalabilityMode",
                mode,
                "one spatial layer per encoding when there are several encodings",
            )
        if simulcast and "ssrc" not in encoding and "rid" not in encoding:
            raise _missing(
                f"{field}.ssrc or {field}.rid", "one of them in every simulcast encoding"
            )

    if len(encodings) == 1 and not params.get("mid"):
        encoding = encodings[0]
        if "ssrc" not in encoding and "rid" not in encoding:
            raise _missing(
                "rtpParameters.mid or rtpParameters.encodings[0].ssrc or .rid",
                "one of them, so that incoming packets can be matched to the producer",
            )

    _check_unique(encodings, "ssrc")
    _check_unique(encodings, "rid")


def _check_unique(encodings: list[dict[str, Any]], key: str) -> None:
    seen: set[Any] = set()
    for index, encoding in enumerate(encodings):
        value = encoding.get(key)
        if value is None:
            continue
        if value in seen:
            raise _invalid(
                f"rtpParameters.encodings[{index}].{key}",
                value,
                f"a {key} not used by another encoding",
            )
        seen.add(value)


def _check_unique_extension_ids(params: RtpParameters) -> None:
    seen: set[int] = set()
    for index, ext in enumerate(params["headerExtensions"]):
        if ext["id"] in seen:
            raise _invalid(
                f"rtpParameters.headerExtensions[{index}].id",
                ext["id"],
                "an id not used by another header extension",
            )
        seen.add(ext["id"])


def _with_default_encoding(params: RtpParameters) -> RtpParameters:
    # A producer without encodings sends one stream; mediasoup's Transport.produce
    # adds this encoding before computing the mapping.
    if not params["encodings"]:
        params["encodings"] = [{}]
    return params


def _producer_type(params: RtpParameters) -> ProducerType:
    encodings = params["encodings"]
    codec = _codec_for_encoding(params, 0)
    mime_type = codec["mimeType"].lower()

    if len(encodings) > 1:
        if mime_type not in _SIMULCAST_MIME_TYPES:
            raise UnsupportedError(
                f"{codec['mimeType']} codec not supported for simulcast "
                f"({len(encodings)} encodings); simulcast needs VP8 or H264"
            )
        return "simulcast"

    mode = parse_scalability_mode(encodings[0].get("scalabilityMode"))
    if mode.spatial_layers == 1 and mode.temporal_layers == 1:
        return "simple"
    if mime_type in _SVC_MIME_TYPES:
        return "svc"
    raise UnsupportedError(
        f"{codec['mimeType']} codec not supported for scalabilityMode "
        f"{encodings[0]['scalabilityMode']!r}; layers need VP8, VP9, H264 or AV1"
    )


def _validated_producer_parameters(rtp_parameters: RtpParameters) -> RtpParameters:
    params = _with_default_encoding(validate_rtp_parameters(rtp_parameters))
    _check_producer_codecs(params)
    _check_unique_extension_ids(params)
    _check_producer_encodings(params)
    _producer_type(params)
    return params


def get_producer_type(rtp_parameters: RtpParameters) -> ProducerType:
    """Classify a producer as mediasoup 3.32 does.

    One encoding without layers is "simple"; one encoding whose scalabilityMode
    has several spatial or temporal layers is "svc" (VP8, VP9, H264, AV1); several
    encodings are "simulcast" (VP8, H264). No encodings counts as one.

    Raises InvalidParameterError for malformed parameters and UnsupportedError for
    layers on a codec that cannot carry them, such as Opus with L1T3 or VP9 with
    several encodings.
    """
    return _producer_type(_validated_producer_parameters(rtp_parameters))


# --------------------------------------------------------------------------
# Producer mapping and consumable parameters


def _random_ssrc(rng: random.Random | None) -> int:
    return (rng or _SYSTEM_RANDOM).randint(SSRC_MIN, SSRC_MAX)


def _check_router_codec_match(
    params: RtpParameters, router_caps: RtpCapabilities
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pair each producer codec with the router codec it maps to, media codecs first."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for codec in params["codecs"]:
        if _is_rtx(codec):
            continue
        router_codec = _strict_match(router_caps["codecs"], codec, candidate_first=False)
        if router_codec is None:
            raise UnsupportedError(
                f"unsupported codec [mimeType:{codec['mimeType']}, "
                f"payloadType:{codec['payloadType']}]: the router has no matching codec"
            )
        pairs.append((codec, router_codec))

    for codec in params["codecs"]:
        if not _is_rtx(codec):
            continue
        apt = codec["parameters"]["apt"]
        router_media = next(rc for pc, rc in pairs if pc["payloadType"] == apt)
        router_rtx = _rtx_for(router_caps["codecs"], router_media["preferredPayloadType"])
        if router_rtx is None:
            raise UnsupportedError(
                f"no RTX codec for capability codec PT {router_media['preferredPayloadType']} "
                f"(the producer's RTX payload type {codec['payloadType']} has nothing to map to)"
            )
        pairs.append((codec, router_rtx))
    return pairs


def get_producer_rtp_parameters_mapping(
    rtp_parameters: RtpParameters,
    router_caps: RtpCapabilities,
    *,
    rng: random.Random | None = None,
) -> RtpMapping:
    """Map a producer's payload types and streams to the router's values.

    Every media codec must strictly match a router codec (H.264 profile and
    packetization-mode, VP9 profile-id); every RTX codec must repair a media codec
    of the producer whose router codec also has RTX. Encodings get consecutive
    ``mappedSsrc`` values from a random base in [SSRC_MIN, SSRC_MAX]; empty
    ``encodings`` count as one encoding. The media worker rewrites incoming
    packets to ``mappedPayloadType`` and ``mappedSsrc``.

    Returns ``{"codecs": [{"payloadType", "mappedPayloadType"}], "encodings":
    [{"ssrc"?, "rid"?, "scalabilityMode"?, "mappedSsrc"}]}``.

    Raises InvalidParameterError for malformed or contradictory parameters
    (duplicated payload type, RTX whose apt names no media codec, simulcast
    encodings without ssrc or rid) and UnsupportedError for a codec, RTX or
    layer structure the router cannot serve.
    """
    params = _validated_producer_parameters(rtp_parameters)
    caps = validate_rtp_capabilities(router_caps, field="routerRtpCapabilities")
    pairs = _check_router_codec_match(params, caps)

    mapping_codecs = [
        {
            "payloadType": codec["payloadType"],
            "mappedPayloadType": router_codec["preferredPayloadType"],
        }
        for codec, router_codec in pairs
    ]

    base_ssrc = _random_ssrc(rng)
    mapping_encodings: list[dict[str, Any]] = []
    for index, encoding in enumerate(params["encodings"]):
        entry: dict[str, Any] = {}
        for key in ("ssrc", "rid", "scalabilityMode"):
            if key in encoding:
                entry[key] = encoding[key]
        entry["mappedSsrc"] = base_ssrc + index
        mapping_encodings.append(entry)

    return {"codecs": mapping_codecs, "encodings": mapping_encodings}


def _validated_mapping(mapping: Any, encoding_count: int) -> RtpMapping:
    out = _require_dict(copy.deepcopy(mapping), "rtpMapping")
    codecs = _require_list(out.get("codecs"), "rtpMapping.codecs")
    for index, entry in enumerate(codecs):
        field = f"rtpMapping.codecs[{index}]"
        _require_dict(entry, field)
        _check_int(entry, "payloadType", field, 0, _MAX_PAYLOAD_TYPE, required=True)
        _check_int(entry, "mappedPayloadType", field, 0, _MAX_PAYLOAD_TYPE, required=True)
    encodings = _require_list(out.get("encodings"), "rtpMapping.encodings")
    for index, entry in enumerate(encodings):
        field = f"rtpMapping.encodings[{index}]"
        _require_dict(entry, field)
        _check_int(entry, "mappedSsrc", field, 0, _MAX_UINT32, required=True)
    if len(encodings) != encoding_count:
        raise InvalidParameterError(
            f"invalid rtpMapping.encodings: {len(encodings)} entries "
            f"(expected {encoding_count}, one per producer encoding)"
        )
    return out


def get_consumable_rtp_parameters(
    kind: str,
    rtp_parameters: RtpParameters,
    router_caps: RtpCapabilities,
    mapping: RtpMapping,
) -> RtpParameters:
    """Build the router-side view of a producer that its consumers are derived from.

    Codecs take the router's mimeType, payload type, clock rate, channels and RTCP
    feedback with the producer's parameters (H.264 ``profile-level-id`` set to the
    router's answer), each followed by the router's RTX for it. Header extensions
    are the router's of the same kind that consumers may receive (direction
    "sendrecv" or "sendonly"), with abs-capture-time only if the producer sent it,
    because the worker only forwards that extension. Encodings are the producer's
    without ``rid``/``rtx``/``codecPayloadType`` and with ``ssrc`` set to the
    mapped SSRC. RTCP carries the producer's cname.

    Raises InvalidParameterError for malformed input or a mapping that does not
    fit the parameters, and UnsupportedError as the mapping does.
    """
    if kind not in ("audio", "video"):
        raise _invalid("kind", kind, '"audio" or "video"')
    params = _validated_producer_parameters(rtp_parameters)
    caps = validate_rtp_capabilities(router_caps, field="routerRtpCapabilities")
    rtp_mapping = _validated_mapping(mapping, len(params["encodings"]))

    codecs: list[RtpCodecParameters] = []
    for codec in params["codecs"]:
        if _is_rtx(codec):
            continue
        router_codec = _router_codec_for(codec, caps, rtp_mapping)
        _apply_h264_answer(codec, router_codec)
        codecs.append(_consumable_codec(router_codec, codec["parameters"]))
        router_rtx = _rtx_for(caps["codecs"], router_codec["preferredPayloadType"])
        if router_rtx is not None:
            codecs.append(_consumable_codec(router_rtx, router_rtx["parameters"]))

    producer_uris = {ext["uri"] for ext in params["headerExtensions"]}
    header_extensions = [
        {
            "uri": ext["uri"],
            "id": ext["preferredId"],
            "encrypt": ext["preferredEncrypt"],
            "parameters": {},
        }
        for ext in caps["headerExtensions"]
        if ext["kind"] == kind
        and ext["direction"] in ("sendrecv", "sendonly")
        and (ext["uri"] != ABS_CAPTURE_TIME_URI or ext["uri"] in producer_uris)
    ]

    encodings: list[RtpEncodingParameters] = []
    for encoding, entry in zip(params["encodings"], rtp_mapping["encodings"], strict=True):
        consumable_encoding = {
            key: value
            for key, value in encoding.items()
            if key not in ("rid", "rtx", "codecPayloadType")
        }
        consumable_encoding["ssrc"] = entry["mappedSsrc"]
        encodings.append(consumable_encoding)

    rtcp: RtcpParameters = {}
    if "cname" in params["rtcp"]:
        rtcp["cname"] = params["rtcp"]["cname"]
    rtcp["reducedSize"] = True

    consumable: RtpParameters = {
        "codecs": codecs,
        "headerExtensions": header_extensions,
        "encodings": encodings,
        "rtcp": rtcp,
    }
    if "msid" in params:
        consumable["msid"] = params["msid"]
    return consumable


def _router_codec_for(
    codec: dict[str, Any], caps: RtpCapabilities, mapping: RtpMapping
) -> dict[str, Any]:
    entry = _codec_by_payload_type(mapping["codecs"], codec["payloadType"])
    if entry is None:
        raise InvalidParameterError(
            f"invalid rtpMapping.codecs: no entry for payload type {codec['payloadType']} "
            "(expected the mapping computed from these rtpParameters)"
        )
    router_codec = _codec_by_payload_type(
        caps["codecs"], entry["mappedPayloadType"], key="preferredPayloadType"
    )
    if router_codec is None or not _codecs_match(codec, router_codec, strict=True):
        raise InvalidParameterError(
            f"invalid rtpMapping.codecs: payload type {codec['payloadType']} maps to "
            f"{entry['mappedPayloadType']}, which is not a matching router codec"
        )
    return router_codec


def _consumable_codec(
    router_codec: dict[str, Any], parameters: dict[str, Any]
) -> RtpCodecParameters:
    codec: RtpCodecParameters = {
        "mimeType": router_codec["mimeType"],
        "payloadType": router_codec["preferredPayloadType"],
        "clockRate": router_codec["clockRate"],
    }
    if "channels" in router_codec:
        codec["channels"] = router_codec["channels"]
    codec["parameters"] = copy.deepcopy(parameters)
    codec["rtcpFeedback"] = copy.deepcopy(router_codec["rtcpFeedback"])
    return codec


# --------------------------------------------------------------------------
# Consumers


def can_consume(consumable_rtp_parameters: RtpParameters, caps: RtpCapabilities) -> bool:
    """Return whether a device with receive capabilities ``caps`` can consume a producer.

    True if at least one consumable codec strictly matches a device codec and the
    first such codec is a media codec, not RTX. Raises InvalidParameterError if
    either argument is malformed.
    """
    consumable = validate_rtp_parameters(consumable_rtp_parameters, field="consumableRtpParameters")
    device_caps = validate_rtp_capabilities(caps)

    matching = [
        codec
        for codec in consumable["codecs"]
        if any(_codecs_match(device, codec, strict=True) for device in device_caps["codecs"])
    ]
    return bool(matching) and not _is_rtx(matching[0])


def _reduce_feedback_for_bwe(
    codecs: list[RtpCodecParameters], header_extensions: list[dict[str, Any]]
) -> None:
    # Use transport-cc when its extension is negotiated, REMB when only
    # abs-send-time is, and neither otherwise, as mediasoup does.
    uris = {ext["uri"] for ext in header_extensions}
    if TRANSPORT_WIDE_CC_URI in uris:
        dropped: tuple[str, ...] = ("goog-remb",)
    elif ABS_SEND_TIME_URI in uris:
        dropped = ("transport-cc",)
    else:
        dropped = ("transport-cc", "goog-remb")
    for codec in codecs:
        codec["rtcpFeedback"] = [fb for fb in codec["rtcpFeedback"] if fb["type"] not in dropped]


def _consumer_codecs(
    consumable: RtpParameters, device_caps: RtpCapabilities, *, enable_rtx: bool
) -> tuple[list[RtpCodecParameters], bool]:
    codecs: list[RtpCodecParameters] = []
    for codec in consumable["codecs"]:
        if not enable_rtx and _is_rtx(codec):
            continue
        device_codec = _strict_match(device_caps["codecs"], codec, candidate_first=True)
        if device_codec is None:
            continue
        # The device's feedback for this codec; plain NACK only when RTX is on
        # (PLI and FIR are "nack pli" and "ccm fir", which stay).
        feedback = [
            fb
            for fb in device_codec["rtcpFeedback"]
            if enable_rtx or fb["type"] != "nack" or fb["parameter"]
        ]
        codecs.append({**codec, "rtcpFeedback": copy.deepcopy(feedback)})

    media_payload_types = {c["payloadType"] for c in codecs if not _is_rtx(c)}
    kept = [
        codec
        for codec in codecs
        if not _is_rtx(codec) or codec["parameters"].get("apt") in media_payload_types
    ]
    rtx_supported = any(_is_rtx(codec) for codec in kept)
    return kept, rtx_supported


def _scalability_mode_for_consumer(encodings: list[dict[str, Any]]) -> str | None:
    # The consumer gets one stream; for simulcast its mode says how many
    # producer encodings the worker can switch between, e.g. three L1T3 -> L3T3.
    mode = next((e["scalabilityMode"] for e in encodings if e.get("scalabilityMode")), None)
    if len(encodings) > 1:
        temporal_layers = parse_scalability_mode(mode).temporal_layers
        return f"L{len(encodings)}T{temporal_layers}"
    return mode


def get_consumer_rtp_parameters(
    consumable_rtp_parameters: RtpParameters,
    remote_rtp_capabilities: RtpCapabilities,
    *,
    pipe: bool,
    enable_rtx: bool,
    enable_bwe: bool = True,
    rng: random.Random | None = None,
) -> RtpParameters:
    """Build a consumer's RTP parameters for a device's receive capabilities.

    Keeps the consumable codecs that strictly match a device codec, in consumable
    order, each with the device's RTCP feedback (minus plain NACK without RTX);
    drops RTX when ``enable_rtx`` is false or when its media codec was dropped.
    Keeps the header extensions whose (uri, id) the device lists, minus
    abs-send-time and transport-cc when ``enable_bwe`` is false, and trims the
    bandwidth feedback to what those extensions support.

    Unless ``pipe``, there is one encoding with a random SSRC in
    [SSRC_MIN, SSRC_MAX], RTX SSRC = SSRC + 1 when RTX is kept, the producer's
    scalabilityMode (``L<encodings>T<temporal layers>`` for simulcast) and the
    highest maxBitrate. With ``pipe`` every producer encoding is kept with
    consecutive SSRCs. The caller sets ``mid``.

    Raises InvalidParameterError for malformed input and UnsupportedError when no
    media codec is compatible.
    """
    consumable = validate_rtp_parameters(consumable_rtp_parameters, field="consumableRtpParameters")
    device_caps = validate_rtp_capabilities(remote_rtp_capabilities)

    codecs, rtx_supported = _consumer_codecs(consumable, device_caps, enable_rtx=enable_rtx)
    if not codecs or _is_rtx(codecs[0]):
        media = ", ".join(_describe_codec(c) for c in consumable["codecs"] if not _is_rtx(c))
        raise UnsupportedError(
            f"no compatible media codecs: rtpCapabilities has no strict match for {media}"
        )

    device_extensions = {
        (ext["uri"], ext["preferredId"]) for ext in device_caps["headerExtensions"]
    }
    header_extensions = [
        ext
        for ext in consumable["headerExtensions"]
        if (ext["uri"], ext["id"]) in device_extensions
    ]
    if not enable_bwe:
        header_extensions = [
            ext
            for ext in header_extensions
            if ext["uri"] not in (ABS_SEND_TIME_URI, TRANSPORT_WIDE_CC_URI)
        ]
    _reduce_feedback_for_bwe(codecs, header_extensions)

    if pipe:
        encodings = _pipe_encodings(consumable["encodings"], rtx=rtx_supported, rng=rng)
    else:
        encodings = [_single_consumer_encoding(consumable["encodings"], rtx_supported, rng)]

    consumer: RtpParameters = {
        "codecs": codecs,
        "headerExtensions": header_extensions,
        "encodings": encodings,
        "rtcp": consumable["rtcp"],
    }
    if "msid" in consumable:
        consumer["msid"] = consumable["msid"]
    return consumer


def _single_consumer_encoding(
    producer_encodings: list[dict[str, Any]], rtx: bool, rng: random.Random | None
) -> RtpEncodingParameters:
    encoding: RtpEncodingParameters = {"ssrc": _random_ssrc(rng)}
    if rtx:
        encoding["rtx"] = {"ssrc": encoding["ssrc"] + 1}

    mode = _scalability_mode_for_consumer(producer_encodings)
    if mode:
        encoding["scalabilityMode"] = mode

    max_bitrate = max((e.get("maxBitrate") or 0 for e in producer_encodings), default=0)
    if max_bitrate:
        encoding["maxBitrate"] = max_bitrate
    return encoding


def _pipe_encodings(
    producer_encodings: list[dict[str, Any]], *, rtx: bool, rng: random.Random | None
) -> list[RtpEncodingParameters]:
    count = len(producer_encodings)
    base_ssrc = _random_ssrc(rng)
    base_rtx_ssrc = _random_ssrc(rng)
    # Redraw until the media and RTX SSRC ranges do not overlap.
    while abs(base_rtx_ssrc - base_ssrc) < count:
        base_rtx_ssrc = _random_ssrc(rng)

    encodings: list[RtpEncodingParameters] = []
    for index, producer_encoding in enumerate(producer_encodings):
        encoding = copy.deepcopy(producer_encoding)
        encoding["ssrc"] = base_ssrc + index
        if rtx:
            encoding["rtx"] = {"ssrc": base_rtx_ssrc + index}
        else:
            encoding.pop("rtx", None)
        encodings.append(encoding)
    return encodings


def get_pipe_consumer_rtp_parameters(
    consumable_rtp_parameters: RtpParameters,
    *,
    enable_rtx: bool = False,
    router_rtp_capabilities: RtpCapabilities | None = None,
    rng: random.Random | None = None,
) -> RtpParameters:
    """Build the RTP parameters of a pipe consumer, which forwards every producer stream.

    Keeps all codecs (RTX only with ``enable_rtx``) with their RTCP feedback minus
    goog-remb and transport-cc, because a pipe transport runs no bandwidth
    estimation, and minus plain NACK without RTX. Drops the MID, abs-send-time
    and transport-cc extensions and adds the dependency-descriptor extension of
    the router (video only), which the receiving router needs to tell layers
    apart; the router's extensions default to :func:`supported_rtp_capabilities`,
    which is what every router uses. Every encoding is kept with consecutive
    random SSRCs, and RTX SSRCs when ``enable_rtx``.

    Raises InvalidParameterError for malformed input.
    """
    consumable = validate_rtp_parameters(consumable_rtp_parameters, field="consumableRtpParameters")
    if not consumable["codecs"]:
        raise InvalidParameterError(
            "invalid consumableRtpParameters.codecs: [] (expected at least one media codec)"
        )
    router_caps = validate_rtp_capabilities(
        supported_rtp_capabilities()
        if router_rtp_capabilities is None
        else router_rtp_capabilities,
        field="routerRtpCapabilities",
    )
    kind = _normalize_mime_type(consumable["codecs"][0], "consumableRtpParameters.codecs[0]")

    codecs: list[RtpCodecParameters] = []
    for codec in consumable["codecs"]:
        if not enable_rtx and _is_rtx(codec):
            continue
        codec["rtcpFeedback"] = [
            fb
            for fb in codec["rtcpFeedback"]
            if fb["type"] not in ("goog-remb", "transport-cc")
            and (enable_rtx or fb["type"] != "nack" or fb["parameter"])
        ]
        codecs.append(codec)

    header_extensions = [
        ext
        for ext in consumable["headerExtensions"]
        if ext["uri"] not in (MID_URI, ABS_SEND_TIME_URI, TRANSPORT_WIDE_CC_URI)
    ]
    dependency_descriptor = next(
        (
            ext
            for ext in router_caps["headerExtensions"]
            if ext["kind"] == kind
            and ext["uri"] == DEPENDENCY_DESCRIPTOR_URI
            and ext["direction"] not in ("sendrecv", "sendonly")
        ),
        None,
    )
    if dependency_descriptor is not None and not any(
        ext["uri"] == DEPENDENCY_DESCRIPTOR_URI for ext in header_extensions
    ):
        header_extensions.append(
            {
                "uri": dependency_descriptor["uri"],
                "id": dependency_descriptor["preferredId"],
                "encrypt": dependency_descriptor["preferredEncrypt"],
                "parameters": {},
            }
        )
        header_extensions.sort(key=lambda ext: ext["id"])

    consumer: RtpParameters = {
        "codecs": codecs,
        "headerExtensions": header_extensions,
        "encodings": _pipe_encodings(consumable["encodings"], rtx=enable_rtx, rng=rng),
        "rtcp": consumable["rtcp"],
    }
    if "msid" in consumable:
        consumer["msid"] = consumable["msid"]
    return consumer


def disable_bwe_in_rtp_parameters(rtp_parameters: RtpParameters) -> RtpParameters:
    """Return a copy without abs-send-time, transport-cc, goog-remb and transport-cc feedback.

    For producers on a transport created with bandwidth estimation off, which must
    not negotiate it. Raises InvalidParameterError for malformed parameters.
    """
    params = validate_rtp_parameters(rtp_parameters)
    params["headerExtensions"] = [
        ext
        for ext in params["headerExtensions"]
        if ext["uri"] not in (ABS_SEND_TIME_URI, TRANSPORT_WIDE_CC_URI)
    ]
    for codec in params["codecs"]:
        codec["rtcpFeedback"] = [
            fb for fb in codec["rtcpFeedback"] if fb["type"] not in ("transport-cc", "goog-remb")
        ]
    return params

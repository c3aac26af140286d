"""Typed room requests, parsed from socket.io payloads.

Each request type has a `parse` classmethod that takes the decoded payload and returns a
frozen dataclass or raises PayloadError naming the field, in the same words as the `sfu`
validators: "missing transportId (expected ...)" or "invalid kind: 'x' (expected ...)".
Keys that a request does not know are ignored, so that newer clients can add fields.
"""

import json
from dataclasses import dataclass
from typing import Any, Literal, cast

from sfu import InvalidParameterError, ortc
from signaling.errors import PayloadError, RequestError
from signaling.tokens import SOURCES

Direction = Literal["send", "recv"]
Kind = Literal["audio", "video"]
Source = Literal["microphone", "camera", "screen", "screen-audio"]
SOURCE_KINDS: dict[str, Kind] = {
    "microphone": "audio",
    "camera": "video",
    "screen": "video",
    "screen-audio": "audio",
}

# Encoded JSON size of one request payload. The largest legitimate request, `join` with
# the receive capabilities of a browser, is a few kilobytes.
MAX_PAYLOAD_BYTES = 32 * 1024
MAX_ID_LENGTH = 64
MAX_DISPLAY_NAME_LENGTH = 128
MAX_APP_DATA_BYTES = 2048
MAX_CHAT_LENGTH = 2000
# Text longer than this is rejected before stripping, so that whitespace cannot pad it.
MAX_CHAT_RAW_LENGTH = 4 * MAX_CHAT_LENGTH
MAX_FINGERPRINTS = 8
MAX_LAYER = 15
_SHOW_LENGTH = 60


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOW_LENGTH else text[: _SHOW_LENGTH - 3] + "..."


def _invalid(field: str, value: Any, expected: str) -> PayloadError:
    return PayloadError(f"invalid {field}: {_show(value)} (expected {expected})")


def _missing(field: str, expected: str) -> PayloadError:
    return PayloadError(f"missing {field} (expected {expected})")


def encoded_size(payload: Any) -> int:
    """Return the size of `payload` encoded as JSON; binary attachments count their length."""
    return len(json.dumps(payload, default=lambda value: "x" * len(value)))


def payload_object(payload: Any) -> dict[str, Any]:
    """Return the payload if it is a JSON object of acceptable size, else raise."""
    if not isinstance(payload, dict):
        raise PayloadError(f"invalid payload: {_type_name(payload)} (expected an object)")
    size = encoded_size(payload)
    if size > MAX_PAYLOAD_BYTES:
        raise RequestError(
            "payload_too_large",
            f"the payload is {size} bytes encoded, more than {MAX_PAYLOAD_BYTES}",
        )
    return payload


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _string(
    data: dict[str, Any], key: str, max_length: int, *, required: bool = True, prefix: str = ""
) -> str:
    value = data.get(key)
    expected = f"a string of 1..{max_length} characters"
    if value is None:
        if required:
            raise _missing(prefix + key, expected)
        return ""
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise _invalid(prefix + key, value, expected)
    return value


def _identifier(data: dict[str, Any], key: str) -> str:
    return _string(data, key, MAX_ID_LENGTH)


def _boolean(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(key, value, "true or false")
    return value


def _layer(data: dict[str, Any], key: str, *, required: bool) -> int | None:
    value = data.get(key)
    expected = f"an integer in 0..{MAX_LAYER}"
    if value is None:
        if required:
            raise _missing(key, expected)
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_LAYER:
        raise _invalid(key, value, expected)
    return value


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key)
    expected = "one of " + ", ".join(repr(choice) for choice in choices)
    if value is None:
        raise _missing(key, expected)
    if value not in choices:
        raise _invalid(key, value, expected)
    return cast(str, value)


def _sfu_field(error: InvalidParameterError) -> PayloadError:
    return PayloadError(str(error))


@dataclass(frozen=True)
class EmptyRequest:
    """A request without fields: getRouterRtpCapabilities, leave, getStats."""

    @classmethod
    def parse(cls, payload: Any) -> "EmptyRequest":
        payload_object(payload)
        return cls()


@dataclass(frozen=True)
class JoinRequest:
    rtp_capabilities: dict[str, Any]
    display_name: str

    @classmethod
    def parse(cls, payload: Any) -> "JoinRequest":
        data = payload_object(payload)
        if data.get("rtpCapabilities") is None:
            raise _missing("rtpCapabilities", "the device's receive RTP capabilities")
        try:
            capabilities = ortc.validate_rtp_capabilities(data["rtpCapabilities"])
        except InvalidParameterError as error:
            raise _sfu_field(error) from None
        display_name = _string(data, "displayName", MAX_DISPLAY_NAME_LENGTH, required=False)
        if display_name and not display_name.isprintable():
            raise _invalid("displayName", display_name, "printable characters")
        return cls(rtp_capabilities=capabilities, display_name=display_name)


@dataclass(frozen=True)
class CreateTransportRequest:
    direction: Direction
    force_tcp: bool

    @classmethod
    def parse(cls, payload: Any) -> "CreateTransportRequest":
        data = payload_object(payload)
        direction = cast(Direction, _choice(data, "direction", ("send", "recv")))
        return cls(direction=direction, force_tcp=_boolean(data, "forceTcp", False))


def _dtls_parameters(data: dict[str, Any]) -> dict[str, Any]:
    value = data.get("dtlsParameters")
    if value is None:
        raise _missing("dtlsParameters", "an object with role and fingerprints")
    if not isinstance(value, dict):
        raise _invalid("dtlsParameters", value, "an object with role and fingerprints")
    role = value.get("role", "auto")
    if role not in ("auto", "client", "server"):
        raise _invalid("dtlsParameters.role", role, "'auto', 'client' or 'server'")
    fingerprints = value.get("fingerprints")
    if not isinstance(fingerprints, list) or not 1 <= len(fingerprints) <= MAX_FINGERPRINTS:
        raise _invalid(
            "dtlsParameters.fingerprints", fingerprints, f"a list of 1..{MAX_FINGERPRINTS} objects"
        )
    checked = []
    for index, fingerprint in enumerate(fingerprints):
        field = f"dtlsParameters.fingerprints[{index}]"
        if not isinstance(fingerprint, dict):
            raise _invalid(field, fingerprint, "an object with algorithm and value")
        algorithm = _string(fingerprint, "algorithm", 16, prefix=field + ".")
        digest = _string(fingerprint, "value", 256, prefix=field + ".")
        checked.append({"algorithm": algorithm, "value": digest})
    return {"role": role, "fingerprints": checked}


@dataclass(frozen=True)
class ConnectTransportRequest:
    transport_id: str
    dtls_parameters: dict[str, Any]

    @classmethod
    def parse(cls, payload: Any) -> "ConnectTransportRequest":
        data = payload_object(payload)
        return cls(
            transport_id=_identifier(data, "transportId"),
            dtls_parameters=_dtls_parameters(data),
        )


@dataclass(frozen=True)
class TransportRequest:
    """restartIce."""

    transport_id: str

    @classmethod
    def parse(cls, payload: Any) -> "TransportRequest":
        return cls(transport_id=_identifier(payload_object(payload), "transportId"))


@dataclass(frozen=True)
class ProduceRequest:
    transport_id: str
    kind: Kind
    rtp_parameters: dict[str, Any]
    source: Source
    app_data: dict[str, Any]

    @classmethod
    def parse(cls, payload: Any) -> "ProduceRequest":
        data = payload_object(payload)
        transport_id = _identifier(data, "transportId")
        kind = cast(Kind, _choice(data, "kind", ("audio", "video")))
        source = cast(Source, _choice(data, "source", SOURCES))
        if SOURCE_KINDS[source] != kind:
            raise _invalid("source", source, f"a source of kind {kind!r}")
        if data.get("rtpParameters") is None:
            raise _missing("rtpParameters", "the RTP parameters of the sender")
        try:
            parameters = ortc.validate_rtp_parameters(data["rtpParameters"])
        except InvalidParameterError as error:
            raise _sfu_field(error) from None
        app_data = data.get("appData")
        if app_data is None:
            app_data = {}
        if not isinstance(app_data, dict):
            raise _invalid("appData", app_data, "an object")
        if encoded_size(app_data) > MAX_APP_DATA_BYTES:
            raise _invalid("appData", app_data, f"at most {MAX_APP_DATA_BYTES} bytes of JSON")
        return cls(
            transport_id=transport_id,
            kind=kind,
            rtp_parameters=parameters,
            source=source,
            app_data=app_data,
        )


@dataclass(frozen=True)
class ProducerRequest:
    """closeProducer, pauseProducer, resumeProducer."""

    producer_id: str

    @classmethod
    def parse(cls, payload: Any) -> "ProducerRequest":
        return cls(producer_id=_identifier(payload_object(payload), "producerId"))


@dataclass(frozen=True)
class ConsumerRequest:
    """pauseConsumer, resumeConsumer."""

    consumer_id: str

    @classmethod
    def parse(cls, payload: Any) -> "ConsumerRequest":
        return cls(consumer_id=_identifier(payload_object(payload), "consumerId"))


@dataclass(frozen=True)
class PreferredLayersRequest:
    consumer_id: str
    spatial_layer: int
    temporal_layer: int | None

    @classmethod
    def parse(cls, payload: Any) -> "PreferredLayersRequest":
        data = payload_object(payload)
        consumer_id = _identifier(data, "consumerId")
        spatial = _layer(data, "spatialLayer", required=True)
        assert spatial is not None
        return cls(
            consumer_id=consumer_id,
            spatial_layer=spatial,
            temporal_layer=_layer(data, "temporalLayer", required=False),
        )


@dataclass(frozen=True)
class ChatRequest:
    text: str

    @classmethod
    def parse(cls, payload: Any) -> "ChatRequest":
        data = payload_object(payload)
        value = data.get("text")
        expected = f"a string of 1..{MAX_CHAT_LENGTH} characters after stripping spaces"
        if value is None:
            raise _missing("text", expected)
        if not isinstance(value, str) or len(value) > MAX_CHAT_RAW_LENGTH:
            raise _invalid("text", value, expected)
        text = value.strip()
        if not 1 <= len(text) <= MAX_CHAT_LENGTH:
            raise _invalid("text", value, expected)
        return cls(text=text)


@dataclass(frozen=True)
class MuteRequest:
    peer_id: str
    producer_id: str

    @classmethod
    def parse(cls, payload: Any) -> "MuteRequest":
        data = payload_object(payload)
        return cls(peer_id=_identifier(data, "peerId"), producer_id=_identifier(data, "producerId"))


@dataclass(frozen=True)
class PeerRequest:
    """removeParticipant."""

    peer_id: str

    @classmethod
    def parse(cls, payload: Any) -> "PeerRequest":
        return cls(peer_id=_identifier(payload_object(payload), "peerId"))

"""RTP packet parsing, serialization and the header rewrites of the forwarding path.

Parsing reads the header once (RFC 3550 §5.1 and RFC 8285 header extensions) and keeps the
payload as offsets into the received buffer, so no payload bytes are copied until a packet is
built for a consumer. The per-consumer helpers either patch a `bytearray` in place or join the
new header, a prebuilt extension block and the original payload into one `bytes` object,
because pylibsrtp accepts only `bytes`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

RTP_HEADER_SIZE = 12
RTP_VERSION = 2

# RFC 8285 §4.2 and §4.3: "defined by profile" values of the two header extension forms. The
# two-byte form is 0x100 followed by 4 application bits, so any 0x100X value is accepted.
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000

# RFC 8285 §4.2: IDs 1..14 and values of 1..16 bytes fit the one-byte form. ID 15 is reserved
# and stops parsing of the block.
ONE_BYTE_MAX_ID = 14
ONE_BYTE_MAX_LENGTH = 16
ONE_BYTE_RESERVED_ID = 15

# Header extension URIs, as negotiated in SDP `a=extmap` lines and mediasoup RTP parameters.
URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_RRID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_DEPENDENCY_DESCRIPTOR = (
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"
)
URI_VIDEO_ORIENTATION = "urn:3gpp:video-orientation"
URI_ABS_CAPTURE_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"
URI_PLAYOUT_DELAY = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
URI_TOFFSET = "urn:ietf:params:rtp-hdrext:toffset"

# Extensions whose values the worker copies from a producer's packets to its consumers. The
# worker rewrites their IDs to the router's IDs and drops every other extension (RID, RRID,
# toffset, unknown URIs).
# NOTE: mediasoup also proxies its private `urn:mediasoup:params:rtp-hdrext:packet-id`, which
# browsers never negotiate, and rewrites the clock offset inside abs-capture-time. Neither is
# done here: abs-capture-time is copied unchanged.
PROXIED_URIS = frozenset(
    {
        URI_AUDIO_LEVEL,
        URI_VIDEO_ORIENTATION,
        URI_DEPENDENCY_DESCRIPTOR,
        URI_ABS_CAPTURE_TIME,
        URI_PLAYOUT_DELAY,
    }
)

# Extensions that the worker writes itself for every consumer or every send, so their
# incoming values are not copied.
GENERATED_URIS = frozenset({URI_MID, URI_ABS_SEND_TIME, URI_TRANSPORT_CC})

FORWARDED_URIS = PROXIED_URIS | GENERATED_URIS

_FIXED_HEADER = struct.Struct("!BBHII")
_REWRITE = struct.Struct("!BHII")
_EXTENSION_HEADER = struct.Struct("!HH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_EMPTY_CSRCS: tuple[int, ...] = ()
_ABS_AND_TRANSPORT_CC = struct.Struct("!IBH")
_TRANSPORT_CC_ELEMENT = struct.Struct("!BH")
_ZERO_PADDING = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")
# One-byte element headers by value, so encoding an element does not build a bytes object.
_ONE_BYTE_PREFIXES = tuple(bytes((value,)) for value in range(256))


class RtpPacket:
    """One RTP packet: header fields, header extensions by ID, and the payload's location.

    `buffer[payload_offset:payload_end]` is the payload. After `parse`, `buffer` is the
    received packet and the payload is not copied. A packet built with the constructor stores
    its payload as `buffer`. `padding_size` counts the RFC 3550 padding bytes after the
    payload, including the final count byte.
    """

    __slots__ = (
        "buffer",
        "csrcs",
        "extension_profile",
        "extensions",
        "marker",
        "padding_size",
        "payload_end",
        "payload_offset",
        "payload_type",
        "sequence_number",
        "ssrc",
        "timestamp",
    )

    version = RTP_VERSION

    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension_profile: int
    extensions: dict[int, bytes]
    padding_size: int
    buffer: bytes
    payload_offset: int
    payload_end: int

    def __init__(
        self,
        payload_type: int = 0,
        sequence_number: int = 0,
        timestamp: int = 0,
        ssrc: int = 0,
        *,
        marker: bool = False,
        csrcs: tuple[int, ...] = (),
        extensions: dict[int, bytes] | None = None,
        payload: bytes = b"",
        padding_size: int = 0,
    ) -> None:
        self.marker = marker
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extension_profile = 0
        self.extensions = {} if extensions is None else extensions
        self.padding_size = padding_size
        self.buffer = payload
        self.payload_offset = 0
        self.payload_end = len(payload)

    @property
    def padding(self) -> bool:
        """Whether the P bit is set (RFC 3550 §5.1)."""
        return self.padding_size > 0

    @property
    def payload(self) -> bytes:
        """Payload without padding. Copies it unless the buffer is exactly the payload."""
        if self.payload_offset == 0 and self.payload_end == len(self.buffer):
            return self.buffer
        return self.buffer[self.payload_offset : self.payload_end]

    @payload.setter
    def payload(self, value: bytes) -> None:
        self.buffer = value
        self.payload_offset = 0
        self.payload_end = len(value)

    @property
    def payload_size(self) -> int:
        """Payload length in bytes, without padding."""
        return self.payload_end - self.payload_offset

    def __repr__(self) -> str:
        return (
            f"RtpPacket(pt={self.payload_type}, seq={self.sequence_number}, "
            f"ts={self.timestamp}, ssrc={self.ssrc}, marker={self.marker}, "
            f"extensions={sorted(self.extensions)}, payload={self.payload_size} bytes, "
            f"padding={self.padding_size})"
        )

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse an RTP packet, raising ValueError that names the invalid field.

        Header extensions in the one-byte and two-byte forms are read into `extensions`.
        A block with any other profile is skipped and leaves `extensions` empty.
        """
        size = len(data)
        if size < RTP_HEADER_SIZE:
            raise ValueError(
                f"RTP packet is {size} bytes, shorter than the {RTP_HEADER_SIZE}-byte fixed header"
            )

        first, second, sequence_number, timestamp, ssrc = _FIXED_HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise ValueError(f"RTP version {version} is invalid, expected {RTP_VERSION}")

        csrc_count = first & 0x0F
        offset = RTP_HEADER_SIZE + 4 * csrc_count
        if offset > size:
            raise ValueError(
                f"RTP CSRC list is truncated: CSRC count {csrc_count} needs {offset} "
                f"bytes, packet has {size}"
            )
        csrcs = struct.unpack_from(f"!{csrc_count}I", data, 12) if csrc_count else _EMPTY_CSRCS

        extensions: dict[int, bytes] = {}
        profile = 0
        if first & 0x10:
            if offset + 4 > size:
                raise ValueError(
                    f"RTP header extension is truncated: its 4-byte header at offset "
                    f"{offset} does not fit in {size} bytes"
                )
            profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            offset += 4
            block_end = offset + 4 * words
            if block_end > size:
                raise ValueError(
                    f"RTP header extension is truncated: length {words} words ends at "
                    f"byte {block_end}, packet has {size}"
                )
            if profile == ONE_BYTE_PROFILE:
                _parse_one_byte_elements(data, offset, block_end, extensions)
            elif profile & 0xFFF0 == TWO_BYTE_PROFILE:
                _parse_two_byte_elements(data, offset, block_end, extensions)
            offset = block_end

        payload_end = size
        padding_size = 0
        if first & 0x20:
            # RFC 3550 §5.1: the last byte counts the padding bytes, itself included.
            padding_size = data[-1]
            if padding_size == 0 or padding_size > size - offset:
                raise ValueError(
                    f"RTP padding size {padding_size} is invalid: payload and padding "
                    f"have {size - offset} bytes"
                )
            payload_end = size - padding_size

        packet = cls.__new__(cls)
        packet.marker = second >= 0x80
        packet.payload_type = second & 0x7F
        packet.sequence_number = sequence_number
        packet.timestamp = timestamp
        packet.ssrc = ssrc
        packet.csrcs = csrcs
        packet.extension_profile = profile
        packet.extensions = extensions
        packet.padding_size = padding_size
        packet.buffer = data
        packet.payload_offset = offset
        packet.payload_end = payload_end
        return packet

    def serialize(self) -> bytes:
        """Build the packet from its fields, with a new extension block from `extensions`.

        The extension block uses the one-byte form when every element fits it, otherwise the
        two-byte form. Padding bytes are zeros followed by the count byte.
        """
        extension_block = build_extension_block(self.extensions)
        csrc_count = len(self.csrcs)
        if csrc_count > 15:
            raise ValueError(f"RTP CSRC count {csrc_count} is invalid, the maximum is 15")

        first = 0x80 | csrc_count
        if extension_block:
            first |= 0x10
        if self.padding_size:
            first |= 0x20
        header = _FIXED_HEADER.pack(
            first,
            (0x80 if self.marker else 0) | self.payload_type,
            self.sequence_number,
            self.timestamp,
            self.ssrc,
        )
        parts: list[bytes | memoryview] = [header]
        if csrc_count:
            parts.append(struct.pack(f"!{csrc_count}I", *self.csrcs))
        parts.append(extension_block)
        parts.append(memoryview(self.buffer)[self.payload_offset : self.payload_end])
        if self.padding_size:
            parts.append(_padding_bytes(self.padding_size))
        return b"".join(parts)

    def __bytes__(self) -> bytes:
        return self.serialize()


def _padding_bytes(padding_size: int) -> bytes:
    if not 1 <= padding_size <= 255:
        raise ValueError(f"RTP padding size {padding_size} is invalid, expected 1..255")
    return bytes(padding_size - 1) + bytes((padding_size,))


def _parse_one_byte_elements(data: bytes, offset: int, end: int, out: dict[int, bytes]) -> None:
    # RFC 8285 §4.2: ID in the high nibble, length - 1 in the low one. A byte with ID 0 is
    # padding, and like libwebrtc any such byte is skipped alone, whatever its low nibble.
    # This loop runs for every received packet, so it compares whole bytes.
    while offset < end:
        byte = data[offset]
        if byte < 0x10:
            offset += 1
            continue
        if byte >= 0xF0:
            # ID 15 is reserved: ignore it and everything after it.
            return
        value_end = offset + 2 + (byte & 0x0F)
        if value_end > end:
            raise ValueError(
                f"RTP header extension element {byte >> 4} is truncated: "
                f"{(byte & 0x0F) + 1} bytes at offset {offset + 1}, the block ends at {end}"
            )
        out[byte >> 4] = data[offset + 1 : value_end]
        offset = value_end


def _parse_two_byte_elements(data: bytes, offset: int, end: int, out: dict[int, bytes]) -> None:
    # RFC 8285 §4.3: ID byte, length byte (0..255), value. A zero ID byte is padding.
    while offset < end:
        extension_id = data[offset]
        if extension_id == 0:
            offset += 1
            continue
        if offset + 2 > end:
            raise ValueError(
                f"RTP header extension element {extension_id} is truncated: its length "
                f"byte at offset {offset + 1} is past the block end {end}"
            )
        length = data[offset + 1]
        offset += 2
        value_end = offset + length
        if value_end > end:
            raise ValueError(
                f"RTP header extension element {extension_id} is truncated: {length} bytes "
                f"at offset {offset}, the block ends at {end}"
            )
        out[extension_id] = data[offset:value_end]
        offset = value_end


def _fits_one_byte(extension_id: int, value: bytes) -> bool:
    return 1 <= extension_id <= ONE_BYTE_MAX_ID and 1 <= len(value) <= ONE_BYTE_MAX_LENGTH


def _check_element(extension_id: int, value: bytes) -> None:
    if not 1 <= extension_id <= 255:
        raise ValueError(f"RTP header extension ID {extension_id} is invalid, expected 1..255")
    if len(value) > 255:
        raise ValueError(
            f"RTP header extension {extension_id} value is {len(value)} bytes, the maximum is 255"
        )


def _encode_one_byte(extension_id: int, value: bytes) -> bytes:
    return bytes((extension_id << 4 | (len(value) - 1),)) + value


def _encode_two_byte(extension_id: int, value: bytes) -> bytes:
    return bytes((extension_id, len(value))) + value


def _finish_block(profile: int, body: bytes) -> bytes:
    # RFC 3550 §5.3.1: the block length counts 32-bit words, so pad the body with zero bytes,
    # which both extension forms treat as padding.
    remainder = len(body) & 3
    if remainder:
        body += bytes(4 - remainder)
    return _EXTENSION_HEADER.pack(profile, len(body) >> 2) + body


def build_extension_block(extensions: Mapping[int, bytes] | Iterable[tuple[int, bytes]]) -> bytes:
    """Encode header extension elements as a complete block, or b"" when there are none.

    Returns the 4-byte profile and length header followed by the padded elements. Uses the
    one-byte form when every ID is 1..14 and every value is 1..16 bytes, otherwise the
    two-byte form (RFC 8285 §4.2, §4.3). Raises ValueError for an ID outside 1..255 or a value
    longer than 255 bytes.
    """
    items = list(extensions.items()) if isinstance(extensions, Mapping) else list(extensions)
    if not items:
        return b""
    for extension_id, value in items:
        _check_element(extension_id, value)
    if all(_fits_one_byte(extension_id, value) for extension_id, value in items):
        body = b"".join(_encode_one_byte(extension_id, value) for extension_id, value in items)
        return _finish_block(ONE_BYTE_PROFILE, body)
    body = b"".join(_encode_two_byte(extension_id, value) for extension_id, value in items)
    return _finish_block(TWO_BYTE_PROFILE, body)


# --- Per-consumer rewrites -------------------------------------------------------------------


def set_payload_type(packet: bytearray, payload_type: int) -> None:
    """Overwrite the payload type of a serialized RTP packet, keeping the marker bit."""
    packet[1] = (packet[1] & 0x80) | payload_type


def set_marker(packet: bytearray, marker: bool) -> None:
    """Set or clear the marker bit of a serialized RTP packet."""
    packet[1] = (packet[1] | 0x80) if marker else (packet[1] & 0x7F)


def set_sequence_number(packet: bytearray, sequence_number: int) -> None:
    """Overwrite the 16-bit sequence number of a serialized RTP packet."""
    _U16.pack_into(packet, 2, sequence_number)


def set_timestamp(packet: bytearray, timestamp: int) -> None:
    """Overwrite the 32-bit RTP timestamp of a serialized RTP packet."""
    _U32.pack_into(packet, 4, timestamp)


def set_ssrc(packet: bytearray, ssrc: int) -> None:
    """Overwrite the SSRC of a serialized RTP packet."""
    _U32.pack_into(packet, 8, ssrc)


def rewrite_header(
    packet: bytearray, payload_type: int, sequence_number: int, timestamp: int, ssrc: int
) -> None:
    """Overwrite payload type, sequence number, timestamp and SSRC in one struct call.

    The marker bit is kept. Values must already be in range (7, 16, 32 and 32 bits).
    """
    _REWRITE.pack_into(
        packet, 1, (packet[1] & 0x80) | payload_type, sequence_number, timestamp, ssrc
    )


def find_extension(data: bytes | bytearray, extension_id: int) -> tuple[int, int] | None:
    """Locate a header extension value in a serialized packet, as (offset, length).

    Returns None when the packet has no such element. The packet must already be valid, for
    example one that `RtpPacket.parse` accepted or one built by this module.
    """
    first = data[0]
    if not first & 0x10:
        return None
    offset = RTP_HEADER_SIZE + 4 * (first & 0x0F)
    profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
    offset += 4
    end = offset + 4 * words
    one_byte = profile == ONE_BYTE_PROFILE
    if not one_byte and profile & 0xFFF0 != TWO_BYTE_PROFILE:
        return None
    while offset < end:
        byte = data[offset]
        if one_byte:
            element_id = byte >> 4
            if element_id == ONE_BYTE_RESERVED_ID:
                return None
            length = (byte & 0x0F) + 1
            value_offset = offset + 1
        else:
            element_id = byte
            length = data[offset + 1] if element_id else 0
            value_offset = offset + 2
        if element_id == 0:
            offset += 1
            continue
        if element_id == extension_id:
            return value_offset, length
        offset = value_offset + length
    return None


def set_extension_value(packet: bytearray, extension_id: int, value: bytes) -> bool:
    """Overwrite an existing header extension value of the same length in place.

    Returns False, leaving the packet unchanged, when the element is missing or its length
    differs from `value`.
    """
    location = find_extension(packet, extension_id)
    if location is None or location[1] != len(value):
        return False
    offset, length = location
    packet[offset : offset + length] = value
    return True


def rewrite_packet(
    packet: RtpPacket,
    *,
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    extension_block: bytes,
    marker: bool | None = None,
) -> bytes:
    """Build one consumer's copy of a packet with a new header and extension block.

    `extension_block` comes from `OutgoingHeaderExtensions.build` or `build_extension_block`
    (b"" for none). CSRCs, payload and padding are copied from `packet`, and the marker bit
    too unless `marker` is given. The payload is copied once, into the returned bytes.
    """
    csrc_count = len(packet.csrcs)
    first = 0x80 | csrc_count
    if extension_block:
        first |= 0x10
    if packet.padding_size:
        first |= 0x20
    if marker is None:
        marker = packet.marker
    header = _FIXED_HEADER.pack(
        first, (0x80 if marker else 0) | payload_type, sequence_number, timestamp, ssrc
    )
    tail = memoryview(packet.buffer)[packet.payload_offset :]
    if packet.payload_end + packet.padding_size != len(packet.buffer):
        # A packet built by the constructor stores no padding bytes in its buffer.
        tail = tail[: packet.payload_end - packet.payload_offset]
        padding = _padding_bytes(packet.padding_size) if packet.padding_size else b""
        if csrc_count:
            csrcs = struct.pack(f"!{csrc_count}I", *packet.csrcs)
            return b"".join((header, csrcs, extension_block, tail, padding))
        return b"".join((header, extension_block, tail, padding))
    if csrc_count:
        csrcs = struct.pack(f"!{csrc_count}I", *packet.csrcs)
        return b"".join((header, csrcs, extension_block, tail))
    return b"".join((header, extension_block, tail))


# --- Header extension values -----------------------------------------------------------------


def abs_send_time(now: float) -> int:
    """Return the 24-bit abs-send-time value for `now` in seconds.

    The format is 6.18 fixed point: the low 6 bits of the whole seconds and 18 bits of
    fraction. `now` is the sender's NTP-based clock in seconds, and only its value modulo
    64 s matters.
    """
    return int(now * 262144.0) & 0xFFFFFF


def encode_abs_send_time(now: float) -> bytes:
    """Return the 3-byte abs-send-time extension value for `now` in seconds."""
    return _U32.pack(int(now * 262144.0) & 0xFFFFFF)[1:]


def read_abs_send_time(value: bytes) -> int:
    """Return the 24-bit 6.18 fixed-point send time of an abs-send-time value."""
    if len(value) != 3:
        raise ValueError(f"abs-send-time value is {len(value)} bytes, expected 3")
    return int.from_bytes(value, "big")


def read_transport_sequence_number(value: bytes) -> int:
    """Return the 16-bit transport-wide sequence number of a transport-cc value."""
    if len(value) < 2:
        raise ValueError(f"transport-wide sequence number value is {len(value)} bytes, expected 2")
    return int(_U16.unpack_from(value)[0])


def read_audio_level(value: bytes) -> tuple[bool, int]:
    """Return (voice activity, level) of an ssrc-audio-level value (RFC 6464 §3).

    The level is 0..127 in -dBov, so 0 is the loudest and 127 silence.
    """
    if not value:
        raise ValueError("ssrc-audio-level value is empty, expected 1 byte")
    byte = value[0]
    return byte >= 0x80, byte & 0x7F


def _read_identifier(value: bytes, name: str) -> str:
    if not value:
        raise ValueError(f"{name} value is empty")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{name} value {value!r} is not ASCII") from None


def read_mid(value: bytes) -> str:
    """Return the MID of an `sdes:mid` extension value (RFC 9143 §15.2)."""
    return _read_identifier(value, "MID")


def read_rid(value: bytes) -> str:
    """Return the RID of an `rtp-stream-id` or `repaired-rtp-stream-id` value (RFC 8852 §3)."""
    return _read_identifier(value, "RID")


# --- Header extension ID mapping -------------------------------------------------------------


def extension_ids_by_uri(
    header_extensions: Iterable[Mapping[str, Any]], id_key: str = "id"
) -> dict[str, int]:
    """Index mediasoup-style header extension entries by URI.

    Pass `id_key="preferredId"` for router RTP capabilities. The first entry for a URI wins,
    because capabilities list one entry per kind with the same ID.
    """
    ids: dict[str, int] = {}
    for entry in header_extensions:
        ids.setdefault(str(entry["uri"]), int(entry[id_key]))
    return ids


def map_extension_ids(
    producer_ids: Mapping[str, int], router_ids: Mapping[str, int]
) -> dict[int, int]:
    """Return producer extension ID -> router extension ID for the forwarded URIs.

    Only the URIs in `FORWARDED_URIS` that both sides know are kept. Both arguments map URI to
    ID, as `extension_ids_by_uri` returns.
    """
    mapping: dict[int, int] = {}
    for uri, producer_id in producer_ids.items():
        router_id = router_ids.get(uri)
        if router_id is not None and uri in FORWARDED_URIS:
            mapping[producer_id] = router_id
    return mapping


def remap_extensions(
    extensions: Mapping[int, bytes], id_map: Mapping[int, int]
) -> dict[int, bytes]:
    """Return the elements whose IDs are keys of `id_map`, under the mapped IDs."""
    return {id_map[i]: value for i, value in extensions.items() if i in id_map}


class OutgoingHeaderExtensions:
    """The extension block of one forwarded packet, encoded once and completed per consumer.

    `proxied` contains the forwarded elements under router IDs (see `remap_extensions`).
    The constructor takes the router's IDs of MID, abs-send-time and transport-cc, with 0 for
    one the router does not offer. Incoming elements under those IDs are left out, because
    `build` writes them for each consumer and each send. A consumer that did not negotiate
    one of them passes None for it to `build`.
    """

    __slots__ = (
        "_abs_send_time_id",
        "_elements",
        "_mid_id",
        "_one_byte_body",
        "_transport_cc_id",
        "_two_byte_body",
    )

    def __init__(
        self,
        proxied: Mapping[int, bytes],
        *,
        mid_id: int = 0,
        abs_send_time_id: int = 0,
        transport_cc_id: int = 0,
    ) -> None:
        for extension_id in (mid_id, abs_send_time_id, transport_cc_id):
            if not 0 <= extension_id <= ONE_BYTE_MAX_ID:
                raise ValueError(
                    f"generated header extension ID {extension_id} is invalid, expected "
                    "1..14, or 0 for none"
                )
        self._mid_id = mid_id
        self._abs_send_time_id = abs_send_time_id
        self._transport_cc_id = transport_cc_id
        self._two_byte_body: bytes | None = None

        # This runs once per forwarded packet, so elements are encoded in a single pass.
        elements = []
        one_byte_parts = []
        fits_one_byte = True
        for extension_id, value in proxied.items():
            if extension_id == mid_id or extension_id == abs_send_time_id:
                continue
            if extension_id == transport_cc_id:
                continue
            length = len(value)
            elements.append((extension_id, value))
            if fits_one_byte and 0 < extension_id <= 14 and 0 < length <= 16:
                one_byte_parts.append(_ONE_BYTE_PREFIXES[extension_id << 4 | (length - 1)])
                one_byte_parts.append(value)
            else:
                _check_element(extension_id, value)
                fits_one_byte = False
        self._elements = elements
        self._one_byte_body: bytes | None = b"".join(one_byte_parts) if fits_one_byte else None

    def build(
        self,
        *,
        mid: bytes | None = None,
        now: float | None = None,
        transport_sequence_number: int | None = None,
    ) -> bytes:
        """Return the complete extension block for one consumer's copy of the packet.

        `mid` is the consumer's MID, `now` the send time in seconds for abs-send-time, and
        `transport_sequence_number` the next value of the sending transport's 16-bit counter.
        None, or an ID of 0 given to the constructor, leaves that element out. Returns b""
        when no element remains.
        """
        body = self._one_byte_body
        if mid is not None:
            if not self._mid_id:
                mid = None
            elif body is not None and 0 < len(mid) <= ONE_BYTE_MAX_LENGTH:
                body += _ONE_BYTE_PREFIXES[self._mid_id << 4 | (len(mid) - 1)] + mid
            else:
                body = None
        if not self._abs_send_time_id:
            now = None
        if not self._transport_cc_id:
            transport_sequence_number = None
        if body is None:
            return self._build_two_byte(mid, now, transport_sequence_number)

        # abs-send-time packs as one 32-bit word: element header byte, then the 24-bit value.
        if now is not None:
            abs_word = (self._abs_send_time_id << 4 | 2) << 24 | (int(now * 262144.0) & 0xFFFFFF)
            if transport_sequence_number is not None:
                body += _ABS_AND_TRANSPORT_CC.pack(
                    abs_word, self._transport_cc_id << 4 | 1, transport_sequence_number
                )
            else:
                body += _U32.pack(abs_word)
        elif transport_sequence_number is not None:
            body += _TRANSPORT_CC_ELEMENT.pack(
                self._transport_cc_id << 4 | 1, transport_sequence_number
            )
        if not body:
            return b""
        padding = -len(body) & 3
        return (
            _EXTENSION_HEADER.pack(ONE_BYTE_PROFILE, (len(body) + padding) >> 2)
            + body
            + _ZERO_PADDING[padding]
        )

    def _build_two_byte(
        self, mid: bytes | None, now: float | None, transport_sequence_number: int | None
    ) -> bytes:
        body = self._two_byte_body
        if body is None:
            body = b"".join(_encode_two_byte(i, value) for i, value in self._elements)
            self._two_byte_body = body
        if mid is not None:
            _check_element(self._mid_id, mid)
            body += _encode_two_byte(self._mid_id, mid)
        if now is not None:
            body += _encode_two_byte(self._abs_send_time_id, encode_abs_send_time(now))
        if transport_sequence_number is not None:
            body += _encode_two_byte(self._transport_cc_id, _U16.pack(transport_sequence_number))
        return _finish_block(TWO_BYTE_PROFILE, body) if body else b""


def build_outgoing_extension_block(
    proxied: Mapping[int, bytes],
    *,
    mid_id: int = 0,
    mid: bytes | None = None,
    abs_send_time_id: int = 0,
    now: float | None = None,
    transport_cc_id: int = 0,
    transport_sequence_number: int | None = None,
) -> bytes:
    """Return the extension block for one outgoing packet in a single call.

    Same result as `OutgoingHeaderExtensions(...).build(...)`. Use the class when one
    incoming packet goes to several consumers, so the proxied elements are encoded once.
    """
    template = OutgoingHeaderExtensions(
        proxied,
        mid_id=mid_id,
        abs_send_time_id=abs_send_time_id,
        transport_cc_id=transport_cc_id,
    )
    return template.build(mid=mid, now=now, transport_sequence_number=transport_sequence_number)


# --- RTX (RFC 4588) --------------------------------------------------------------------------


def rtx_decapsulate(rtx: RtpPacket, payload_type: int, ssrc: int) -> RtpPacket:
    """Restore the original packet from an RTX packet (RFC 4588 §4).

    The first 2 payload bytes are the original sequence number (OSN). The result gets the
    media `payload_type` and `ssrc`, the OSN as sequence number, and shares the RTX packet's
    buffer, so the payload is not copied. Raises ValueError when the payload is shorter than
    the OSN, as in RTX padding-only probes.
    """
    if rtx.payload_size < 2:
        raise ValueError(
            f"RTX payload is {rtx.payload_size} bytes, too short for the 2-byte original "
            "sequence number"
        )
    packet = RtpPacket.__new__(RtpPacket)
    packet.marker = rtx.marker
    packet.payload_type = payload_type
    packet.sequence_number = _U16.unpack_from(rtx.buffer, rtx.payload_offset)[0]
    packet.timestamp = rtx.timestamp
    packet.ssrc = ssrc
    packet.csrcs = rtx.csrcs
    packet.extension_profile = rtx.extension_profile
    packet.extensions = rtx.extensions
    packet.padding_size = rtx.padding_size
    packet.buffer = rtx.buffer
    packet.payload_offset = rtx.payload_offset + 2
    packet.payload_end = rtx.payload_end
    return packet


def rtx_encapsulate(
    packet: RtpPacket, payload_type: int, ssrc: int, sequence_number: int
) -> RtpPacket:
    """Wrap a packet for retransmission on an RTX stream (RFC 4588 §4).

    The RTX packet has the RTX `payload_type`, `ssrc` and its own `sequence_number`, and its
    payload is the original sequence number followed by the original payload. Timestamp,
    marker, CSRCs and extensions are kept. Padding is not carried over.
    """
    rtx = RtpPacket(
        payload_type,
        sequence_number,
        packet.timestamp,
        ssrc,
        marker=packet.marker,
        csrcs=packet.csrcs,
        extensions=packet.extensions,
        payload=_U16.pack(packet.sequence_number) + packet.payload,
    )
    rtx.extension_profile = packet.extension_profile
    return rtx

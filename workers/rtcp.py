"""RTCP packet codecs and the compound packet reader.

Each packet type is a dataclass with a `parse` classmethod that takes one complete packet
(common header included) and `__bytes__` that returns one. `read_compound` walks a compound
packet by its length fields, as received after SRTCP decryption. It reports packets that
cannot be parsed in `RtcpReadResult.errors` and skips them instead of raising.

Reduced-size RTCP (RFC 5506) is accepted: a compound packet need not start with SR or RR.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Self

RTCP_VERSION = 2
RTCP_HEADER_SIZE = 4

# RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2: packet types.
RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_RTPFB = 205
RTCP_PSFB = 206
RTCP_XR = 207

# FMT values of transport-layer (RTPFB) and payload-specific (PSFB) feedback.
RTPFB_NACK = 1  # RFC 4585 §6.2.1
RTPFB_TRANSPORT_CC = 15  # draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1
PSFB_PLI = 1  # RFC 4585 §6.3.1
PSFB_FIR = 4  # RFC 5104 §4.3.1
PSFB_AFB = 15  # RFC 4585 §6.4, carries REMB

SDES_CNAME = 1

XR_RRT = 4  # RFC 3611 §4.4, Receiver Reference Time
XR_DLRR = 5  # RFC 3611 §4.5, Delay since Last Receiver Report

REMB_IDENTIFIER = b"REMB"

_HEADER = struct.Struct("!BBH")
_U32 = struct.Struct("!I")
_TWO_SSRCS = struct.Struct("!II")
_SENDER_INFO = struct.Struct("!IQIII")
_REPORT_BLOCK = struct.Struct("!IIIIII")
_NACK_ITEM = struct.Struct("!HH")
_FIR_ITEM = struct.Struct("!IB3x")
_TRANSPORT_CC_HEADER = struct.Struct("!HHI")
_XR_BLOCK_HEADER = struct.Struct("!BBH")
_DLRR_ITEM = struct.Struct("!III")

REPORT_BLOCK_SIZE = 24
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01


def _pack(packet_type: int, count: int, body: bytes) -> bytes:
    """Prepend the common header (RFC 3550 §6.4.1), padding the body to 32 bits.

    A body that is not a multiple of 4 bytes gets RFC 3550 padding: zeros and a final count
    byte, with the P bit set, as libwebrtc writes transport-cc feedback.
    """
    if not 0 <= count <= 31:
        raise ValueError(f"RTCP count or FMT {count} is invalid, expected 0..31")
    first = 0x80 | count
    remainder = len(body) & 3
    if remainder:
        padding = 4 - remainder
        body += bytes(padding - 1) + bytes((padding,))
        first |= 0x20
    return _HEADER.pack(first, packet_type, len(body) >> 2) + body


def _check_header(data: bytes, packet_type: int, name: str) -> tuple[int, bytes]:
    """Validate one packet's common header and return (count or FMT, body without padding)."""
    if len(data) < RTCP_HEADER_SIZE:
        raise ValueError(f"RTCP {name} is {len(data)} bytes, shorter than the 4-byte header")
    first, actual_type, words = _HEADER.unpack_from(data)
    version = first >> 6
    if version != RTCP_VERSION:
        raise ValueError(f"RTCP version {version} is invalid, expected {RTCP_VERSION}")
    if actual_type != packet_type:
        raise ValueError(f"RTCP packet type {actual_type} is not {name} ({packet_type})")
    end = RTCP_HEADER_SIZE + 4 * words
    if end != len(data):
        raise ValueError(f"RTCP {name} length field gives {end} bytes, packet has {len(data)}")
    return first & 0x1F, _strip_padding(first, data[RTCP_HEADER_SIZE:end])


def _strip_padding(first: int, body: bytes) -> bytes:
    if not first & 0x20:
        return body
    padding = body[-1] if body else 0
    if padding == 0 or padding > len(body):
        raise ValueError(f"RTCP padding size {padding} is invalid for a {len(body)}-byte body")
    return body[: len(body) - padding]


def _need(body: bytes, size: int, field_name: str) -> None:
    if len(body) < size:
        raise ValueError(
            f"RTCP {field_name} is truncated: needs {size} bytes, body has {len(body)}"
        )


# --- Time helpers ----------------------------------------------------------------------------


def ntp_from_seconds(seconds: float) -> int:
    """Return the 64-bit NTP timestamp (32.32 fixed point) for Unix time in seconds."""
    return int((seconds + NTP_EPOCH_OFFSET) * 4294967296.0) & 0xFFFFFFFFFFFFFFFF


def seconds_from_ntp(ntp: int) -> float:
    """Return Unix time in seconds for a 64-bit NTP timestamp (NTP era 0)."""
    return ntp / 4294967296.0 - NTP_EPOCH_OFFSET


def compact_ntp(ntp: int) -> int:
    """Return the middle 32 bits of an NTP timestamp, the LSR format of RFC 3550 §6.4.1."""
    return (ntp >> 16) & 0xFFFFFFFF


# --- Sender and receiver reports (RFC 3550 §6.4) ---------------------------------------------


@dataclass(slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 §6.4.1).

    `packets_lost` is the signed 24-bit cumulative count. `lsr` is the compact NTP time of
    the last SR received and `dlsr` the delay since then in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    packets_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> Self:
        _need(data[offset:], REPORT_BLOCK_SIZE, "report block")
        ssrc, loss, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        lost = loss & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(ssrc, loss >> 24, lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        # RFC 3550 §6.4.1: the cumulative loss is a signed 24-bit field, so clamp it.
        lost = max(-0x800000, min(self.packets_lost, 0x7FFFFF)) & 0xFFFFFF
        return _REPORT_BLOCK.pack(
            self.ssrc,
            (self.fraction_lost & 0xFF) << 24 | lost,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _parse_report_blocks(body: bytes, offset: int, count: int) -> tuple[list[ReportBlock], bytes]:
    end = offset + REPORT_BLOCK_SIZE * count
    if end > len(body):
        raise ValueError(f"RTCP report count {count} needs {end} bytes, body has {len(body)}")
    reports = [ReportBlock.parse(body, offset + REPORT_BLOCK_SIZE * i) for i in range(count)]
    # RFC 3550 §6.4.1: bytes after the report blocks are a profile-specific extension.
    return reports, body[end:]


@dataclass(slots=True)
class SenderReport:
    """SR packet (RFC 3550 §6.4.1) with its report blocks."""

    packet_type: ClassVar[int] = RTCP_SR

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)
    profile_extension: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> Self:
        count, body = _check_header(data, RTCP_SR, "SR")
        return cls._from_body(count, body)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> Self:
        _need(body, _SENDER_INFO.size, "SR sender info")
        ssrc, ntp, rtp_timestamp, packets, octets = _SENDER_INFO.unpack_from(body)
        reports, extension = _parse_report_blocks(body, _SENDER_INFO.size, count)
        return cls(ssrc, ntp, rtp_timestamp, packets, octets, reports, extension)

    def __bytes__(self) -> bytes:
        body = _SENDER_INFO.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        body += b"".join(bytes(report) for report in self.reports) + self.profile_extension
        return _pack(RTCP_SR, len(self.reports), body)


@dataclass(slots=True)
class ReceiverReport:
    """RR packet (RFC 3550 §6.4.2)."""

    packet_type: ClassVar[int] = RTCP_RR

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    profile_extension: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> Self:
        count, body = _check_header(data, RTCP_RR, "RR")
        return cls._from_body(count, body)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> Self:
        _need(body, 4, "RR sender SSRC")
        reports, extension = _parse_report_blocks(body, 4, count)
        return cls(_U32.unpack_from(body)[0], reports, extension)

    def __bytes__(self) -> bytes:
        body = _U32.pack(self.ssrc) + b"".join(bytes(report) for report in self.reports)
        return _pack(RTCP_RR, len(self.reports), body + self.profile_extension)


# --- SDES and BYE (RFC 3550 §6.5, §6.6) ------------------------------------------------------


@dataclass(slots=True)
class SdesChunk:
    """One SDES chunk: an SSRC and its (item type, value) pairs."""

    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def cname(self) -> str | None:
        """The CNAME item decoded as UTF-8, or None when the chunk has none."""
        for item_type, value in self.items:
            if item_type == SDES_CNAME:
                return value.decode("utf-8", errors="replace")
        return None

    def __bytes__(self) -> bytes:
        data = _U32.pack(self.ssrc)
        for item_type, value in self.items:
            if len(value) > 255:
                raise ValueError(f"SDES item {item_type} is {len(value)} bytes, the maximum is 255")
            data += bytes((item_type, len(value))) + value
        # RFC 3550 §6.5: at least one null byte ends the item list, then null bytes up to the
        # next 32-bit boundary.
        return data + bytes(4 - (len(data) & 3))


@dataclass(slots=True)
class SourceDescription:
    """SDES packet (RFC 3550 §6.5)."""

    packet_type: ClassVar[int] = RTCP_SDES

    chunks: list[SdesChunk] = field(default_factory=list)

    @classmethod
    def for_cname(cls, ssrc: int, cname: str) -> Self:
        """Build the SDES packet of one source with only its CNAME."""
        return cls([SdesChunk(ssrc, [(SDES_CNAME, cname.encode("utf-8"))])])

    @classmethod
    def parse(cls, data: bytes) -> Self:
        count, body = _check_header(data, RTCP_SDES, "SDES")
        return cls._from_body(count, body)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> Self:
        chunks = []
        offset = 0
        for index in range(count):
            if offset + 4 > len(body):
                raise ValueError(
                    f"RTCP SDES chunk {index} is truncated: source count {count}, body has "
                    f"{len(body)} bytes"
                )
            chunk = SdesChunk(_U32.unpack_from(body, offset)[0])
            offset += 4
            while True:
                if offset >= len(body):
                    raise ValueError(f"RTCP SDES chunk {index} has no terminating null item")
                item_type = body[offset]
                if item_type == 0:
                    # Skip the null terminator and the padding up to the next 32-bit word.
                    offset = (offset + 4) & ~3
                    break
                if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                    raise ValueError(
                        f"RTCP SDES item {item_type} in chunk {index} is truncated at offset "
                        f"{offset}"
                    )
                length = body[offset + 1]
                chunk.items.append((item_type, body[offset + 2 : offset + 2 + length]))
                offset += 2 + length
            chunks.append(chunk)
        return cls(chunks)

    def __bytes__(self) -> bytes:
        return _pack(RTCP_SDES, len(self.chunks), b"".join(bytes(c) for c in self.chunks))


@dataclass(slots=True)
class Bye:
    """BYE packet (RFC 3550 §6.6) with an optional reason text."""

    packet_type: ClassVar[int] = RTCP_BYE

    ssrcs: list[int] = field(default_factory=list)
    reason: bytes | None = None

    @classmethod
    def parse(cls, data: bytes) -> Self:
        count, body = _check_header(data, RTCP_BYE, "BYE")
        return cls._from_body(count, body)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> Self:
        _need(body, 4 * count, f"BYE with source count {count}")
        ssrcs = list(struct.unpack_from(f"!{count}I", body))
        reason = None
        offset = 4 * count
        if offset < len(body):
            length = body[offset]
            if offset + 1 + length > len(body):
                raise ValueError(
                    f"RTCP BYE reason length {length} overruns the {len(body)}-byte body"
                )
            reason = body[offset + 1 : offset + 1 + length]
        return cls(ssrcs, reason)

    def __bytes__(self) -> bytes:
        body = struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        if self.reason is not None:
            if len(self.reason) > 255:
                raise ValueError(f"BYE reason is {len(self.reason)} bytes, the maximum is 255")
            reason = bytes((len(self.reason),)) + self.reason
            body += reason + bytes(-len(reason) & 3)
        return _pack(RTCP_BYE, len(self.ssrcs), body)


# --- Transport-layer feedback (RTPFB) --------------------------------------------------------


@dataclass(slots=True)
class GenericNack:
    """Generic NACK (RFC 4585 §6.2.1): (PID, BLP) items for lost packets of `media_ssrc`.

    Bit i of BLP reports PID + i + 1 as lost, modulo 2^16.
    """

    packet_type: ClassVar[int] = RTCP_RTPFB
    fmt: ClassVar[int] = RTPFB_NACK

    sender_ssrc: int
    media_ssrc: int
    items: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def from_sequence_numbers(
        cls, sender_ssrc: int, media_ssrc: int, sequence_numbers: Iterable[int]
    ) -> Self:
        """Pack lost sequence numbers into as few items as their order allows.

        Give them in ascending order, 64-bit extended or 16-bit. Each item covers its PID and
        the 16 sequence numbers after it, counted modulo 2^16, so a run across 65535 -> 0
        fits one item.
        """
        items: list[tuple[int, int]] = []
        pid = -1
        blp = 0
        for sequence_number in sequence_numbers:
            seq = sequence_number & 0xFFFF
            distance = (seq - pid) & 0xFFFF
            if pid >= 0 and 1 <= distance <= 16:
                blp |= 1 << (distance - 1)
            elif pid < 0 or distance != 0:
                if pid >= 0:
                    items.append((pid, blp))
                pid = seq
                blp = 0
        if pid >= 0:
            items.append((pid, blp))
        return cls(sender_ssrc, media_ssrc, items)

    def sequence_numbers(self) -> list[int]:
        """Return every 16-bit sequence number reported lost, in item order."""
        lost = []
        for pid, blp in self.items:
            lost.append(pid)
            bit = 0
            while blp:
                if blp & 1:
                    lost.append((pid + bit + 1) & 0xFFFF)
                blp >>= 1
                bit += 1
        return lost

    @classmethod
    def parse(cls, data: bytes) -> Self:
        fmt, body = _check_header(data, RTCP_RTPFB, "RTPFB")
        if fmt != RTPFB_NACK:
            raise ValueError(f"RTPFB FMT {fmt} is not generic NACK ({RTPFB_NACK})")
        return cls._from_body(fmt, body)

    @classmethod
    def _from_body(cls, fmt: int, body: bytes) -> Self:
        _need(body, 8, "NACK SSRCs")
        if len(body) & 3:
            raise ValueError(f"RTCP NACK body is {len(body)} bytes, not a multiple of 4")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body)
        items = [_NACK_ITEM.unpack_from(body, offset) for offset in range(8, len(body), 4)]
        return cls(sender_ssrc, media_ssrc, [(pid, blp) for pid, blp in items])

    def __bytes__(self) -> bytes:
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc)
        body += b"".join(_NACK_ITEM.pack(pid, blp) for pid, blp in self.items)
        return _pack(RTCP_RTPFB, RTPFB_NACK, body)


@dataclass(slots=True)
class TransportCcFeedback:
    """Transport-wide congestion control feedback (RTPFB FMT 15).

    Only the fixed fields are decoded (draft-holmer-rmcat-transport-wide-cc-extensions-01
    §3.1). `reference_time` is signed, in units of 64 ms. `packet_chunks` contains the packet
    status chunks and receive deltas undecoded, without RTCP padding.
    """

    packet_type: ClassVar[int] = RTCP_RTPFB
    fmt: ClassVar[int] = RTPFB_TRANSPORT_CC

    sender_ssrc: int
    media_ssrc: int
    base_sequence_number: int
    packet_status_count: int
    reference_time: int
    feedback_packet_count: int
    packet_chunks: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> Self:
        fmt, body = _check_header(data, RTCP_RTPFB, "RTPFB")
        if fmt != RTPFB_TRANSPORT_CC:
            raise ValueError(f"RTPFB FMT {fmt} is not transport-cc ({RTPFB_TRANSPORT_CC})")
        return cls._from_body(fmt, body)

    @classmethod
    def _from_body(cls, fmt: int, body: bytes) -> Self:
        _need(body, 16, "transport-cc feedback header")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body)
        base, status_count, time_and_count = _TRANSPORT_CC_HEADER.unpack_from(body, 8)
        reference_time = time_and_count >> 8
        if reference_time & 0x800000:
            reference_time -= 0x1000000
        return cls(
            sender_ssrc,
            media_ssrc,
            base,
            status_count,
            reference_time,
            time_and_count & 0xFF,
            body[16:],
        )

    def __bytes__(self) -> bytes:
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc)
        body += _TRANSPORT_CC_HEADER.pack(
            self.base_sequence_number,
            self.packet_status_count,
            (self.reference_time & 0xFFFFFF) << 8 | self.feedback_packet_count,
        )
        return _pack(RTCP_RTPFB, RTPFB_TRANSPORT_CC, body + self.packet_chunks)


# --- Payload-specific feedback (PSFB) --------------------------------------------------------


@dataclass(slots=True)
class Pli:
    """Picture Loss Indication (RFC 4585 §6.3.1): feedback with no FCI."""

    packet_type: ClassVar[int] = RTCP_PSFB
    fmt: ClassVar[int] = PSFB_PLI

    sender_ssrc: int
    media_ssrc: int

    @classmethod
    def parse(cls, data: bytes) -> Self:
        fmt, body = _check_header(data, RTCP_PSFB, "PSFB")
        if fmt != PSFB_PLI:
            raise ValueError(f"PSFB FMT {fmt} is not PLI ({PSFB_PLI})")
        return cls._from_body(fmt, body)

    @classmethod
    def _from_body(cls, fmt: int, body: bytes) -> Self:
        _need(body, 8, "PLI SSRCs")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body)
        return cls(sender_ssrc, media_ssrc)

    def __bytes__(self) -> bytes:
        return _pack(RTCP_PSFB, PSFB_PLI, _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc))


@dataclass(slots=True)
class Fir:
    """Full Intra Request (RFC 5104 §4.3.1) with one (SSRC, sequence number) entry per target.

    RFC 5104 §4.3.1.2 requires the header's media SSRC to be 0. The 8-bit sequence number
    grows by one for each new request to a source and stays the same in a repetition.
    """

    packet_type: ClassVar[int] = RTCP_PSFB
    fmt: ClassVar[int] = PSFB_FIR

    sender_ssrc: int
    entries: list[tuple[int, int]] = field(default_factory=list)
    media_ssrc: int = 0

    @classmethod
    def parse(cls, data: bytes) -> Self:
        fmt, body = _check_header(data, RTCP_PSFB, "PSFB")
        if fmt != PSFB_FIR:
            raise ValueError(f"PSFB FMT {fmt} is not FIR ({PSFB_FIR})")
        return cls._from_body(fmt, body)

    @classmethod
    def _from_body(cls, fmt: int, body: bytes) -> Self:
        _need(body, 8, "FIR SSRCs")
        if len(body) & 7:
            raise ValueError(f"RTCP FIR FCI is {len(body) - 8} bytes, not a multiple of 8")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body)
        entries = [_FIR_ITEM.unpack_from(body, offset) for offset in range(8, len(body), 8)]
        return cls(sender_ssrc, [(ssrc, seq) for ssrc, seq in entries], media_ssrc)

    def __bytes__(self) -> bytes:
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc)
        body += b"".join(_FIR_ITEM.pack(ssrc, seq & 0xFF) for ssrc, seq in self.entries)
        return _pack(RTCP_PSFB, PSFB_FIR, body)


@dataclass(slots=True)
class Remb:
    """Receiver Estimated Maximum Bitrate (draft-alvestrand-rmcat-remb-03 §2.2).

    `bitrate` is in bit/s. On the wire it is an 18-bit mantissa shifted by a 6-bit exponent,
    so `__bytes__` keeps the top 18 significant bits and round trips are exact only for
    values that the encoding can represent with the smallest exponent.
    """

    packet_type: ClassVar[int] = RTCP_PSFB
    fmt: ClassVar[int] = PSFB_AFB

    sender_ssrc: int
    bitrate: int
    ssrcs: list[int] = field(default_factory=list)
    media_ssrc: int = 0

    @classmethod
    def parse(cls, data: bytes) -> Self:
        fmt, body = _check_header(data, RTCP_PSFB, "PSFB")
        if fmt != PSFB_AFB:
            raise ValueError(f"PSFB FMT {fmt} is not application layer feedback ({PSFB_AFB})")
        return cls._from_body(fmt, body)

    @classmethod
    def _from_body(cls, fmt: int, body: bytes) -> Self:
        _need(body, 16, "REMB")
        if body[8:12] != REMB_IDENTIFIER:
            raise ValueError(f"RTCP AFB identifier {body[8:12]!r} is not {REMB_IDENTIFIER!r}")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body)
        count = body[12]
        exponent = body[13] >> 2
        mantissa = (body[13] & 0x03) << 16 | body[14] << 8 | body[15]
        _need(body, 16 + 4 * count, f"REMB with SSRC count {count}")
        ssrcs = list(struct.unpack_from(f"!{count}I", body, 16))
        return cls(sender_ssrc, mantissa << exponent, ssrcs, media_ssrc)

    def __bytes__(self) -> bytes:
        if self.bitrate < 0:
            raise ValueError(f"REMB bitrate {self.bitrate} is invalid, expected >= 0")
        exponent = max(0, self.bitrate.bit_length() - 18)
        if exponent > 63:
            raise ValueError(f"REMB bitrate {self.bitrate} is too large for the 6-bit exponent")
        mantissa = self.bitrate >> exponent
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc) + REMB_IDENTIFIER
        body += bytes((len(self.ssrcs), exponent << 2 | mantissa >> 16, (mantissa >> 8) & 0xFF))
        body += bytes((mantissa & 0xFF,)) + struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        return _pack(RTCP_PSFB, PSFB_AFB, body)


# --- Extended reports (RFC 3611) -------------------------------------------------------------


@dataclass(slots=True)
class ReceiverReferenceTime:
    """XR block type 4 (RFC 3611 §4.4): the receiver's NTP time when it sent the report."""

    ntp_timestamp: int

    def __bytes__(self) -> bytes:
        return _XR_BLOCK_HEADER.pack(XR_RRT, 0, 2) + struct.pack("!Q", self.ntp_timestamp)


@dataclass(slots=True)
class Dlrr:
    """XR block type 5 (RFC 3611 §4.5): (SSRC, last RR, delay since last RR) sub-blocks.

    Last RR is the compact NTP time of the RRT block received from that SSRC, and the delay
    is in 1/65536 s.
    """

    items: list[tuple[int, int, int]] = field(default_factory=list)

    def __bytes__(self) -> bytes:
        header = _XR_BLOCK_HEADER.pack(XR_DLRR, 0, 3 * len(self.items))
        return header + b"".join(_DLRR_ITEM.pack(*item) for item in self.items)


@dataclass(slots=True)
class UnknownXrBlock:
    """An XR block of a type this module does not decode, kept as raw bytes."""

    block_type: int
    type_specific: int
    content: bytes

    def __bytes__(self) -> bytes:
        return (
            _XR_BLOCK_HEADER.pack(self.block_type, self.type_specific, len(self.content) >> 2)
            + self.content
        )


XrBlock = ReceiverReferenceTime | Dlrr | UnknownXrBlock


@dataclass(slots=True)
class ExtendedReport:
    """XR packet (RFC 3611 §2): the sender's SSRC and its report blocks."""

    packet_type: ClassVar[int] = RTCP_XR

    ssrc: int
    blocks: list[XrBlock] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes) -> Self:
        count, body = _check_header(data, RTCP_XR, "XR")
        return cls._from_body(count, body)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> Self:
        _need(body, 4, "XR SSRC")
        blocks: list[XrBlock] = []
        offset = 4
        while offset < len(body):
            if offset + 4 > len(body):
                raise ValueError(f"RTCP XR block header at offset {offset} is truncated")
            block_type, type_specific, words = _XR_BLOCK_HEADER.unpack_from(body, offset)
            start = offset + 4
            end = start + 4 * words
            if end > len(body):
                raise ValueError(
                    f"RTCP XR block type {block_type} length {words} words overruns the "
                    f"{len(body)}-byte body"
                )
            blocks.append(_parse_xr_block(block_type, type_specific, body[start:end]))
            offset = end
        return cls(_U32.unpack_from(body)[0], blocks)

    def __bytes__(self) -> bytes:
        body = _U32.pack(self.ssrc) + b"".join(bytes(block) for block in self.blocks)
        return _pack(RTCP_XR, 0, body)


def _parse_xr_block(block_type: int, type_specific: int, content: bytes) -> XrBlock:
    if block_type == XR_RRT:
        if len(content) != 8:
            raise ValueError(f"RTCP XR RRT block is {len(content)} bytes, expected 8")
        return ReceiverReferenceTime(struct.unpack("!Q", content)[0])
    if block_type == XR_DLRR:
        if len(content) % 12:
            raise ValueError(f"RTCP XR DLRR block is {len(content)} bytes, not a multiple of 12")
        return Dlrr([_DLRR_ITEM.unpack_from(content, i) for i in range(0, len(content), 12)])
    return UnknownXrBlock(block_type, type_specific, content)


# --- Unknown packets and the compound reader -------------------------------------------------


@dataclass(slots=True)
class UnknownPacket:
    """A packet whose type, or feedback FMT, this module does not decode (APP, SLI, ...)."""

    packet_type: int
    count: int
    body: bytes

    def __bytes__(self) -> bytes:
        return _pack(self.packet_type, self.count, self.body)


RtcpPacket = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Bye
    | GenericNack
    | TransportCcFeedback
    | Pli
    | Fir
    | Remb
    | ExtendedReport
    | UnknownPacket
)


@dataclass(slots=True)
class RtcpReadResult:
    """Result of `read_compound`: decoded packets in order, and one message per error."""

    packets: list[RtcpPacket] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _parse_body(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RTCP_SR:
        return SenderReport._from_body(count, body)
    if packet_type == RTCP_RR:
        return ReceiverReport._from_body(count, body)
    if packet_type == RTCP_SDES:
        return SourceDescription._from_body(count, body)
    if packet_type == RTCP_BYE:
        return Bye._from_body(count, body)
    if packet_type == RTCP_RTPFB:
        if count == RTPFB_NACK:
            return GenericNack._from_body(count, body)
        if count == RTPFB_TRANSPORT_CC:
            return TransportCcFeedback._from_body(count, body)
    elif packet_type == RTCP_PSFB:
        if count == PSFB_PLI:
            return Pli._from_body(count, body)
        if count == PSFB_FIR:
            return Fir._from_body(count, body)
        if count == PSFB_AFB and body[8:12] == REMB_IDENTIFIER:
            return Remb._from_body(count, body)
    elif packet_type == RTCP_XR:
        return ExtendedReport._from_body(count, body)
    return UnknownPacket(packet_type, count, body)


def read_compound(data: bytes) -> RtcpReadResult:
    """Decode every packet of a compound RTCP packet without raising.

    Packets of unknown types come back as `UnknownPacket`. A packet whose body is invalid is
    skipped with a message in `errors`, and reading goes on with the next one. A header with
    the wrong version or a length past the end of `data` stops the walk, because the
    following packet boundaries cannot be trusted.
    """
    result = RtcpReadResult()
    offset = 0
    size = len(data)
    while offset < size:
        if offset + RTCP_HEADER_SIZE > size:
            result.errors.append(
                f"RTCP header at offset {offset} is truncated: {size - offset} bytes left"
            )
            break
        first, packet_type, words = _HEADER.unpack_from(data, offset)
        version = first >> 6
        if version != RTCP_VERSION:
            result.errors.append(
                f"RTCP version {version} at offset {offset} is invalid, expected {RTCP_VERSION}"
            )
            break
        end = offset + RTCP_HEADER_SIZE + 4 * words
        if end > size:
            result.errors.append(
                f"RTCP packet type {packet_type} at offset {offset} is truncated: length "
                f"field gives {end - offset} bytes, {size - offset} left"
            )
            break
        count = first & 0x1F
        try:
            body = _strip_padding(first, data[offset + RTCP_HEADER_SIZE : end])
            result.packets.append(_parse_body(packet_type, count, body))
        except ValueError as error:
            result.errors.append(
                f"RTCP packet type {packet_type} count/FMT {count} at offset {offset}: {error}"
            )
        offset = end
    return result


def build_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound RTCP packet."""
    return b"".join(bytes(packet) for packet in packets)


def build_sender_report(
    ssrc: int,
    ntp_timestamp: int,
    rtp_timestamp: int,
    packet_count: int,
    octet_count: int,
    cname: str | None = None,
    reports: Iterable[ReportBlock] = (),
) -> bytes:
    """Build an SR, followed by an SDES CNAME chunk for `ssrc` when `cname` is given."""
    report = SenderReport(
        ssrc, ntp_timestamp, rtp_timestamp, packet_count, octet_count, list(reports)
    )
    if cname is None:
        return bytes(report)
    return bytes(report) + bytes(SourceDescription.for_cname(ssrc, cname))

"""Transport-wide congestion control feedback (RTPFB FMT 15).

The format is draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1. Every RTP packet a
browser sends on a transport carries a transport-wide sequence number (§2). The receiver
reports to the sender which of those packets arrived and when, and the sender's bandwidth
estimator (Google congestion control in Chrome) turns that into a send rate.

`TransportCcFeedbackGenerator` is the receive side of one transport. The I/O layer calls
`on_packet` for every RTP packet that carries the extension, and `poll` when `next_timeout()`
is due or when `on_packet` returns True. `poll` returns complete RTCP packets to send.

`TransportFeedback` is the codec of the whole packet, packet status chunks and receive
deltas included, for tests and for the send side.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Self

from workers.rtcp import TransportCcFeedback
from workers.seq_manager import SeqExtender

# §3.1.1: packet status symbols. The 2-bit value 3 is reserved.
STATUS_NOT_RECEIVED = 0
STATUS_SMALL_DELTA = 1
STATUS_LARGE_DELTA = 2
_STATUS_RESERVED = 3

# §3.1.5: receive deltas count 250 µs ticks. A small delta is 1 unsigned byte, a large or
# negative one 2 signed bytes.
DELTA_TICK_US = 250
_SMALL_DELTA_MAX = 0xFF
_LARGE_DELTA_MIN = -0x8000
_LARGE_DELTA_MAX = 0x7FFF

# §3.1: the reference time is a 24-bit signed integer in multiples of 64 ms.
REFERENCE_TIME_UNIT_US = 64_000
_REFERENCE_TIME_MASK = 0xFFFFFF

# §3.1.3: a run length chunk carries a 13-bit run. §3.1.4: a status vector chunk carries 14
# one-bit or 7 two-bit symbols.
MAX_RUN_LENGTH = 0x1FFF
_ONE_BIT_CAPACITY = 14
_TWO_BIT_CAPACITY = 7

MAX_PACKET_STATUS_COUNT = 0xFFFF

# Common header, two SSRCs, base sequence number, status count, reference time and
# feedback packet count.
FEEDBACK_HEADER_SIZE = 20

_CHUNK = struct.Struct("!H")
_LARGE_DELTA = struct.Struct("!h")


# --- Packet status chunks ---------------------------------------------------------------------


def _run_length_chunk(symbol: int, run: int) -> int:
    # §3.1.3: T=0, 2-bit symbol, 13-bit run length.
    return symbol << 13 | run


def _one_bit_chunk(symbols: list[int]) -> int:
    # §3.1.4: T=1, S=0, then 14 symbols, the first in the most significant bit.
    chunk = 0x8000
    for index, symbol in enumerate(symbols):
        chunk |= symbol << (13 - index)
    return chunk


def _two_bit_chunk(symbols: list[int]) -> int:
    # §3.1.4: T=1, S=1, then 7 two-bit symbols, the first in the most significant bits.
    chunk = 0xC000
    for index, symbol in enumerate(symbols):
        chunk |= symbol << (12 - 2 * index)
    return chunk


class _ChunkWriter:
    """Packs a stream of status symbols into as few chunks as a greedy pass allows.

    Symbols wait in a pending chunk until the next one cannot join it. Identical symbols stay
    a run length chunk for up to 8191 of them. Mixed symbols stay a status vector chunk: up
    to 14 if none is a large delta (1-bit vector), otherwise 7 (2-bit vector). The pending
    chunk always fits one chunk, so `size` is exact before `finish`.
    """

    __slots__ = ("_all_same", "_first", "_has_large", "_pending", "_symbols", "chunks")

    def __init__(self) -> None:
        self.chunks: list[int] = []
        # Pending symbols. While they are all the same only `_first` and `_pending` are kept,
        # because a run can be thousands long. Otherwise `_symbols` lists them.
        self._pending = 0
        self._all_same = True
        self._first = STATUS_NOT_RECEIVED
        self._has_large = False
        self._symbols: list[int] = []

    @property
    def size(self) -> int:
        """Encoded size in bytes of the chunks so far, the pending one included."""
        return 2 * len(self.chunks) + (2 if self._pending else 0)

    def snapshot(self) -> tuple[int, int, bool, int, bool, list[int]]:
        """Return the state that `restore` brings back."""
        return (
            len(self.chunks),
            self._pending,
            self._all_same,
            self._first,
            self._has_large,
            list(self._symbols),
        )

    def restore(self, state: tuple[int, int, bool, int, bool, list[int]]) -> None:
        """Undo every `add` since `snapshot` returned `state`."""
        chunk_count, self._pending, self._all_same, self._first, self._has_large, symbols = state
        del self.chunks[chunk_count:]
        self._symbols = symbols

    def add(self, symbol: int, count: int = 1) -> None:
        """Append `count` copies of `symbol`."""
        while count > 0:
            if self._pending == 0:
                self._first = symbol
                self._all_same = True
                self._has_large = symbol == STATUS_LARGE_DELTA
            if self._all_same and symbol == self._first:
                added = min(count, MAX_RUN_LENGTH - self._pending)
                self._pending += added
                count -= added
                if count:
                    self._emit()
                continue
            if not self._can_join(symbol):
                self._emit()
                continue
            if self._all_same:
                self._symbols = [self._first] * self._pending
                self._all_same = False
            self._symbols.append(symbol)
            self._pending += 1
            self._has_large |= symbol == STATUS_LARGE_DELTA
            count -= 1

    def finish(self) -> list[int]:
        """Close the pending chunk and return every chunk.

        The last status vector chunk is padded with "not received" symbols, which a reader
        ignores because the packet status count ends the list first.
        """
        if self._pending:
            if self._all_same:
                self.chunks.append(_run_length_chunk(self._first, self._pending))
            elif self._has_large:
                padding = [STATUS_NOT_RECEIVED] * (_TWO_BIT_CAPACITY - self._pending)
                self.chunks.append(_two_bit_chunk(self._symbols + padding))
            else:
                padding = [STATUS_NOT_RECEIVED] * (_ONE_BIT_CAPACITY - self._pending)
                self.chunks.append(_one_bit_chunk(self._symbols + padding))
            self._pending = 0
            self._symbols = []
        return self.chunks

    def _can_join(self, symbol: int) -> bool:
        # Called only when the pending symbols are mixed or `symbol` differs from them.
        if self._pending < _TWO_BIT_CAPACITY:
            return True
        if self._pending >= _ONE_BIT_CAPACITY:
            return False
        return not self._has_large and symbol != STATUS_LARGE_DELTA

    def _emit(self) -> None:
        if self._all_same:
            self.chunks.append(_run_length_chunk(self._first, self._pending))
            self._pending = 0
            return
        if self._pending == _ONE_BIT_CAPACITY:
            # A full 1-bit vector: the join rule kept large deltas out of it.
            self.chunks.append(_one_bit_chunk(self._symbols))
            self._pending = 0
            self._symbols = []
            return
        # Between 7 and 13 mixed symbols and the next one needs 2 bits: send the first 7 as
        # a 2-bit vector and keep the rest pending.
        self.chunks.append(_two_bit_chunk(self._symbols[:_TWO_BIT_CAPACITY]))
        rest = self._symbols[_TWO_BIT_CAPACITY:]
        self._pending = len(rest)
        self._has_large = STATUS_LARGE_DELTA in rest
        self._first = rest[0] if rest else STATUS_NOT_RECEIVED
        self._all_same = rest.count(self._first) == len(rest)
        self._symbols = [] if self._all_same else rest


def _status_for(delta: int | None) -> int:
    if delta is None:
        return STATUS_NOT_RECEIVED
    if 0 <= delta <= _SMALL_DELTA_MAX:
        return STATUS_SMALL_DELTA
    return STATUS_LARGE_DELTA


def _append_delta(out: bytearray, delta: int) -> None:
    if 0 <= delta <= _SMALL_DELTA_MAX:
        out.append(delta)
    else:
        out += _LARGE_DELTA.pack(delta)


# --- Codec ------------------------------------------------------------------------------------


@dataclass(slots=True)
class TransportFeedback:
    """A transport-cc feedback packet with its statuses and receive deltas decoded.

    `deltas` has one entry per reported packet, from `base_sequence_number` on: None for a
    packet not received, else its receive delta in 250 µs ticks. The first delta counts from
    `reference_time` (signed 24 bits, 64 ms units, as `TransportCcFeedback` gives it), each
    later one from the previous received packet. Encoding picks the status from the delta:
    0..255 is a small delta, anything else a large one.
    """

    sender_ssrc: int
    media_ssrc: int
    base_sequence_number: int
    reference_time: int
    feedback_packet_count: int
    deltas: list[int | None] = field(default_factory=list)

    @property
    def packet_status_count(self) -> int:
        """Number of packets the feedback reports, received or not."""
        return len(self.deltas)

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Parse one complete RTPFB FMT 15 packet."""
        return cls.from_rtcp(TransportCcFeedback.parse(data))

    @classmethod
    def from_rtcp(cls, packet: TransportCcFeedback) -> Self:
        """Decode the chunks and deltas of a packet that `read_compound` returned.

        A status given as a large delta whose value would fit a small one is decoded to the
        same value, so re-encoding such a packet gives a shorter packet.
        """
        statuses, offset = _parse_chunks(packet.packet_chunks, packet.packet_status_count)
        deltas, offset = _parse_deltas(packet.packet_chunks, offset, statuses)
        trailing = len(packet.packet_chunks) - offset
        if trailing > 3:
            raise ValueError(
                f"transport-cc feedback has {trailing} bytes after the last receive delta, "
                "expected at most 3 bytes of zero padding"
            )
        return cls(
            packet.sender_ssrc,
            packet.media_ssrc,
            packet.base_sequence_number,
            packet.reference_time,
            packet.feedback_packet_count,
            deltas,
        )

    def packet_results(self) -> list[tuple[int, int | None]]:
        """Return (16-bit sequence number, arrival time in µs or None) per reported packet.

        Arrival times count from the feedback sender's time base: `reference_time` times
        64 ms plus the deltas. Reference times of consecutive feedback packets wrap every
        2**24 * 64 ms, so a sender compares them modulo 2**24.
        """
        results: list[tuple[int, int | None]] = []
        time_us = self.reference_time * REFERENCE_TIME_UNIT_US
        for index, delta in enumerate(self.deltas):
            sequence_number = (self.base_sequence_number + index) & 0xFFFF
            if delta is None:
                results.append((sequence_number, None))
                continue
            time_us += delta * DELTA_TICK_US
            results.append((sequence_number, time_us))
        return results

    def __bytes__(self) -> bytes:
        if len(self.deltas) > MAX_PACKET_STATUS_COUNT:
            raise ValueError(
                f"transport-cc packet status count {len(self.deltas)} is invalid, the maximum "
                f"is {MAX_PACKET_STATUS_COUNT}"
            )
        writer = _ChunkWriter()
        delta_bytes = bytearray()
        for delta in self.deltas:
            writer.add(_status_for(delta))
            if delta is None:
                continue
            if not _LARGE_DELTA_MIN <= delta <= _LARGE_DELTA_MAX:
                raise ValueError(
                    f"transport-cc receive delta {delta} ticks is invalid, expected "
                    f"{_LARGE_DELTA_MIN}..{_LARGE_DELTA_MAX}"
                )
            _append_delta(delta_bytes, delta)
        chunks = b"".join(_CHUNK.pack(chunk) for chunk in writer.finish())
        return bytes(
            TransportCcFeedback(
                self.sender_ssrc,
                self.media_ssrc,
                self.base_sequence_number & 0xFFFF,
                len(self.deltas),
                self.reference_time,
                self.feedback_packet_count & 0xFF,
                chunks + bytes(delta_bytes),
            )
        )


def _parse_chunks(data: bytes, status_count: int) -> tuple[list[int], int]:
    """Return the first `status_count` symbols of the chunk list and the offset after it."""
    statuses: list[int] = []
    offset = 0
    while len(statuses) < status_count:
        if offset + 2 > len(data):
            raise ValueError(
                f"transport-cc packet chunks are truncated: {len(statuses)} of "
                f"{status_count} statuses decoded at offset {offset}"
            )
        chunk = _CHUNK.unpack_from(data, offset)[0]
        remaining = status_count - len(statuses)
        if not chunk & 0x8000:
            symbol = chunk >> 13
            if symbol == _STATUS_RESERVED:
                raise ValueError(
                    f"transport-cc run length chunk 0x{chunk:04x} at offset {offset} has the "
                    "reserved status symbol 3"
                )
            statuses.extend([symbol] * min(chunk & MAX_RUN_LENGTH, remaining))
        elif not chunk & 0x4000:
            for index in range(min(_ONE_BIT_CAPACITY, remaining)):
                statuses.append((chunk >> (13 - index)) & 1)
        else:
            for index in range(min(_TWO_BIT_CAPACITY, remaining)):
                symbol = (chunk >> (12 - 2 * index)) & 3
                if symbol == _STATUS_RESERVED:
                    raise ValueError(
                        f"transport-cc status vector chunk 0x{chunk:04x} at offset {offset} has "
                        f"the reserved status symbol 3 at position {index}"
                    )
                statuses.append(symbol)
        offset += 2
    return statuses, offset


def _parse_deltas(data: bytes, offset: int, statuses: list[int]) -> tuple[list[int | None], int]:
    deltas: list[int | None] = []
    for index, status in enumerate(statuses):
        if status == STATUS_NOT_RECEIVED:
            deltas.append(None)
            continue
        size = 1 if status == STATUS_SMALL_DELTA else 2
        if offset + size > len(data):
            raise ValueError(
                f"transport-cc receive delta of packet {index} is truncated at offset {offset}"
            )
        if size == 1:
            deltas.append(data[offset])
        else:
            deltas.append(_LARGE_DELTA.unpack_from(data, offset)[0])
        offset += size
    return deltas, offset


# --- Receive side -----------------------------------------------------------------------------

# Default feedback interval: mediasoup 3.x sends transport-cc feedback every 100 ms.
DEFAULT_FEEDBACK_INTERVAL = 0.1

# libwebrtc's RemoteEstimatorProxy spends 5 % of the incoming bitrate on feedback, counting
# 68 bytes per report (IPv4, UDP and SRTP overhead plus an average report), within 50..250 ms.
FEEDBACK_BITRATE_FRACTION = 0.05
FEEDBACK_REPORT_SIZE = 68
MIN_FEEDBACK_INTERVAL = 0.05
MAX_FEEDBACK_INTERVAL = 0.25

# A feedback is due early once this many arrivals wait. Even at the worst encoding (every
# packet a large delta in a 2-bit vector, about 2.3 bytes each) they fit one 1200-byte packet.
EARLY_FEEDBACK_PACKETS = 250

# Arrivals stay this long after they were reported, so that a reordered packet can be
# reported together with its neighbours again. mediasoup 3.x, porting libwebrtc, keeps 500 ms.
REPORTED_ARRIVAL_LIFETIME = 0.5

# One feedback round covers at most this many sequence numbers. Older arrivals are dropped,
# which also keeps the status count within 16 bits. mediasoup 3.x uses the same limit.
MAX_REPORTED_RANGE = 1 << 15

# Hard bound on stored arrivals, reached only when `poll` is not called for a long time.
MAX_STORED_ARRIVALS = 1 << 14


class TransportCcFeedbackGenerator:
    """Records arrivals of one transport and builds transport-cc feedback for them.

    Transport-wide sequence numbers are extended to 64 bits, so 65535 -> 0 is an ordinary
    step. Each feedback round reports every sequence number from the first one not yet
    reported up to the highest received: packets missing in between are reported as not
    received. A packet that arrives after its sequence number was reported lost moves the
    next round's start back, so it is reported as received then. A packet more than 500 ms
    late whose neighbours were already dropped is ignored, and the sender keeps it as lost.

    `sender_ssrc` goes into every feedback. mediasoup 3.x sends 0 there.
    """

    __slots__ = (
        "_arrival_order",
        "_arrivals",
        "_extender",
        "_feedback_packet_count",
        "_floor",
        "_interval",
        "_max_packet_size",
        "_media_ssrc",
        "_next_feedback_at",
        "_pending",
        "_sender_ssrc",
        "_window_start",
    )

    def __init__(
        self,
        *,
        sender_ssrc: int = 0,
        interval: float = DEFAULT_FEEDBACK_INTERVAL,
        max_packet_size: int = 1200,
    ) -> None:
        if interval <= 0:
            raise ValueError(
                f"transport-cc feedback interval {interval} s is invalid, expected > 0"
            )
        if max_packet_size < FEEDBACK_HEADER_SIZE + 8:
            raise ValueError(
                f"transport-cc max_packet_size {max_packet_size} is invalid, expected >= "
                f"{FEEDBACK_HEADER_SIZE + 8} bytes"
            )
        self._sender_ssrc = sender_ssrc
        self._interval = interval
        self._max_packet_size = max_packet_size
        self._extender = SeqExtender()
        # Extended sequence number -> arrival time in seconds, and the same numbers in
        # arrival order, so that old entries leave from the front.
        self._arrivals: dict[int, float] = {}
        self._arrival_order: deque[int] = deque()
        # First extended sequence number the next feedback reports, None before any arrival.
        self._window_start: int | None = None
        # Highest sequence number dropped: packets at or below it are no longer reported.
        self._floor: int | None = None
        self._pending = 0
        self._media_ssrc = 0
        self._feedback_packet_count = 0
        self._next_feedback_at: float | None = None

    @property
    def interval(self) -> float:
        """Time between feedback rounds, in seconds."""
        return self._interval

    def set_incoming_bitrate(self, bitrate: float) -> None:
        """Size the feedback interval so feedback uses about 5 % of `bitrate` (bit/s).

        The interval stays within 50..250 ms. Without a call the interval is the one given
        to the constructor.
        """
        if bitrate <= 0:
            self._interval = MAX_FEEDBACK_INTERVAL
            return
        interval = FEEDBACK_REPORT_SIZE * 8 / (FEEDBACK_BITRATE_FRACTION * bitrate)
        self._interval = min(max(interval, MIN_FEEDBACK_INTERVAL), MAX_FEEDBACK_INTERVAL)

    def on_packet(self, now: float, transport_sequence_number: int, media_ssrc: int) -> bool:
        """Record the arrival at `now` (seconds) of a packet with a transport-wide sequence number.

        `media_ssrc` is the SSRC of the packet. The next feedback names the latest one as its
        media source, as mediasoup 3.x does. Returns True when enough arrivals wait that `poll`
        should run now rather than at `next_timeout()`.
        """
        previous_highest = self._extender.max
        seq = self._extender.extend(transport_sequence_number)
        highest = self._extender.max
        assert highest is not None
        if seq in self._arrivals:
            return False
        if (self._floor is not None and seq <= self._floor) or highest - seq >= MAX_REPORTED_RANGE:
            return False

        window_start = self._window_start
        if window_start is not None and previous_highest is not None:
            if previous_highest < window_start:
                # The first arrival of a new round: drop arrivals reported long enough ago.
                self._forget_reported(now - REPORTED_ARRIVAL_LIFETIME, seq)
        if window_start is None or seq < window_start:
            self._window_start = seq

        self._arrivals[seq] = now
        self._arrival_order.append(seq)
        if len(self._arrival_order) > MAX_STORED_ARRIVALS:
            self._forget(self._arrival_order.popleft())
        self._media_ssrc = media_ssrc
        self._pending += 1
        if self._next_feedback_at is None:
            self._next_feedback_at = now + self._interval
        return self._pending >= EARLY_FEEDBACK_PACKETS

    def next_timeout(self) -> float | None:
        """Return when `poll` must run next, or None while no arrival waits."""
        return self._next_feedback_at

    def poll(self, now: float) -> list[bytes]:
        """Return the feedback packets due at `now`, each a complete RTPFB FMT 15 packet.

        A round is due `interval` after the first arrival that it reports, or as soon as
        250 arrivals wait. One round gives several packets when the arrivals do not fit one
        packet of `max_packet_size` bytes.
        """
        due_at = self._next_feedback_at
        if due_at is None or (now < due_at and self._pending < EARLY_FEEDBACK_PACKETS):
            return []
        packets = self._build_round()
        self._pending = 0
        self._next_feedback_at = None
        return packets

    def _forget(self, seq: int) -> None:
        del self._arrivals[seq]
        if self._floor is None or seq > self._floor:
            self._floor = seq

    def _forget_reported(self, cutoff: float, newest: int) -> None:
        order = self._arrival_order
        arrivals = self._arrivals
        while order and order[0] < newest and arrivals[order[0]] <= cutoff:
            self._forget(order.popleft())

    def _build_round(self) -> list[bytes]:
        start = self._window_start
        highest = self._extender.max
        if start is None or highest is None:
            return []
        start = max(start, highest - MAX_REPORTED_RANGE + 1)
        sequence_numbers = sorted(seq for seq in self._arrivals if seq >= start)
        packets: list[bytes] = []
        index = 0
        while index < len(sequence_numbers):
            builder = _FeedbackBuilder(start, self._max_packet_size)
            while index < len(sequence_numbers):
                seq = sequence_numbers[index]
                if not builder.add(seq, self._arrivals[seq]):
                    break
                index += 1
            # The first packet of a builder always fits, so every pass makes progress.
            assert builder.next_sequence_number > builder.base_sequence_number
            packets.append(
                builder.finish(self._sender_ssrc, self._media_ssrc, self._feedback_packet_count)
            )
            self._feedback_packet_count = (self._feedback_packet_count + 1) & 0xFF
            start = builder.next_sequence_number
        self._window_start = start
        return packets


class _FeedbackBuilder:
    """One feedback packet under construction, filled in sequence number order."""

    __slots__ = (
        "_delta_bytes",
        "_last_time_us",
        "_max_body_size",
        "_reference_time",
        "_writer",
        "base_sequence_number",
        "next_sequence_number",
    )

    def __init__(self, base_sequence_number: int, max_packet_size: int) -> None:
        self.base_sequence_number = base_sequence_number
        self.next_sequence_number = base_sequence_number
        # Chunks and deltas must leave room for the header and the padding to 32 bits.
        self._max_body_size = (max_packet_size - FEEDBACK_HEADER_SIZE) & ~3
        self._writer = _ChunkWriter()
        self._delta_bytes = bytearray()
        self._reference_time: int | None = None
        self._last_time_us = 0

    def add(self, seq: int, arrival: float) -> bool:
        """Add the received packet `seq` and the lost ones before it, or return False.

        False means the packet does not fit: the size limit, the 16-bit status count or the
        range of a large delta would be exceeded. The first packet always fits.
        """
        arrival_us = round(arrival * 1_000_000)
        if self._reference_time is None:
            self._reference_time = arrival_us // REFERENCE_TIME_UNIT_US
            self._last_time_us = self._reference_time * REFERENCE_TIME_UNIT_US
        delta = (arrival_us - self._last_time_us) // DELTA_TICK_US
        if not _LARGE_DELTA_MIN <= delta <= _LARGE_DELTA_MAX:
            return False
        if seq - self.base_sequence_number + 1 > MAX_PACKET_STATUS_COUNT:
            return False

        gap = seq - self.next_sequence_number
        delta_size = 1 if 0 <= delta <= _SMALL_DELTA_MAX else 2
        size = self._writer.size + len(self._delta_bytes) + delta_size
        # Adding a gap and one status emits at most three chunks plus one per full run of
        # the gap. With one chunk of margin the fast path cannot exceed the limit.
        if size + 2 * (4 + gap // MAX_RUN_LENGTH) <= self._max_body_size:
            self._writer.add(STATUS_NOT_RECEIVED, gap)
            self._writer.add(_status_for(delta))
        else:
            # Close to the limit: add, measure, and undo if the packet got too large.
            state = self._writer.snapshot()
            self._writer.add(STATUS_NOT_RECEIVED, gap)
            self._writer.add(_status_for(delta))
            if self._writer.size + len(self._delta_bytes) + delta_size > self._max_body_size:
                self._writer.restore(state)
                return False

        _append_delta(self._delta_bytes, delta)
        self._last_time_us += delta * DELTA_TICK_US
        self.next_sequence_number = seq + 1
        return True

    def finish(self, sender_ssrc: int, media_ssrc: int, feedback_packet_count: int) -> bytes:
        chunks = b"".join(_CHUNK.pack(chunk) for chunk in self._writer.finish())
        return bytes(
            TransportCcFeedback(
                sender_ssrc,
                media_ssrc,
                self.base_sequence_number & 0xFFFF,
                self.next_sequence_number - self.base_sequence_number,
                (self._reference_time or 0) & _REFERENCE_TIME_MASK,
                feedback_packet_count,
                chunks + bytes(self._delta_bytes),
            )
        )

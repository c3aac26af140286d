"""Retransmission buffer of one consumer stream (RFC 4585 §6.2.1, RFC 4588).

The consumer stores every RTP packet it sends, before SRTP protection, under its outgoing
sequence number. When the receiving endpoint sends a Generic NACK, `on_nack` returns the
packets to send again: RTX packets when the consumer negotiated RTX, else the original bytes,
so the SRTP session must allow repeated packets. It runs in virtual time:
callers pass `now` in seconds and send what it returns.

Per-packet call: `store(now, seq, data)`. Per NACK: `on_nack(now, nack.sequence_numbers())`.
Per RTT measurement: `set_rtt(seconds)`. On pause: `clear()`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Literal

from workers.rtp import RtpPacket, rtx_encapsulate

# Packets kept at most. Recent mediasoup releases keep 2500.
DEFAULT_MAX_PACKETS = 3000

# Packets older than this (seconds since they were stored) are not resent: a receiver's
# jitter buffer has given up on them by then. Older mediasoup 3 releases use the same values
# (2000 ms video, 1000 ms audio), and recent ones keep packets twice as long.
VIDEO_MAX_AGE = 2.0
AUDIO_MAX_AGE = 1.0

# Round-trip time assumed until `set_rtt` is called (seconds).
DEFAULT_RTT = 0.100

# At most this many packets are resent for one NACK. A NACK may list thousands of sequence
# numbers, and resending them all at once would turn one RTCP packet into a burst of media
# several times the stream's rate. Requests past the limit are not marked as resent, so the
# receiver's next NACK, one RTT later, gets them.
DEFAULT_MAX_RESENDS_PER_NACK = 50

_SEQ_MASK = 0xFFFF
_HALF_RANGE = 0x8000
_RANGE = 0x10000
_NEVER = float("-inf")


class RetransmissionBuffer:
    """Sent packets of one consumer stream, by outgoing sequence number, for resending.

    The buffer is a ring indexed by the 64-bit extended sequence number, so it contains the
    packets of the last `max_packets` sequence numbers, across 65535 -> 0 like any other.
    Packets also expire `max_age` seconds after they were stored. `kind` picks the default
    age: `VIDEO_MAX_AGE` or `AUDIO_MAX_AGE`.

    With `rtx_payload_type` and `rtx_ssrc` (both or neither), resends are RTX packets with
    their own sequence numbers starting at `rtx_sequence_number`. Pass a random value there
    (RFC 3550 §5.1), or None to have one drawn below 2**15.

    Counters: `nack_count` (NACK packets handled), `nack_packet_count` (sequence numbers
    requested), `packets_retransmitted`, `packets_repaired` (first resends only),
    `bytes_retransmitted`, and `skip_counters` by reason: "not_stored", "too_old",
    "recently_resent", "rate_limited".
    """

    __slots__ = (
        "_capacity",
        "_data",
        "_highest",
        "_max_age",
        "_max_resends",
        "_oldest",
        "_resent_at",
        "_rtt",
        "_rtx_payload_type",
        "_rtx_sequence_number",
        "_rtx_ssrc",
        "_sent_at",
        "_seqs",
        "bytes_retransmitted",
        "nack_count",
        "nack_packet_count",
        "packets_repaired",
        "packets_retransmitted",
        "skip_counters",
    )

    def __init__(
        self,
        kind: Literal["audio", "video"],
        *,
        max_packets: int = DEFAULT_MAX_PACKETS,
        max_age: float | None = None,
        rtx_payload_type: int | None = None,
        rtx_ssrc: int | None = None,
        rtx_sequence_number: int | None = None,
        max_resends_per_nack: int = DEFAULT_MAX_RESENDS_PER_NACK,
    ) -> None:
        if kind not in ("audio", "video"):
            raise ValueError(f"kind {kind!r} is invalid, expected 'audio' or 'video'")
        if max_packets < 1:
            raise ValueError(f"max_packets {max_packets} is invalid, expected >= 1")
        if max_age is None:
            max_age = VIDEO_MAX_AGE if kind == "video" else AUDIO_MAX_AGE
        if max_age <= 0:
            raise ValueError(f"max_age {max_age} is invalid, expected > 0 seconds")
        if max_resends_per_nack < 1:
            raise ValueError(
                f"max_resends_per_nack {max_resends_per_nack} is invalid, expected >= 1"
            )
        _check_rtx(rtx_payload_type, rtx_ssrc, rtx_sequence_number)

        self._capacity = max_packets
        self._max_age = max_age
        self._max_resends = max_resends_per_nack
        self._rtt = DEFAULT_RTT
        self._rtx_payload_type = rtx_payload_type
        self._rtx_ssrc = rtx_ssrc
        if rtx_sequence_number is None:
            rtx_sequence_number = secrets.randbelow(_HALF_RANGE)
        self._rtx_sequence_number = rtx_sequence_number

        # One slot per extended sequence number modulo the capacity. A slot is in use when
        # its data is not None, and then contains the packet of `_seqs[slot]`.
        self._data: list[bytes | None] = [None] * max_packets
        self._seqs = [0] * max_packets
        self._sent_at = [0.0] * max_packets
        self._resent_at = [_NEVER] * max_packets
        # Highest extended sequence number stored, or None while empty.
        self._highest: int | None = None
        # Extended sequence numbers below this one were expired or are outside the ring.
        self._oldest = 0

        self.nack_count = 0
        self.nack_packet_count = 0
        self.packets_retransmitted = 0
        self.packets_repaired = 0
        self.bytes_retransmitted = 0
        self.skip_counters: dict[str, int] = {
            "not_stored": 0,
            "too_old": 0,
            "recently_resent": 0,
            "rate_limited": 0,
        }

    @property
    def rtt(self) -> float:
        """Round-trip time in seconds: a packet is resent at most once per RTT."""
        return self._rtt

    @property
    def rtx_sequence_number(self) -> int:
        """Sequence number of the next RTX packet."""
        return self._rtx_sequence_number

    def __len__(self) -> int:
        """Return the number of packets stored, expired ones not yet dropped included."""
        return sum(1 for data in self._data if data is not None)

    def set_rtt(self, seconds: float) -> None:
        """Set the round-trip time. A value of 0 or less means unknown: `DEFAULT_RTT`."""
        self._rtt = seconds if seconds > 0 else DEFAULT_RTT

    def clear(self) -> None:
        """Drop every stored packet, as when the consumer is paused. Counters are kept."""
        capacity = self._capacity
        self._data = [None] * capacity
        self._resent_at = [_NEVER] * capacity
        self._highest = None
        self._oldest = 0

    def store(self, now: float, seq: int, data: bytes) -> bool:
        """Keep a packet that is being sent, under its 16-bit outgoing sequence number.

        `data` is the complete RTP packet before SRTP protection. Returns False, storing
        nothing, when a packet with the same sequence number is already stored: the packet
        is a duplicate, and the caller does not send it either. Returns True otherwise, also
        for a packet too far behind the newest to keep.
        """
        highest = self._highest
        capacity = self._capacity
        if highest is None:
            extended = seq
            self._highest = highest = extended
            self._oldest = extended
        else:
            delta = (seq - highest) & _SEQ_MASK
            if delta < _HALF_RANGE:
                extended = highest + delta
                if delta >= capacity:
                    # Every stored packet is now outside the ring.
                    self.clear()
                    self._oldest = extended
                self._highest = highest = extended
            else:
                extended = highest + delta - _RANGE
                if extended <= highest - capacity:
                    return True
                if extended < self._oldest:
                    self._oldest = extended

        slot = extended % capacity
        stored = self._data
        if stored[slot] is not None and self._seqs[slot] == extended:
            return False
        stored[slot] = data
        self._seqs[slot] = extended
        self._sent_at[slot] = now
        self._resent_at[slot] = _NEVER
        self._expire(now, highest)
        return True

    def on_nack(self, now: float, seqs: Iterable[int]) -> list[bytes]:
        """Return the packets to resend for one NACK, in the order requested.

        `seqs` are the 16-bit sequence numbers the NACK lists (`GenericNack.sequence_numbers`).
        A request is skipped, and counted in `skip_counters`, when the packet is not stored,
        is older than `max_age`, was resent less than one RTT ago, or when this call already
        returned `max_resends_per_nack` packets.

        The returned packets are not SRTP-protected. They keep the header extension values
        of the first send, so the caller writes a new transport-wide sequence number and
        abs-send-time into them (`set_extension_value` on a bytearray) before protecting.
        """
        self.nack_count += 1
        resends: list[bytes] = []
        highest = self._highest
        capacity = self._capacity
        oldest_allowed = now - self._max_age
        rtt = self._rtt
        skipped = self.skip_counters
        for seq in seqs:
            self.nack_packet_count += 1
            if highest is None:
                skipped["not_stored"] += 1
                continue
            extended = highest - ((highest - seq) & _SEQ_MASK)
            slot = extended % capacity
            data = self._data[slot]
            if data is None or self._seqs[slot] != extended or extended <= highest - capacity:
                skipped["not_stored"] += 1
                continue
            if self._sent_at[slot] < oldest_allowed:
                skipped["too_old"] += 1
                continue
            resent_at = self._resent_at[slot]
            if now - resent_at < rtt:
                skipped["recently_resent"] += 1
                continue
            if len(resends) >= self._max_resends:
                skipped["rate_limited"] += 1
                continue

            if resent_at == _NEVER:
                self.packets_repaired += 1
            self._resent_at[slot] = now
            packet = self._build_resend(data)
            self.packets_retransmitted += 1
            self.bytes_retransmitted += len(packet)
            resends.append(packet)
        return resends

    def _build_resend(self, data: bytes) -> bytes:
        payload_type = self._rtx_payload_type
        ssrc = self._rtx_ssrc
        if payload_type is None or ssrc is None:
            return data
        # RFC 4588 §4: the RTX payload is the original sequence number, then the original
        # payload; the RTX stream numbers its packets on its own.
        rtx = rtx_encapsulate(RtpPacket.parse(data), payload_type, ssrc, self._rtx_sequence_number)
        self._rtx_sequence_number = (self._rtx_sequence_number + 1) & _SEQ_MASK
        return rtx.serialize()

    def _expire(self, now: float, highest: int) -> None:
        """Drop packets older than `max_age`, oldest sequence number first.

        Each sequence number is passed once, so the cost per stored packet is constant on
        average. The newest packet always stays.
        """
        limit = now - self._max_age
        oldest = max(self._oldest, highest - self._capacity + 1)
        capacity = self._capacity
        stored = self._data
        seqs = self._seqs
        sent_at = self._sent_at
        while oldest < highest:
            slot = oldest % capacity
            if stored[slot] is not None and seqs[slot] == oldest:
                if sent_at[slot] >= limit:
                    break
                stored[slot] = None
            oldest += 1
        self._oldest = oldest


def _check_rtx(payload_type: int | None, ssrc: int | None, sequence_number: int | None) -> None:
    if (payload_type is None) != (ssrc is None):
        raise ValueError(
            f"rtx_payload_type {payload_type} and rtx_ssrc {ssrc} must be given together"
        )
    if payload_type is not None and not 0 <= payload_type <= 127:
        raise ValueError(f"rtx_payload_type {payload_type} is invalid, expected 0..127")
    if ssrc is not None and not 0 <= ssrc <= 0xFFFFFFFF:
        raise ValueError(f"rtx_ssrc {ssrc} is invalid, expected 0..4294967295")
    if sequence_number is not None and not 0 <= sequence_number <= _SEQ_MASK:
        raise ValueError(f"rtx_sequence_number {sequence_number} is invalid, expected 0..65535")

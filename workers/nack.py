"""NACK generation for one received RTP stream (RFC 4585 §6.2.1).

A `NackGenerator` watches the sequence numbers of one producer stream, after RTX packets
have been unwrapped, and decides which missing packets to request from the sender and when.
It runs in virtual time and owns no timer:

- call `on_packet` for every media packet and every unwrapped RTX packet of the stream;
- call `poll(now)` when `next_timeout()` is reached and send one Generic NACK with the
  returned sequence numbers (`GenericNack.from_sequence_numbers`);
- after `on_packet`, call `take_key_frame_request()`: True means the list overflowed and the
  caller must request a key frame (PLI or FIR) instead;
- feed RTT measurements to `set_rtt`.

Sequence numbers are extended to unbounded integers inside, so losses across 65535 -> 0
behave like any other. The values returned by `poll` are 16-bit.
"""

from __future__ import annotations

# A missing packet is first requested this long after its loss is seen (seconds), so a packet
# that is only reordered by a few milliseconds is not requested.
FIRST_NACK_DELAY = 0.010

# Round-trip time assumed until `set_rtt` is called (seconds).
DEFAULT_RTT = 0.100

# Retries never come faster than this (seconds), even on a LAN where the measured RTT is a
# fraction of a millisecond, because the sender needs time to resend and a burst of identical
# NACKs helps no one. mediasoup gets a similar floor from its 40 ms NACK timer.
MIN_RETRY_INTERVAL = 0.020

# Each missing packet is requested at most this many times, RTT apart.
MAX_NACK_RETRIES = 10

# At most this many sequence numbers wait for retransmission. When a gap would exceed it,
# packets before the newest key frames are dropped from the list first.
MAX_NACK_LIST_SIZE = 1000

# Packets this many sequence numbers behind the highest one are no longer requested or tracked.
MAX_PACKET_AGE = 10000

# A timer that fires this much before the time `next_timeout` returned still gets the NACKs
# due then (seconds), so float rounding in a caller's arithmetic does not delay them a round.
_TIME_TOLERANCE = 1e-6

_SEQ_MASK = 0xFFFF
_HALF_RANGE = 0x8000
_RANGE = 0x10000


class _Missing:
    """A sequence number in the NACK list.

    `time` is when the loss was seen while `retries` is 0, else when the last NACK for it
    went out.
    """

    __slots__ = ("retries", "time")

    def __init__(self, time: float) -> None:
        self.time = time
        self.retries = 0


class NackGenerator:
    """Tracks missing sequence numbers of one received stream and schedules NACKs for them.

    Rules, mostly those of mediasoup's NackGenerator:

    - a gap in sequence numbers puts the missing ones in the NACK list, except those already
      recovered by RTX;
    - each is first requested `FIRST_NACK_DELAY` after the gap is seen, then again every RTT,
      at most `MAX_NACK_RETRIES` times in all;
    - a packet that arrives late, as an original or through RTX, leaves the list;
    - the list contains at most `MAX_NACK_LIST_SIZE` entries. On overflow, the entries older
      than the oldest key frame that makes room are dropped. If no key frame makes room, the
      list is cleared and a key frame request is signalled (`take_key_frame_request`);
    - packets more than `MAX_PACKET_AGE` sequence numbers behind the highest are forgotten;
      two such packets in a row mean the sender restarted its sequence, and tracking starts
      over from there.

    `has_rtx` is False for a stream that negotiated NACK without RTX: the sender then resends
    on the media SSRC, so a requested packet that arrives counts as recovered.

    Counters: `nack_count` (non-empty `poll` results, one Generic NACK each),
    `nack_packet_count` (sequence numbers requested, retries included), `packets_recovered`
    (missing packets that arrived through retransmission, each counted once) and
    `key_frame_requests` (overflows that cleared the list).
    """

    __slots__ = (
        "_bad_seq",
        "_has_rtx",
        "_highest",
        "_key_frame_required",
        "_key_frames",
        "_missing",
        "_next_due",
        "_recovered",
        "_rtt",
        "key_frame_requests",
        "nack_count",
        "nack_packet_count",
        "packets_recovered",
    )

    def __init__(self, *, has_rtx: bool = True) -> None:
        self._has_rtx = has_rtx
        self._rtt = DEFAULT_RTT
        # Highest extended sequence number received, or None before the first packet.
        self._highest: int | None = None
        # Extended sequence number -> entry. Keys are inserted in ascending order, so the
        # dict is ordered oldest first.
        self._missing: dict[int, _Missing] = {}
        # Extended sequence numbers of packets already delivered through retransmission.
        # A later copy of one of them is a duplicate.
        self._recovered: dict[int, None] = {}
        # Extended sequence numbers of key frame packets, ascending.
        self._key_frames: list[int] = []
        # Earliest time a NACK may be due, or None when the list is empty. It can be early
        # after entries leave the list, never late.
        self._next_due: float | None = None
        # 16-bit sequence number that would confirm a restart of the sender's sequence.
        self._bad_seq: int | None = None
        self._key_frame_required = False
        self.nack_count = 0
        self.nack_packet_count = 0
        self.packets_recovered = 0
        self.key_frame_requests = 0

    @property
    def rtt(self) -> float:
        """Round-trip time in seconds used between retries."""
        return self._rtt

    @property
    def missing_count(self) -> int:
        """Number of sequence numbers waiting to be requested again."""
        return len(self._missing)

    def set_rtt(self, seconds: float) -> None:
        """Set the round-trip time used between retries.

        A value of 0 or less means unknown and restores `DEFAULT_RTT`. Values below
        `MIN_RETRY_INTERVAL` are raised to it.
        """
        if seconds <= 0:
            seconds = DEFAULT_RTT
        self._rtt = max(seconds, MIN_RETRY_INTERVAL)
        self._next_due = self._earliest_due()

    def reset(self) -> None:
        """Forget the tracked sequence numbers, as when the producer is paused.

        Counters and the RTT are kept. The next packet starts tracking afresh.
        """
        self._highest = None
        self._missing.clear()
        self._recovered.clear()
        self._key_frames.clear()
        self._next_due = None
        self._bad_seq = None
        self._key_frame_required = False

    def take_key_frame_request(self) -> bool:
        """Return True once after the NACK list overflowed and was cleared.

        The caller then requests a key frame from the sender, because the missing packets
        will not be requested.
        """
        required = self._key_frame_required
        self._key_frame_required = False
        return required

    def on_packet(
        self, now: float, seq: int, is_key_frame: bool = False, is_recovered: bool = False
    ) -> bool:
        """Account one received packet and return whether it is new.

        `seq` is the 16-bit sequence number of the media stream: for an RTX packet, the
        original sequence number after unwrapping, with `is_recovered=True`.
        `is_key_frame` marks the first packet of a key frame.

        Returns False for a copy of a packet already delivered: an RTX packet for a sequence
        number that is not missing, or an original that arrives after RTX recovered it. The
        caller drops those. Returns True otherwise, including for plain duplicates of
        originals, which this class does not track.
        """
        highest = self._highest
        if highest is None:
            self._start(seq, is_key_frame)
            return True

        delta = (seq - highest) & _SEQ_MASK
        if delta == 1 and not (is_recovered or is_key_frame or self._recovered):
            # The next packet in order, which is most packets: nothing else to update.
            self._highest = highest + 1
            self._bad_seq = None
            return True
        if delta == 0:
            return not is_recovered
        if delta < _HALF_RANGE:
            return self._on_newer(now, highest + delta, is_key_frame, is_recovered)
        return self._on_older(seq, highest + delta - _RANGE, is_recovered)

    def poll(self, now: float) -> list[int]:
        """Return the 16-bit sequence numbers to request now, in ascending order.

        Each returned number has its retry count increased, and leaves the list after its
        `MAX_NACK_RETRIES`th request. Send them in one Generic NACK. Returns an empty list
        when nothing is due.
        """
        next_due = self._next_due
        if next_due is None or now + _TIME_TOLERANCE < next_due:
            return []

        self._forget_older_than(self._highest_or_zero() - MAX_PACKET_AGE)
        due_limit = now + _TIME_TOLERANCE
        rtt = self._rtt
        requested: list[int] = []
        finished: list[int] = []
        earliest = float("inf")
        for seq, entry in self._missing.items():
            retries = entry.retries
            due = entry.time + (rtt if retries else FIRST_NACK_DELAY)
            if due <= due_limit:
                requested.append(seq & _SEQ_MASK)
                retries += 1
                if retries >= MAX_NACK_RETRIES:
                    finished.append(seq)
                    continue
                entry.time = now
                entry.retries = retries
                due = now + rtt
            if due < earliest:
                earliest = due

        for seq in finished:
            del self._missing[seq]
        self._next_due = earliest if self._missing else None
        if requested:
            self.nack_count += 1
            self.nack_packet_count += len(requested)
        return requested

    def next_timeout(self) -> float | None:
        """Return when `poll` should be called next, or None while nothing is missing.

        The time may be early after packets arrived late: `poll` then returns an empty list
        and computes the exact time again.
        """
        if not self._missing:
            return None
        return self._next_due

    # --- Packet handling -------------------------------------------------------------------

    def _start(self, seq: int, is_key_frame: bool) -> None:
        self._highest = seq
        self._bad_seq = None
        if is_key_frame:
            self._key_frames.append(seq)

    def _on_newer(self, now: float, extended: int, is_key_frame: bool, is_recovered: bool) -> bool:
        recovered = self._recovered
        if is_recovered:
            # RTX ahead of the original: deliver it, remember it so that the gap does not
            # request it and the original becomes a duplicate. The highest sequence number
            # stays, so the packets before it are still detected as missing.
            if extended in recovered:
                return False
            recovered[extended] = None
            self.packets_recovered += 1
            return True

        highest = self._highest_or_zero()
        if extended - highest > 1:
            self._add_missing(now, highest + 1, extended)
        self._highest = extended
        self._bad_seq = None
        if is_key_frame:
            self._add_key_frame(extended)
        if recovered:
            self._forget_recovered(extended - MAX_PACKET_AGE)
            return extended not in recovered
        return True

    def _on_older(self, seq: int, extended: int, is_recovered: bool) -> bool:
        if extended < self._highest_or_zero() - MAX_PACKET_AGE:
            # Far behind: either a very late packet or a sender that restarted its sequence.
            # Two in a row confirm the restart.
            if seq == self._bad_seq:
                self.reset()
                self._start(seq, False)
            else:
                self._bad_seq = (seq + 1) & _SEQ_MASK
            return not is_recovered

        entry = self._missing.pop(extended, None)
        if entry is not None:
            if is_recovered or (not self._has_rtx and entry.retries):
                self.packets_recovered += 1
                self._recovered[extended] = None
            return True
        if is_recovered:
            # Received already, recovered already, or given up on: nothing to deliver.
            return False
        return extended not in self._recovered

    def _add_missing(self, now: float, first: int, end: int) -> None:
        """Put the extended sequence numbers first..end-1 in the NACK list."""
        oldest_kept = end - MAX_PACKET_AGE
        self._forget_older_than(oldest_kept)
        first = max(first, oldest_kept)
        count = end - first
        if len(self._missing) + count > MAX_NACK_LIST_SIZE:
            self._trim_to_key_frame(MAX_NACK_LIST_SIZE - count)
            if len(self._missing) + count > MAX_NACK_LIST_SIZE:
                self._missing.clear()
                self._next_due = None
                self._key_frame_required = True
                self.key_frame_requests += 1
                return

        missing = self._missing
        was_empty = not missing
        recovered = self._recovered
        for seq in range(first, end):
            if seq not in recovered:
                missing[seq] = _Missing(now)
        due = now + FIRST_NACK_DELAY
        if was_empty or self._next_due is None or due < self._next_due:
            self._next_due = due

    def _trim_to_key_frame(self, room: int) -> None:
        """Drop entries older than key frames, oldest key frame first, until `room` is left.

        A decoder can restart at a key frame, so packets before it are no longer needed.
        """
        missing = self._missing
        for key_frame in self._key_frames:
            while missing:
                oldest = next(iter(missing))
                if oldest >= key_frame:
                    break
                del missing[oldest]
            if len(missing) <= room:
                return

    def _add_key_frame(self, extended: int) -> None:
        key_frames = self._key_frames
        key_frames.append(extended)
        limit = extended - MAX_PACKET_AGE
        stale = 0
        while stale < len(key_frames) and key_frames[stale] < limit:
            stale += 1
        if stale:
            del key_frames[:stale]

    def _forget_older_than(self, limit: int) -> None:
        missing = self._missing
        while missing:
            oldest = next(iter(missing))
            if oldest >= limit:
                return
            del missing[oldest]

    def _forget_recovered(self, limit: int) -> None:
        # Entries are nearly in ascending order, so checking the front is enough to bound
        # the dict: an entry out of order leaves a little later.
        recovered = self._recovered
        while recovered:
            oldest = next(iter(recovered))
            if oldest >= limit:
                return
            del recovered[oldest]

    def _earliest_due(self) -> float | None:
        if not self._missing:
            return None
        rtt = self._rtt
        return min(
            entry.time + (rtt if entry.retries else FIRST_NACK_DELAY)
            for entry in self._missing.values()
        )

    def _highest_or_zero(self) -> int:
        return 0 if self._highest is None else self._highest

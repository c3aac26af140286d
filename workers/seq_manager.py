"""Sequence number extension and the per-consumer outgoing sequence rewrite.

RTP sequence numbers (16 bits) and timestamps (32 bits) wrap. Inside the engine they are
extended to unbounded integers, 64 bits in practice, by choosing the value closest to the
highest one seen, so comparisons and arithmetic never see the wrap.
"""

from __future__ import annotations

from bisect import bisect_left, insort


def extend_seq(value: int, reference: int, bits: int = 16) -> int:
    """Return the extended value congruent to `value` modulo 2**bits closest to `reference`.

    `reference` is an extended value. A value exactly half the range away is taken as
    older than `reference`.
    """
    modulus = 1 << bits
    delta = (value - reference) & (modulus - 1)
    if delta < modulus >> 1:
        return reference + delta
    return reference + delta - modulus


def extend_timestamp(value: int, reference: int) -> int:
    """Return the extended 32-bit RTP timestamp closest to the extended `reference`."""
    return extend_seq(value, reference, 32)


class SeqExtender:
    """Extends a stream of wrapping counters, tracking the highest extended value seen.

    The first value is kept as it is. Later values are placed within half the range of the
    highest value so far, so a packet from before the first one can get a negative value.
    """

    __slots__ = ("_half", "_mask", "_max", "_modulus")

    def __init__(self, bits: int = 16) -> None:
        self._modulus = 1 << bits
        self._mask = self._modulus - 1
        self._half = self._modulus >> 1
        self._max: int | None = None

    @property
    def max(self) -> int | None:
        """Highest extended value returned so far, or None before the first call."""
        return self._max

    def reset(self) -> None:
        """Forget the history, so the next value is taken as it is."""
        self._max = None

    def extend(self, value: int) -> int:
        """Return the extended form of `value` and advance the maximum if it is newer."""
        highest = self._max
        if highest is None:
            self._max = value
            return value
        delta = (value - highest) & self._mask
        if delta < self._half:
            extended = highest + delta
            self._max = extended
            return extended
        return highest + delta - self._modulus


class TimestampExtender(SeqExtender):
    """A `SeqExtender` for 32-bit RTP timestamps."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(32)


# Inputs older than this many sequence numbers behind the highest input are rejected, which
# bounds the list of dropped inputs. 4096 covers the retransmission window: mediasoup keeps up
# to 3000 packets for resending.
MAX_INPUT_AGE = 4096


class SeqManager:
    """Keeps a consumer's outgoing sequence numbers contiguous.

    The consumer forwards only some of the producer's packets. `drop` accounts an input that
    will not be forwarded, so later outputs close the gap. `sync` restarts the mapping so the
    next forwarded packet follows the last one sent, which pause/resume, key-frame gating and
    simulcast switches need. The first `input` syncs implicitly.

    Inputs are extended internally, so drops and reordering across 65535 -> 0 work. With
    `bits=15` or `bits=8` the same logic rewrites VP8 picture IDs or TL0PICIDX.
    """

    __slots__ = (
        "_dropped",
        "_extender",
        "_floor",
        "_has_output",
        "_mask",
        "_max_age",
        "_max_input",
        "_max_output",
        "_offset",
        "_synced",
    )

    def __init__(self, first_output: int = 1, *, bits: int = 16) -> None:
        """Start a manager whose first output is `first_output`.

        RFC 3550 §5.1 requires a random initial sequence number, so the caller passes one.
        The libSRTP FAQ recommends a value below 2**15, so that a receiver that loses the
        first packets still estimates the rollover counter right (RFC 3711 §3.3.1).
        """
        self._mask = (1 << bits) - 1
        # The age limit stays well inside half the range, where extension is unambiguous.
        self._max_age = min(MAX_INPUT_AGE, 1 << (bits - 2))
        self._extender = SeqExtender(bits)
        self._synced = False
        self._has_output = False
        # Extended output = extended input + offset - number of dropped inputs below it.
        self._offset = 0
        # Lowest extended input accepted since the last sync.
        self._floor = 0
        self._max_input = 0
        self._max_output = (first_output & self._mask) - 1
        # Sorted extended inputs dropped above the highest input at the time of the drop.
        self._dropped: list[int] = []

    @property
    def max_output(self) -> int | None:
        """Highest output sequence number returned, or None before the first output."""
        if not self._has_output:
            return None
        return self._max_output & self._mask

    def sync(self, next_seq: int, *, skip: int = 0) -> None:
        """Map input `next_seq` to the output after the last one sent, plus `skip`.

        Inputs older than `next_seq` are rejected from now on, so a late packet from before
        the sync point cannot reuse an output already sent. `skip=1` leaves a one-number
        gap after a simulcast switch, so the receiver detects that the frame in progress at the
        switch is incomplete.
        """
        self._extender.reset()
        extended = self._extender.extend(next_seq)
        self._offset = self._max_output + 1 + skip - extended
        self._floor = extended
        self._max_input = extended - 1
        self._dropped.clear()
        self._synced = True

    def drop(self, seq: int) -> None:
        """Account an input that will not be forwarded, so no gap appears downstream.

        Only inputs newer than every input so far can be accounted. An older one was
        already counted in outputs sent after it, so it is ignored. Drops before the first
        sync are ignored as well.
        """
        if not self._synced:
            return
        extended = self._extender.extend(seq)
        if extended <= self._max_input:
            return
        dropped = self._dropped
        index = bisect_left(dropped, extended)
        if index == len(dropped) or dropped[index] != extended:
            insort(dropped, extended, lo=index)

    def input(self, seq: int) -> int | None:
        """Return the output sequence number for a forwarded input.

        Returns None for an input that was dropped, that is older than the last sync, or
        that is more than `MAX_INPUT_AGE` behind the highest input. A duplicate gets the
        same output again.
        """
        if not self._synced:
            self.sync(seq)
        extended = self._extender.extend(seq)
        if extended < self._floor or extended < self._max_input - self._max_age:
            return None

        dropped = self._dropped
        if dropped:
            index = bisect_left(dropped, extended)
            if index < len(dropped) and dropped[index] == extended:
                return None
            output = extended + self._offset - index
        else:
            output = extended + self._offset

        if extended > self._max_input:
            self._max_input = extended
            if dropped:
                self._forget_old_drops()
        if output > self._max_output:
            self._max_output = output
        self._has_output = True
        return output & self._mask

    def _forget_old_drops(self) -> None:
        # Inputs this old are rejected, so drops below the age limit apply to every input
        # still accepted: fold them into the offset.
        limit = self._max_input - self._max_age
        dropped = self._dropped
        count = bisect_left(dropped, limit)
        if count:
            del dropped[:count]
            self._offset -= count

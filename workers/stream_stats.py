"""Statistics of RTP streams: receiver reports, round-trip time and scores.

`ReceiveStreamStats` belongs to one stream a producer receives. It implements the receiver
side of RFC 3550: sequence number validation (A.1), loss counts and fraction lost (A.3),
interarrival jitter (A.8), and LSR/DLSR for the report block (§6.4.1). `SendStreamStats`
belongs to one stream a consumer sends and reads the report blocks that come back.

Both compute a score from 0 to 10 the way mediasoup does. Each report gives a sample of
`10 * deliveredRatio^4`, in which retransmitted packets that repaired a loss are partly
forgiven. The score is the average of the last 24 samples weighted 1 (oldest) to 24
(newest), rounded half up.

Clocks: every method takes `now` in seconds. Use one clock per object. Methods that compare
with NTP times (`on_dlrr`, `SendStreamStats.on_receiver_report`) convert `now` with
`ntp_from_seconds`, so that clock must be the one that stamped the sender reports and
receiver reference times this worker sent.
"""

from __future__ import annotations

from collections import deque

from workers.rtcp import ReportBlock, SenderReport, compact_ntp, ntp_from_seconds

# RFC 3550 A.1: a packet up to MAX_DROPOUT ahead of the highest sequence number is accepted
# as in order. One more than MAX_MISORDER behind is taken as a jump, and two such packets in
# a row mean the sender restarted its sequence. mediasoup allows 1500 of misorder instead of
# the RFC's 100, so retransmissions on the media SSRC, seconds late, still count.
MAX_DROPOUT = 3000
MAX_MISORDER = 1500

# Score samples averaged, and the score range.
SCORE_HISTORY = 24
MAX_SCORE = 10

# An RTT computed from LSR/DLSR or LRR/DLRR may come out slightly negative, because each of
# the 1/65536 s fields is truncated. Up to this many units below zero count as 0 (1 ms).
# Anything lower means the report is inconsistent, so it is ignored.
_RTT_ROUNDING_UNITS = 66

_SEQ_MASK = 0xFFFF
_RANGE = 0x10000
_U32_MASK = 0xFFFFFFFF
_U32_HALF = 0x80000000
_U32_RANGE = 1 << 32


def _round_half_up(value: float) -> int:
    # Python's round() rounds halves to even. mediasoup's std::round rounds them up.
    return int(value + 0.5)


def loss_score(delivered_ratio: float) -> int:
    """Return the score sample for a delivered ratio: `round(10 * ratio**4)`, halves up."""
    if delivered_ratio <= 0:
        return 0
    return _round_half_up(MAX_SCORE * min(delivered_ratio, 1.0) ** 4)


def forgiven_losses(lost: int, repaired: int, retransmitted: int, delivered: int) -> float:
    """Return how many of `lost` packets a score treats as not lost, because RTX repaired them.

    `repaired` is capped at `lost`. Each repaired packet is forgiven with the weight
    `(delivered / (delivered + repaired))^4`, so repairs forgive less when they are a large
    share of the traffic. The weight is scaled by `repaired / retransmitted`, so resends
    that repaired nothing reduce it. All counts are for one report interval.
    """
    repaired = min(repaired, lost)
    if repaired <= 0 or delivered <= 0:
        return 0.0
    forgiven = repaired * (delivered / (delivered + repaired)) ** 4
    if retransmitted > repaired:
        forgiven *= repaired / retransmitted
    return forgiven


def rtt_from_report(now: float, last: int, delay: int) -> float | None:
    """Return the round-trip time in seconds from an LSR/DLSR or LRR/DLRR pair.

    RFC 3550 §6.4.1 and RFC 3611 §4.5: RTT = arrival - last - delay, all in compact NTP
    (1/65536 s), modulo 2^32. `now` is the arrival time on the clock of `ntp_from_seconds`.
    Returns None when `last` is 0 (the peer has no report of ours yet) or the result is
    negative beyond rounding.
    """
    if last == 0:
        return None
    arrival = compact_ntp(ntp_from_seconds(now))
    units = (arrival - last - delay) & _U32_MASK
    if units >= _U32_HALF:
        if _U32_RANGE - units > _RTT_ROUNDING_UNITS:
            return None
        return 0.0
    return units / 65536.0


def delay_since(now: float, then: float) -> int:
    """Return `now - then` in the 1/65536 s units of DLSR and DLRR, 0 when negative."""
    if now <= then:
        return 0
    return int((now - then) * 65536.0) & _U32_MASK


class ScoreHistory:
    """The last `SCORE_HISTORY` score samples and their linear-weighted average."""

    __slots__ = ("_samples", "score")

    def __init__(self, score: int = MAX_SCORE) -> None:
        self._samples: deque[int] = deque(maxlen=SCORE_HISTORY)
        self.score = score

    def add(self, sample: int) -> bool:
        """Add a sample, recompute the score and return whether it changed.

        With samples s1 (oldest) .. sn, the score is sum(i * si) / sum(i), rounded half up.
        """
        self._samples.append(sample)
        weighted = 0
        weights = 0
        for weight, value in enumerate(self._samples, start=1):
            weighted += weight * value
            weights += weight
        previous = self.score
        self.score = _round_half_up(weighted / weights)
        return self.score != previous

    def reset(self, score: int) -> bool:
        """Forget the samples, set the score and return whether it changed."""
        self._samples.clear()
        previous = self.score
        self.score = score
        return score != previous


class ReceiveStreamStats:
    """Reception statistics of one stream a producer receives (RFC 3550 §6.4.1, A.1-A.8).

    Per packet on the media SSRC, padding-only ones included because their sequence numbers
    count as expected: `on_packet(now, seq, rtp_timestamp)`. Per unwrapped RTX packet:
    `on_rtx_packet(now, repaired)`, with `repaired` True when it supplied a missing packet.
    Per SR from the sender: `on_sender_report(now, report)`, which also updates the score.
    Per RR sent: `report_block(now)`. Per XR DLRR sub-block for this stream's SSRC:
    `on_dlrr(now, last_rr, delay)`.

    RTX packets do not count as received in the report block, so the loss reported to the
    sender is the loss on the network path. The score forgives the losses they repaired.

    With `inactivity_timeout` (seconds), `check_inactivity(now)` sets the score to 0 once no
    packet arrived for that long, and the next packet sets it back to 10. mediasoup runs this
    check with 1.5 s, or 5 s for streams using DTX.
    """

    __slots__ = (
        "_bad_seq",
        "_base_seq",
        "_expected_prior",
        "_expected_prior_score",
        "_inactive",
        "_inactivity_timeout",
        "_jitter",
        "_last_arrival",
        "_last_timestamp",
        "_max_seq",
        "_received",
        "_received_prior",
        "_received_prior_score",
        "_repaired_prior_score",
        "_retransmitted_prior_score",
        "_score",
        "_sender_count_prior",
        "clock_rate",
        "fraction_lost",
        "last_packet_at",
        "last_sr_at",
        "last_sr_ntp",
        "last_sr_rtp_timestamp",
        "packets_discarded",
        "packets_repaired",
        "packets_retransmitted",
        "rtt",
        "ssrc",
    )

    def __init__(
        self, ssrc: int, clock_rate: int, *, inactivity_timeout: float | None = None
    ) -> None:
        if clock_rate <= 0:
            raise ValueError(f"clock_rate {clock_rate} is invalid, expected a positive rate")
        if inactivity_timeout is not None and inactivity_timeout <= 0:
            raise ValueError(
                f"inactivity_timeout {inactivity_timeout} is invalid, expected > 0 seconds"
            )
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._inactivity_timeout = inactivity_timeout

        # RFC 3550 A.1 state, with 64-bit extended sequence numbers in place of cycles.
        self._base_seq = 0
        self._max_seq: int | None = None
        self._bad_seq: int | None = None
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0

        # RFC 3550 A.8: jitter in RTP timestamp units, and the previous packet's arrival.
        self._jitter = 0.0
        self._last_arrival: float | None = None
        self._last_timestamp = 0

        # Score state: counts at the previous score sample.
        self._score = ScoreHistory()
        self._expected_prior_score = 0
        self._received_prior_score = 0
        self._repaired_prior_score = 0
        self._retransmitted_prior_score = 0
        self._sender_count_prior: int | None = None
        self._inactive = False

        self.fraction_lost = 0
        self.packets_discarded = 0
        self.packets_retransmitted = 0
        self.packets_repaired = 0
        self.last_packet_at: float | None = None
        # Last SR from the sender: its NTP and RTP timestamps, and when it arrived.
        self.last_sr_ntp = 0
        self.last_sr_rtp_timestamp = 0
        self.last_sr_at: float | None = None
        self.rtt: float | None = None

    # --- Counts --------------------------------------------------------------------------

    @property
    def packets_received(self) -> int:
        """Media packets received since the sequence started, duplicates included."""
        return self._received

    @property
    def expected_packets(self) -> int:
        """Sequence numbers from the first to the highest received (RFC 3550 A.3)."""
        if self._max_seq is None:
            return 0
        return self._max_seq - self._base_seq + 1

    @property
    def packets_lost(self) -> int:
        """Cumulative number of packets lost: expected minus received, negative with duplicates."""
        return self.expected_packets - self._received

    @property
    def highest_sequence(self) -> int:
        """Extended highest sequence number received, as the 32-bit report field carries it."""
        return 0 if self._max_seq is None else self._max_seq & _U32_MASK

    @property
    def jitter(self) -> float:
        """Interarrival jitter estimate in RTP timestamp units (RFC 3550 A.8)."""
        return self._jitter

    @property
    def score(self) -> int:
        """Current score, 0 to 10."""
        return self._score.score

    # --- Per packet ----------------------------------------------------------------------

    def on_packet(self, now: float, seq: int, rtp_timestamp: int) -> bool:
        """Account one packet of the media SSRC, by arrival time, sequence number and timestamp.

        Returns True when the packet ends an inactive period and the score went back to 10,
        so the caller emits a score event. A packet far outside the sequence (RFC 3550 A.1) is
        counted in `packets_discarded` and otherwise ignored, unless it is the second of two
        consecutive ones, which restarts the statistics from it.
        """
        max_seq = self._max_seq
        if max_seq is None:
            self._init_seq(seq)
        else:
            delta = (seq - max_seq) & _SEQ_MASK
            if delta < MAX_DROPOUT:
                self._max_seq = max_seq + delta
            elif delta <= _RANGE - MAX_MISORDER:
                if seq != self._bad_seq:
                    self._bad_seq = (seq + 1) & _SEQ_MASK
                    self.packets_discarded += 1
                    return False
                self._init_seq(seq)
        self._received += 1
        self._update_jitter(now, rtp_timestamp)
        return self._mark_active(now)

    def on_rtx_packet(self, now: float, repaired: bool) -> bool:
        """Account one RTX packet after unwrapping; `repaired` if it supplied a missing packet.

        Returns True when the packet ends an inactive period, as `on_packet` does.
        """
        self.packets_retransmitted += 1
        if repaired:
            self.packets_repaired += 1
        return self._mark_active(now)

    def _init_seq(self, seq: int) -> None:
        # RFC 3550 A.1 init_seq: the sequence starts (or restarts) at this packet.
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = None
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._expected_prior_score = 0
        self._received_prior_score = 0

    def _update_jitter(self, now: float, rtp_timestamp: int) -> None:
        # RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si) in timestamp units, J += (|D| - J) / 16.
        # The timestamp difference is taken modulo 2^32 as a signed value, so a wrap of the
        # RTP timestamp is an ordinary step.
        last_arrival = self._last_arrival
        if last_arrival is not None:
            elapsed = (rtp_timestamp - self._last_timestamp + _U32_HALF) & _U32_MASK
            difference = (now - last_arrival) * self.clock_rate - (elapsed - _U32_HALF)
            self._jitter += (abs(difference) - self._jitter) / 16.0
        self._last_arrival = now
        self._last_timestamp = rtp_timestamp

    def _mark_active(self, now: float) -> bool:
        self.last_packet_at = now
        if not self._inactive:
            return False
        self._inactive = False
        return self._score.reset(MAX_SCORE)

    # --- Timers --------------------------------------------------------------------------

    def next_timeout(self) -> float | None:
        """Return when `check_inactivity` should run next, or None when it need not."""
        if self._inactivity_timeout is None or self._inactive or self.last_packet_at is None:
            return None
        return self.last_packet_at + self._inactivity_timeout

    def check_inactivity(self, now: float) -> bool:
        """Set the score to 0 if no packet arrived for `inactivity_timeout`.

        Returns True when the score changed.
        """
        deadline = self.next_timeout()
        if deadline is None or now < deadline:
            return False
        self._inactive = True
        return self._score.reset(0)

    # --- RTCP ----------------------------------------------------------------------------

    def on_sender_report(self, now: float, report: SenderReport) -> bool:
        """Store the sender's NTP/RTP mapping for LSR/DLSR and add a score sample.

        Returns True when the score changed.
        """
        self.last_sr_ntp = report.ntp_timestamp
        self.last_sr_rtp_timestamp = report.rtp_timestamp
        self.last_sr_at = now
        return self._update_score(report.packet_count)

    def report_block(self, now: float) -> ReportBlock | None:
        """Build the report block for the next RR, or None before the first packet.

        Fraction lost covers the packets since the previous call (RFC 3550 A.3), so call
        this once per RR sent.
        """
        if self._max_seq is None:
            return None
        expected = self.expected_packets
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            self.fraction_lost = 0
        else:
            self.fraction_lost = min((lost_interval << 8) // expected_interval, 255)

        lsr = 0
        dlsr = 0
        if self.last_sr_at is not None:
            lsr = compact_ntp(self.last_sr_ntp)
            dlsr = delay_since(now, self.last_sr_at)
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=self.fraction_lost,
            packets_lost=self.packets_lost,
            highest_sequence=self.highest_sequence,
            jitter=int(self._jitter),
            lsr=lsr,
            dlsr=dlsr,
        )

    def on_dlrr(self, now: float, last_rr: int, delay: int) -> float | None:
        """Compute the RTT from an XR DLRR sub-block (RFC 3611 §4.5) and store it in `rtt`.

        `last_rr` is the compact NTP time of the RRT block this worker sent, `delay` the
        time the peer held it, in 1/65536 s. Returns the RTT in seconds, or None when the
        sub-block carries no usable value, which leaves `rtt` unchanged.
        """
        rtt = rtt_from_report(now, last_rr, delay)
        if rtt is not None:
            self.rtt = rtt
        return rtt

    def _update_score(self, sender_packet_count: int) -> bool:
        expected_total = self.expected_packets
        expected = expected_total - self._expected_prior_score
        received = self._received - self._received_prior_score
        repaired = self.packets_repaired - self._repaired_prior_score
        retransmitted = self.packets_retransmitted - self._retransmitted_prior_score
        sent = 0
        if self._sender_count_prior is not None:
            sent = (sender_packet_count - self._sender_count_prior) & _U32_MASK
        self._expected_prior_score = expected_total
        self._received_prior_score = self._received
        self._repaired_prior_score = self.packets_repaired
        self._retransmitted_prior_score = self.packets_retransmitted
        self._sender_count_prior = sender_packet_count

        if self._inactive:
            return False
        if received <= 0:
            # Nothing arrived. The SR's packet count shows whether anything was sent.
            return self._score.add(0 if expected > 0 or sent > 0 else MAX_SCORE)
        if expected <= 0:
            return self._score.add(MAX_SCORE)

        # As mediasoup does, losses are counted against the packets received, so losing
        # half of the packets or more gives 0.
        lost = min(max(expected - received, 0), received)
        counted_lost = lost - forgiven_losses(lost, repaired, retransmitted, received)
        return self._score.add(loss_score((received - counted_lost) / received))


class SendStreamStats:
    """Statistics of one stream a consumer sends, and what its receiver reports about it.

    Per packet sent (first sends only, not retransmissions): `on_packet_sent(now, seq, size)`.
    Per report block for this stream's SSRC in an RR or SR from the receiver:
    `on_receiver_report(now, block, ...)`, which updates loss, jitter, RTT and the score.
    Per XR RRT block from the receiver: `on_receiver_reference_time(now, ntp)`, then
    `dlrr_item(now)` for the XR DLRR sent with the next SR.

    The score counts only losses on the path to the receiver: sequence numbers the consumer
    never sent, because they were lost before reaching the worker or skipped on a layer
    switch, are subtracted from the receiver's loss count.
    """

    __slots__ = (
        "_first_seq",
        "_highest_seq",
        "_lost_prior_score",
        "_repaired_prior_score",
        "_retransmitted_prior_score",
        "_rrt_at",
        "_rrt_ntp",
        "_score",
        "_sent_prior_score",
        "_unsent_prior_score",
        "fraction_lost",
        "jitter",
        "last_sent_at",
        "octets_sent",
        "packets_lost",
        "packets_sent",
        "rtt",
        "ssrc",
    )

    def __init__(self, ssrc: int) -> None:
        self.ssrc = ssrc
        self.packets_sent = 0
        self.octets_sent = 0
        self.last_sent_at: float | None = None
        # Reported by the receiver: fraction lost (0..255), cumulative lost, and jitter in
        # RTP timestamp units.
        self.fraction_lost = 0
        self.packets_lost = 0
        self.jitter = 0
        self.rtt: float | None = None

        # Extended sequence numbers of the first and the highest packet sent.
        self._first_seq = 0
        self._highest_seq: int | None = None
        self._score = ScoreHistory()
        self._sent_prior_score = 0
        self._lost_prior_score = 0
        self._unsent_prior_score = 0
        self._repaired_prior_score = 0
        self._retransmitted_prior_score = 0
        # Last XR RRT from the receiver: its compact NTP time and when it arrived.
        self._rrt_ntp = 0
        self._rrt_at: float | None = None

    @property
    def score(self) -> int:
        """Current score, 0 to 10."""
        return self._score.score

    def on_packet_sent(self, now: float, seq: int, size: int) -> None:
        """Account one packet sent for the first time: its 16-bit sequence number and size.

        `size` is added to `octets_sent`. The SR octet count of RFC 3550 §6.4.1 counts
        payload bytes only, so pass the payload size when `octets_sent` feeds an SR.
        """
        self.packets_sent += 1
        self.octets_sent += size
        self.last_sent_at = now
        highest = self._highest_seq
        if highest is None:
            self._first_seq = self._highest_seq = seq
            return
        delta = (seq - highest) & _SEQ_MASK
        if 0 < delta < 0x8000:
            self._highest_seq = highest + delta

    def on_receiver_report(
        self,
        now: float,
        block: ReportBlock,
        *,
        packets_retransmitted: int = 0,
        packets_repaired: int = 0,
    ) -> bool:
        """Read a report block about this stream and add a score sample.

        `packets_retransmitted` and `packets_repaired` are the stream's cumulative counts
        (`RetransmissionBuffer.packets_retransmitted` and `packets_repaired`), used to forgive
        repaired losses. `now` is the arrival time of the report on the NTP clock of the SRs.
        Returns True when the score changed.
        """
        self.fraction_lost = block.fraction_lost
        self.packets_lost = block.packets_lost
        self.jitter = block.jitter
        rtt = rtt_from_report(now, block.lsr, block.dlsr)
        if rtt is not None:
            self.rtt = rtt
        return self._update_score(block.packets_lost, packets_retransmitted, packets_repaired)

    def on_receiver_reference_time(self, now: float, ntp_timestamp: int) -> None:
        """Store an XR RRT block (RFC 3611 §4.4) from the receiver, for `dlrr_item`."""
        self._rrt_ntp = compact_ntp(ntp_timestamp)
        self._rrt_at = now

    def dlrr_item(self, now: float) -> tuple[int, int, int] | None:
        """Return the (SSRC, last RR, delay) DLRR sub-block, or None before any RRT block."""
        if self._rrt_at is None:
            return None
        return (self.ssrc, self._rrt_ntp, delay_since(now, self._rrt_at))

    def _unsent(self) -> int:
        if self._highest_seq is None:
            return 0
        return self._highest_seq - self._first_seq + 1 - self.packets_sent

    def _update_score(self, total_lost: int, retransmitted_total: int, repaired_total: int) -> bool:
        total_lost = max(total_lost, 0)
        unsent_total = self._unsent()
        sent = self.packets_sent - self._sent_prior_score
        lost = max(total_lost - self._lost_prior_score, 0)
        unsent = max(unsent_total - self._unsent_prior_score, 0)
        repaired = max(repaired_total - self._repaired_prior_score, 0)
        retransmitted = max(retransmitted_total - self._retransmitted_prior_score, 0)
        self._sent_prior_score = self.packets_sent
        self._lost_prior_score = total_lost
        self._unsent_prior_score = unsent_total
        self._repaired_prior_score = repaired_total
        self._retransmitted_prior_score = retransmitted_total

        if sent <= 0:
            return self._score.add(MAX_SCORE)
        lost = min(max(lost - unsent, 0), sent)
        counted_lost = lost - forgiven_losses(lost, repaired, retransmitted, sent)
        return self._score.add(loss_score((sent - counted_lost) / sent))

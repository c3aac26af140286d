"""Receive and send stream statistics: report blocks, jitter, RTT and scores."""

import pytest

from workers.rtcp import (
    NTP_EPOCH_OFFSET,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    compact_ntp,
    ntp_from_seconds,
)
from workers.stream_stats import (
    ReceiveStreamStats,
    ScoreHistory,
    SendStreamStats,
    loss_score,
    rtt_from_report,
)

SSRC = 0x1234
CLOCK_RATE = 8000
# A Unix time whose NTP value and compact NTP value are exact.
T0 = 1_700_000_000.0


def _sender_report(now: float, packet_count: int = 0) -> SenderReport:
    return SenderReport(SSRC, ntp_from_seconds(now), 1000, packet_count, packet_count * 100)


def _receive(stats: ReceiveStreamStats, now: float, seqs: list[int]) -> None:
    for seq in seqs:
        stats.on_packet(now, seq & 0xFFFF, 160 * seq)


# --- Report blocks -----------------------------------------------------------------------


def test_report_block_before_packets() -> None:
    assert ReceiveStreamStats(SSRC, CLOCK_RATE).report_block(1.0) is None


def test_report_block_loss_across_wrap() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    # 65530..65540 extended: 65532 and 65537 (0x10001, seq 1) are lost.
    _receive(stats, 1.0, [65530, 65531, 65533, 65534, 65535, 65536, 65538, 65539, 65540])
    block = stats.report_block(1.0)
    assert block is not None
    assert block.ssrc == SSRC
    assert block.highest_sequence == 0x10004
    assert stats.expected_packets == 11
    assert stats.packets_received == 9
    assert block.packets_lost == 2
    # 2 lost of 11 expected: (2 << 8) // 11.
    assert block.fraction_lost == 46
    assert block.lsr == 0
    assert block.dlsr == 0

    # Next interval: 5..10, with 9 lost.
    _receive(stats, 2.0, [65541, 65542, 65543, 65544, 65546])
    block = stats.report_block(2.0)
    assert block is not None
    assert block.highest_sequence == 0x1000A
    assert block.packets_lost == 3
    # 1 lost of 6 expected: 256 // 6.
    assert block.fraction_lost == 42


def test_report_block_round_trip() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [1, 2, 4])
    block = stats.report_block(1.0)
    assert block is not None
    report = ReceiverReport.parse(bytes(ReceiverReport(0xAAAA, [block])))
    assert report.reports == [block]
    # Fraction 64 (1 of 4), 1 lost, highest 4, jitter 29: all three arrive at once, so
    # D is 160 and then 320 units, and J = 10, then 10 + (320 - 10) / 16 = 29.4.
    expected = bytes.fromhex("00001234 40000001 00000004 0000001d 00000000 00000000")
    assert bytes(block) == expected


def test_fraction_lost_ignores_duplicates() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [10, 11, 11, 12])
    block = stats.report_block(1.0)
    assert block is not None
    assert block.fraction_lost == 0
    assert block.packets_lost == -1


def test_lsr_and_dlsr() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, T0, [1])
    sr_ntp = ntp_from_seconds(T0 + 0.25)
    stats.on_sender_report(T0 + 0.25, SenderReport(SSRC, sr_ntp, 1000, 1, 100))
    block = stats.report_block(T0 + 0.75)
    assert block is not None
    assert block.lsr == compact_ntp(sr_ntp)
    assert block.lsr == ((int(T0) + NTP_EPOCH_OFFSET) & 0xFFFF) << 16 | 0x4000
    assert block.dlsr == 32768
    assert stats.last_sr_rtp_timestamp == 1000


# --- RFC 3550 A.1 sequence validation ----------------------------------------------------


def test_far_packet_discarded() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [100, 101])
    stats.on_packet(1.0, 20000, 0)
    assert stats.packets_discarded == 1
    assert stats.packets_received == 2
    assert stats.highest_sequence == 101


def test_sequence_restart() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [100, 101, 103])
    stats.on_packet(1.0, 20000, 0)
    stats.on_packet(1.0, 20001, 160)
    assert stats.packets_discarded == 1
    assert stats.expected_packets == 1
    assert stats.packets_received == 1
    assert stats.packets_lost == 0
    assert stats.highest_sequence == 20001


def test_reordered_packet_counts() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [65535, 1, 0])
    assert stats.packets_lost == 0
    assert stats.highest_sequence == 0x10001


# --- RFC 3550 A.8 jitter ----------------------------------------------------------------


def test_jitter_hand_computed() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    # 20 ms packets (160 units at 8 kHz); the third arrives 10 ms late, the fourth on time.
    arrivals = [(0.000, 0), (0.020, 160), (0.050, 320), (0.060, 480), (0.080, 640)]
    expected = [0.0, 0.0, 5.0, 9.6875, 9.08203125]
    for seq, ((arrival, timestamp), jitter) in enumerate(zip(arrivals, expected, strict=True)):
        stats.on_packet(arrival, seq, timestamp)
        assert stats.jitter == pytest.approx(jitter)
    block = stats.report_block(0.080)
    assert block is not None
    assert block.jitter == 9


def test_jitter_across_timestamp_wrap() -> None:
    stats = ReceiveStreamStats(SSRC, 90000)
    # 3000 timestamp units every 1/30 s, wrapping past 2^32, each packet on time.
    for index in range(6):
        timestamp = (0xFFFFF000 + 3000 * index) & 0xFFFFFFFF
        stats.on_packet(index / 30, (65534 + index) & 0xFFFF, timestamp)
    assert stats.jitter == pytest.approx(0.0, abs=1e-6)


# --- Scores ------------------------------------------------------------------------------


def test_score_history_weighted_average() -> None:
    history = ScoreHistory()
    changes = [history.add(sample) for sample in (1, 2, 3, 4)]
    # Scores 1, 5/3 = 1.67, 14/6 = 2.33, then (1*1 + 2*2 + 3*3 + 4*4) / 10 = 3.
    assert history.score == 3
    assert changes == [True, True, False, True]
    # (10*1 + 10*2 + 7*3) / 6 = 8.5, which rounds up.
    history = ScoreHistory()
    for sample in (10, 10, 7):
        history.add(sample)
    assert history.score == 9


def test_score_history_keeps_24_samples() -> None:
    history = ScoreHistory()
    history.add(0)
    for _ in range(23):
        history.add(10)
    # The 0 has weight 1 of 300.
    assert history.score == 10
    history.add(10)
    assert history.score == 10
    for _ in range(24):
        history.add(5)
    assert history.score == 5


def test_loss_score_values() -> None:
    assert loss_score(1.0) == 10
    assert loss_score(0.95) == 8
    assert loss_score(0.0) == 0
    assert loss_score(-0.5) == 0


def _score_after(lost: set[int], count: int = 100) -> ReceiveStreamStats:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [seq for seq in range(65500, 65500 + count) if seq not in lost])
    stats.on_sender_report(1.0, _sender_report(1.0, count))
    return stats


def test_score_no_loss() -> None:
    stats = _score_after(set())
    assert stats.score == 10


def test_score_five_percent_loss() -> None:
    # 95 of 100 received: (90 / 95)^4 * 10 = 8.06.
    stats = _score_after({65510, 65530, 65550, 65570, 65590})
    assert stats.packets_lost == 5
    assert stats.score == 8


def test_score_half_lost() -> None:
    # 50 of 100 received: losses count against the 50 received, so nothing is delivered.
    lost = set(range(65501, 65598, 2)) | {65598}
    assert len(lost) == 50
    stats = _score_after(lost)
    assert stats.packets_lost == 50
    assert stats.score == 0


def test_score_all_lost() -> None:
    stats = _score_after(set())
    assert stats.score == 10
    # The sender reports 100 more packets sent and none arrived.
    assert stats.on_sender_report(2.0, _sender_report(2.0, 200)) is True
    # Samples 10, 0: (10 + 0) / 3 = 3.33.
    assert stats.score == 3
    stats.on_sender_report(3.0, _sender_report(3.0, 300))
    # Samples 10, 0, 0: 10 / 6 = 1.67.
    assert stats.score == 2


def test_score_idle_sender_stays() -> None:
    stats = _score_after(set())
    assert stats.on_sender_report(2.0, _sender_report(2.0, 100)) is False
    assert stats.score == 10


def test_score_repaired_losses_forgiven() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    lost = {10, 30, 50, 70, 90}
    _receive(stats, 1.0, [seq for seq in range(100) if seq not in lost])
    for _ in lost:
        stats.on_rtx_packet(1.1, repaired=True)
    stats.on_sender_report(1.2, _sender_report(1.2, 100))
    # 5 lost, 5 repaired: 5 * (95/100)^4 = 4.07 are forgiven, (94.07/95)^4 * 10 = 9.6.
    assert stats.score == 10
    assert stats.packets_retransmitted == 5
    assert stats.packets_repaired == 5
    # RTX does not change the loss reported to the sender.
    assert stats.packets_lost == 5


def test_useless_retransmissions_forgive_less() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    lost = set(range(10, 100, 10))
    _receive(stats, 1.0, [seq for seq in range(100) if seq not in lost])
    for index in range(90):
        stats.on_rtx_packet(1.1, repaired=index < 9)
    stats.on_sender_report(1.2, _sender_report(1.2, 100))
    # 9 lost of 91, 9 repaired among 90 resends: 9 * (91/100)^4 * 0.1 = 0.62 forgiven.
    # (91 - 8.38) / 91 = 0.908, ^4 * 10 = 6.8.
    assert stats.score == 7


def test_inactivity_sets_score_zero() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE, inactivity_timeout=1.5)
    assert stats.next_timeout() is None
    _receive(stats, 1.0, [1, 2])
    assert stats.next_timeout() == 2.5
    assert stats.check_inactivity(2.4) is False
    assert stats.check_inactivity(2.5) is True
    assert stats.score == 0
    assert stats.next_timeout() is None
    # Reports while inactive add no sample.
    assert stats.on_sender_report(2.6, _sender_report(2.6, 10)) is False
    assert stats.score == 0
    assert stats.on_packet(3.0, 3, 480) is True
    assert stats.score == 10
    assert stats.on_packet(3.02, 4, 640) is False


def test_inactivity_disabled_by_default() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    _receive(stats, 1.0, [1])
    assert stats.check_inactivity(100.0) is False
    assert stats.score == 10


# --- Round-trip time ---------------------------------------------------------------------


def test_rtt_from_lsr_dlsr() -> None:
    stats = SendStreamStats(SSRC)
    lsr = compact_ntp(ntp_from_seconds(T0))
    # The receiver held the SR 0.5 s; the RR arrives 0.625 s after the SR left.
    block = ReportBlock(SSRC, lsr=lsr, dlsr=32768)
    stats.on_receiver_report(T0 + 0.625, block)
    assert stats.rtt == 0.125


def test_rtt_across_compact_ntp_wrap() -> None:
    # NTP seconds ...FFFF at t, so the 16-bit seconds of compact NTP wrap 1 s later.
    t = float(65536 * 60000 - 1 - NTP_EPOCH_OFFSET)
    lsr = compact_ntp(ntp_from_seconds(t + 0.5))
    assert lsr == 0xFFFF8000
    assert rtt_from_report(t + 1.25, lsr, 32768) == 0.25


def test_rtt_edge_cases() -> None:
    lsr = compact_ntp(ntp_from_seconds(T0))
    assert rtt_from_report(T0 + 1.0, 0, 0) is None
    # 1/65536 s below zero is rounding: 0.
    assert rtt_from_report(T0 + 0.5, lsr, 32769) == 0.0
    # Half a second below zero is an inconsistent report.
    assert rtt_from_report(T0 + 0.5, lsr, 65536) is None


def test_rtt_kept_when_report_has_none() -> None:
    stats = SendStreamStats(SSRC)
    lsr = compact_ntp(ntp_from_seconds(T0))
    stats.on_receiver_report(T0 + 0.625, ReportBlock(SSRC, lsr=lsr, dlsr=32768))
    stats.on_receiver_report(T0 + 2.0, ReportBlock(SSRC))
    assert stats.rtt == 0.125


def test_rtt_from_dlrr() -> None:
    stats = ReceiveStreamStats(SSRC, CLOCK_RATE)
    last_rr = compact_ntp(ntp_from_seconds(T0))
    assert stats.on_dlrr(T0 + 0.25, last_rr, 8192) == 0.125
    assert stats.rtt == 0.125
    assert stats.on_dlrr(T0 + 0.5, 0, 0) is None
    assert stats.rtt == 0.125


# --- Send streams ------------------------------------------------------------------------


def _send(stats: SendStreamStats, seqs: list[int]) -> None:
    for seq in seqs:
        stats.on_packet_sent(1.0, seq & 0xFFFF, 1000)


def test_send_counters() -> None:
    stats = SendStreamStats(SSRC)
    _send(stats, [65535, 0, 1])
    assert stats.packets_sent == 3
    assert stats.octets_sent == 3000
    assert stats.last_sent_at == 1.0


def test_send_report_fields() -> None:
    stats = SendStreamStats(SSRC)
    _send(stats, list(range(100)))
    block = ReportBlock(SSRC, fraction_lost=12, packets_lost=5, highest_sequence=99, jitter=90)
    stats.on_receiver_report(2.0, block)
    assert stats.fraction_lost == 12
    assert stats.packets_lost == 5
    assert stats.jitter == 90
    assert stats.rtt is None


@pytest.mark.parametrize(
    ("lost", "score"),
    [(0, 10), (5, 8), (50, 1), (100, 0)],
)
def test_send_score_from_loss(lost: int, score: int) -> None:
    stats = SendStreamStats(SSRC)
    _send(stats, list(range(65500, 65600)))
    stats.on_receiver_report(2.0, ReportBlock(SSRC, packets_lost=lost))
    assert stats.score == score


def test_send_score_ignores_unsent_gaps() -> None:
    stats = SendStreamStats(SSRC)
    # The consumer never had 65510..65514 to send; the receiver counts them lost.
    _send(stats, [seq for seq in range(65500, 65605) if not 65510 <= seq < 65515])
    assert stats.on_receiver_report(2.0, ReportBlock(SSRC, packets_lost=5)) is False
    assert stats.score == 10


def test_send_score_repaired_forgiven() -> None:
    stats = SendStreamStats(SSRC)
    _send(stats, list(range(100)))
    stats.on_receiver_report(
        2.0,
        ReportBlock(SSRC, packets_lost=5),
        packets_retransmitted=5,
        packets_repaired=5,
    )
    assert stats.score == 10


def test_send_score_interval_deltas() -> None:
    stats = SendStreamStats(SSRC)
    _send(stats, list(range(100)))
    stats.on_receiver_report(2.0, ReportBlock(SSRC, packets_lost=0))
    _send(stats, list(range(100, 200)))
    stats.on_receiver_report(3.0, ReportBlock(SSRC, packets_lost=5))
    # Samples 10, 8: (10 + 16) / 3 = 8.67.
    assert stats.score == 9
    # Nothing sent since: a sample of 10.
    stats.on_receiver_report(4.0, ReportBlock(SSRC, packets_lost=5))
    assert stats.score == 9


def test_dlrr_item() -> None:
    stats = SendStreamStats(SSRC)
    assert stats.dlrr_item(1.0) is None
    rrt_ntp = ntp_from_seconds(T0)
    stats.on_receiver_reference_time(5.0, rrt_ntp)
    assert stats.dlrr_item(5.25) == (SSRC, compact_ntp(rrt_ntp), 16384)


def test_invalid_receive_configuration() -> None:
    with pytest.raises(ValueError) as error:
        ReceiveStreamStats(SSRC, 0)
    assert str(error.value) == "clock_rate 0 is invalid, expected a positive rate"
    with pytest.raises(ValueError) as error:
        ReceiveStreamStats(SSRC, CLOCK_RATE, inactivity_timeout=0)
    assert str(error.value) == "inactivity_timeout 0 is invalid, expected > 0 seconds"

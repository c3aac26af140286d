"""NACK generation in virtual time, including losses across 65535 -> 0."""

import pytest

from workers.nack import (
    DEFAULT_RTT,
    FIRST_NACK_DELAY,
    MAX_NACK_RETRIES,
    MIN_RETRY_INTERVAL,
    NackGenerator,
)
from workers.rtcp import GenericNack

SENDER_SSRC = 1
MEDIA_SSRC = 2


def _feed(generator: NackGenerator, now: float, seqs: list[int]) -> list[bool]:
    return [generator.on_packet(now, seq) for seq in seqs]


def _poll_times(generator: NackGenerator, seq: int) -> list[float]:
    """Poll at every `next_timeout` and return the times `seq` was requested."""
    times = []
    while (timeout := generator.next_timeout()) is not None:
        if seq in generator.poll(timeout):
            times.append(timeout)
    return times


def test_in_order_packets_no_nack() -> None:
    generator = NackGenerator()
    assert _feed(generator, 1.0, list(range(65530, 65536)) + list(range(10))) == [True] * 16
    assert generator.next_timeout() is None
    assert generator.poll(5.0) == []
    assert generator.nack_count == 0


def test_first_nack_after_delay() -> None:
    generator = NackGenerator()
    generator.on_packet(1.0, 65534)
    generator.on_packet(1.0, 1)
    assert generator.missing_count == 2
    assert generator.next_timeout() == pytest.approx(1.0 + FIRST_NACK_DELAY)
    assert generator.poll(1.009) == []
    assert generator.poll(1.010) == [65535, 0]
    assert generator.nack_count == 1
    assert generator.nack_packet_count == 2
    assert generator.next_timeout() == pytest.approx(1.010 + DEFAULT_RTT)


def test_retry_schedule_exact_times() -> None:
    generator = NackGenerator()
    generator.on_packet(2.0, 65535)
    generator.on_packet(2.0, 1)
    times = _poll_times(generator, 0)
    expected = [2.010 + 0.1 * attempt for attempt in range(MAX_NACK_RETRIES)]
    assert times == pytest.approx(expected)
    assert generator.missing_count == 0
    assert generator.nack_count == MAX_NACK_RETRIES
    assert generator.nack_packet_count == MAX_NACK_RETRIES


def test_set_rtt_changes_retry_interval() -> None:
    generator = NackGenerator()
    generator.set_rtt(0.05)
    generator.on_packet(0.0, 65535)
    generator.on_packet(0.0, 1)
    assert generator.poll(0.010) == [0]
    assert generator.next_timeout() == pytest.approx(0.060)
    assert generator.poll(0.060) == [0]

    generator.set_rtt(0.0001)
    assert generator.rtt == MIN_RETRY_INTERVAL
    assert generator.next_timeout() == pytest.approx(0.080)

    generator.set_rtt(0)
    assert generator.rtt == DEFAULT_RTT
    assert generator.next_timeout() == pytest.approx(0.160)


def test_gap_across_wrap() -> None:
    generator = NackGenerator()
    generator.on_packet(0.0, 65533)
    generator.on_packet(0.0, 1)
    requested = generator.poll(0.010)
    assert requested == [65534, 65535, 0]
    # One NACK item: PID 65534, BLP bits for 65535 and 0.
    nack = GenericNack.from_sequence_numbers(SENDER_SSRC, MEDIA_SSRC, requested)
    assert bytes(nack) == bytes.fromhex("81cd0003 00000001 00000002 fffe0003")


def test_out_of_order_arrival_leaves_list() -> None:
    generator = NackGenerator()
    _feed(generator, 1.0, [65534, 1])
    assert generator.on_packet(1.005, 65535) is True
    assert generator.poll(1.010) == [0]
    assert generator.on_packet(1.020, 0) is True
    assert generator.missing_count == 0
    assert generator.next_timeout() is None
    assert generator.packets_recovered == 0


def test_rtx_recovers_missing_once() -> None:
    generator = NackGenerator()
    _feed(generator, 1.0, [65534, 0])
    assert generator.poll(1.010) == [65535]
    assert generator.on_packet(1.050, 65535, is_recovered=True) is True
    assert generator.packets_recovered == 1
    # A second RTX copy and the late original are both duplicates.
    assert generator.on_packet(1.060, 65535, is_recovered=True) is False
    assert generator.on_packet(1.070, 65535) is False
    assert generator.packets_recovered == 1
    assert generator.poll(2.0) == []
    assert generator.next_timeout() is None


def test_rtx_before_original_across_wrap() -> None:
    generator = NackGenerator()
    generator.on_packet(1.0, 65535)
    # The RTX copy of 0 arrives before the original.
    assert generator.on_packet(1.001, 0, is_recovered=True) is True
    assert generator.packets_recovered == 1
    assert generator.on_packet(1.002, 0) is False
    assert generator.packets_recovered == 1
    # 0 is not requested when the next gap is seen; 1 is.
    assert generator.on_packet(1.003, 2) is True
    assert generator.poll(1.013) == [1]


def test_rtx_ahead_skipped_in_gap() -> None:
    generator = NackGenerator()
    generator.on_packet(1.0, 65534)
    assert generator.on_packet(1.0, 0, is_recovered=True) is True
    assert generator.on_packet(1.0, 2) is True
    assert generator.poll(1.010) == [65535, 1]


def test_rtx_of_received_packet_dropped() -> None:
    generator = NackGenerator()
    _feed(generator, 1.0, [65535, 0, 1])
    assert generator.on_packet(1.1, 65535, is_recovered=True) is False
    assert generator.on_packet(1.1, 0, is_recovered=True) is False
    assert generator.packets_recovered == 0


def test_without_rtx_requested_arrival_counts() -> None:
    generator = NackGenerator(has_rtx=False)
    _feed(generator, 1.0, [65533, 65535, 1])
    assert generator.on_packet(1.005, 0) is True
    assert generator.poll(1.010) == [65534]
    assert generator.on_packet(1.050, 65534) is True
    # 65534 was requested before it came; 0 arrived before any NACK.
    assert generator.packets_recovered == 1


def test_overflow_trims_to_key_frame() -> None:
    generator = NackGenerator()
    generator.on_packet(0.0, 65000, is_key_frame=True)
    generator.on_packet(0.0, 65601 & 0xFFFF)
    assert generator.missing_count == 600
    generator.on_packet(0.0, 65602 & 0xFFFF, is_key_frame=True)
    generator.on_packet(0.0, 66103 & 0xFFFF)
    # 600 + 500 entries do not fit: those before the key frame at 65602 are dropped.
    assert generator.missing_count == 500
    assert generator.take_key_frame_request() is False
    assert generator.poll(0.010) == [seq & 0xFFFF for seq in range(65603, 66103)]


def test_overflow_without_key_frame_requests_one() -> None:
    generator = NackGenerator()
    generator.on_packet(0.0, 65000)
    generator.on_packet(0.0, 65500)
    assert generator.missing_count == 499
    # 65501..65535 and 0..499 are 535 more: the list would hold 1034 and no key frame helps.
    generator.on_packet(0.0, 500)
    assert generator.missing_count == 0
    assert generator.next_timeout() is None
    assert generator.take_key_frame_request() is True
    assert generator.take_key_frame_request() is False
    assert generator.key_frame_requests == 1
    assert generator.poll(1.0) == []
    # Tracking goes on from the newest packet.
    generator.on_packet(1.0, 502)
    assert generator.poll(1.010) == [501]


def test_gap_larger_than_list_requests_key_frame() -> None:
    generator = NackGenerator()
    generator.on_packet(0.0, 65000, is_key_frame=True)
    generator.on_packet(0.0, (65000 + 1002) & 0xFFFF)
    assert generator.missing_count == 0
    assert generator.take_key_frame_request() is True


def test_old_missing_packets_forgotten() -> None:
    generator = NackGenerator()
    generator.on_packet(0.0, 65530)
    generator.on_packet(0.0, 65532)
    for extended in range(65533, 65532 + 10001):
        generator.on_packet(0.0, extended & 0xFFFF)
    assert generator.missing_count == 1
    generator.on_packet(0.0, (65532 + 10001) & 0xFFFF)
    assert generator.poll(0.010) == []
    assert generator.missing_count == 0
    assert generator.next_timeout() is None


def test_sender_restart_starts_over() -> None:
    generator = NackGenerator()
    _feed(generator, 0.0, [65535, 0])
    # One packet far behind is ignored; a second one in sequence is a restart.
    assert generator.on_packet(0.0, 40000) is True
    assert generator.missing_count == 0
    assert generator.on_packet(0.0, 40001) is True
    generator.on_packet(0.0, 40003)
    assert generator.poll(0.010) == [40002]


def test_next_timeout_early_after_late_arrival() -> None:
    generator = NackGenerator()
    _feed(generator, 0.0, [65534, 0])
    _feed(generator, 0.005, [2])
    generator.on_packet(0.006, 65535)
    # 1 is due at 0.015, but the time of 65535 stays until the next poll.
    assert generator.next_timeout() == pytest.approx(0.010)
    assert generator.poll(0.010) == []
    assert generator.next_timeout() == pytest.approx(0.015)
    assert generator.poll(0.015) == [1]


def test_next_timeout_after_list_emptied() -> None:
    generator = NackGenerator()
    _feed(generator, 0.0, [65534, 0])
    generator.on_packet(0.001, 65535)
    assert generator.next_timeout() is None
    _feed(generator, 0.002, [2, 5])
    assert generator.next_timeout() == pytest.approx(0.012)
    assert generator.poll(0.012) == [1, 3, 4]


def test_reset_forgets_missing() -> None:
    generator = NackGenerator()
    _feed(generator, 0.0, [65535, 3])
    generator.reset()
    assert generator.next_timeout() is None
    _feed(generator, 1.0, [100, 101])
    assert generator.poll(2.0) == []

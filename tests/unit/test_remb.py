"""REMB estimator on scripted arrivals in virtual time.

A sender emits 1250-byte packets at a fixed rate through a bottleneck link (a FIFO queue
of fixed capacity) with 20 ms propagation delay. The estimator receives each arrival with the
sender's abs-send-time, and is polled every 125 ms, a step that floats represent exactly.
"""

from dataclasses import dataclass
from itertools import pairwise

import pytest

from workers.remb import RembEstimator
from workers.rtcp import Remb
from workers.rtp import abs_send_time

PACKET_SIZE = 1250
SSRC = 0x1111
START = 100.0
POLL_PERIOD = 0.125


@dataclass
class Sent:
    time: float
    bitrate: int
    ssrcs: list[int]


def _run(
    estimator: RembEstimator,
    *,
    send_rate: float,
    capacity: float,
    duration: float,
    start: float = START,
    with_abs_send_time: bool = True,
    ssrcs: tuple[int, ...] = (SSRC,),
) -> list[Sent]:
    """Send for `duration` seconds and return every REMB with its time relative to `start`."""
    sent: list[Sent] = []
    send_interval = PACKET_SIZE * 8 / send_rate
    service_time = PACKET_SIZE * 8 / capacity
    link_free_at = start
    poll_index = 0
    index = 0
    while True:
        send_time = start + index * send_interval
        if send_time >= start + duration:
            break
        link_free_at = max(send_time, link_free_at) + service_time
        arrival = link_free_at + 0.02
        while start + POLL_PERIOD * poll_index <= arrival:
            now = start + POLL_PERIOD * poll_index
            remb = estimator.poll(now)
            if remb is not None:
                packet = Remb.parse(remb)
                sent.append(Sent(now - start, packet.bitrate, packet.ssrcs))
            poll_index += 1
        value = abs_send_time(send_time) if with_abs_send_time else None
        estimator.on_packet(arrival, ssrcs[index % len(ssrcs)], PACKET_SIZE, value)
        index += 1
    return sent


def test_first_estimate_after_five_seconds() -> None:
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=2e6, duration=6)
    assert sent[0].time == 5.125
    assert sent[0].bitrate == pytest.approx(1e6, rel=0.02)
    assert sent[0].ssrcs == [SSRC]


def test_grows_eight_percent_per_second() -> None:
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=9)
    first, last = sent[0], sent[-1]
    growth = (last.bitrate / first.bitrate) ** (1 / (last.time - first.time))
    assert growth == pytest.approx(1.08, abs=0.005)


def test_growth_capped_by_incoming_rate() -> None:
    # The sender stays at 1 Mbit/s: the estimate stops at 1.5 times that plus 10 kbit/s.
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=20)
    assert sent[-1].bitrate == pytest.approx(1_510_000, rel=0.02)
    assert estimator.estimate == pytest.approx(1_510_000, rel=0.02)


def test_overuse_backs_off() -> None:
    # 1 Mbit/s into a 500 kbit/s link: the queue grows 10 ms per packet, the estimator
    # reports overuse long before the 5 s initialization and drops below the link rate.
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=5e5, duration=3)
    assert sent
    assert sent[0].time < 2.0
    assert sent[0].bitrate == pytest.approx(0.85 * 5e5, rel=0.05)
    assert all(remb.bitrate < 5e5 for remb in sent)


def test_no_overuse_below_capacity() -> None:
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=1.2e6, duration=8)
    assert all(remb.bitrate >= 1e6 * 0.98 for remb in sent)


def test_without_abs_send_time() -> None:
    # No delay signal: the queue building behind a slow link goes unnoticed, and the
    # estimate follows the received bytes.
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=5e5, duration=8, with_abs_send_time=False)
    assert sent[0].time == 5.125
    assert sent[0].bitrate == pytest.approx(5e5, rel=0.03)
    assert sent[-1].bitrate > sent[0].bitrate


def test_abs_send_time_wrap() -> None:
    # abs-send-time wraps every 64 s: sending across the wrap is not a delay jump.
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=10, start=64 * 1000 - 7.0)
    assert all(later.bitrate >= earlier.bitrate for earlier, later in pairwise(sent))


def test_remb_timing() -> None:
    # Growing 8 %/s, the estimate passes the 3 % step after 375 ms, so REMB follows at the
    # first poll after that, every 500 ms. Once it is capped and steady, REMB repeats once
    # per second.
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=20)
    gaps = [later.time - earlier.time for earlier, later in pairwise(sent)]
    assert gaps[:3] == [0.5, 0.5, 0.5]
    assert gaps[-3:] == [1.0, 1.0, 1.0]


def test_max_bitrate_caps_and_announces() -> None:
    estimator = RembEstimator(max_bitrate=300_000)
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=8)
    # Before the first estimate the cap itself is announced, once per second.
    assert [remb.time for remb in sent[:3]] == [0.125, 1.125, 2.125]
    assert all(remb.bitrate == 300_000 for remb in sent)


def test_max_bitrate_removed() -> None:
    estimator = RembEstimator(max_bitrate=300_000)
    _run(estimator, send_rate=1e6, capacity=4e6, duration=3)
    estimator.set_max_incoming_bitrate(0)
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=4, start=START + 3)
    # Nothing is announced until the first estimate, 5 s after the first packet.
    assert sent[0].time == 2.125
    assert sent[0].bitrate == pytest.approx(1e6, rel=0.02)


def test_ssrcs_listed_and_timed_out() -> None:
    estimator = RembEstimator()
    sent = _run(estimator, send_rate=1e6, capacity=4e6, duration=6, ssrcs=(0x2222, 0x1111))
    assert sent[-1].ssrcs == [0x1111, 0x2222]
    # 2 s after the last packet the streams count as gone and REMB stops.
    assert estimator.poll(START + 7.9) is not None
    assert estimator.poll(START + 8.1) is None


def test_next_timeout() -> None:
    estimator = RembEstimator()
    assert estimator.next_timeout() is None
    estimator.on_packet(START, SSRC, PACKET_SIZE, None)
    assert estimator.next_timeout() == START
    assert estimator.poll(START) is None
    assert estimator.next_timeout() == pytest.approx(START + 0.2)


def test_invalid_max_bitrate() -> None:
    with pytest.raises(ValueError) as error:
        RembEstimator(max_bitrate=-1)
    assert str(error.value) == "max incoming bitrate -1 is invalid, expected >= 0"

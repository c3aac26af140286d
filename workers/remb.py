"""Receive-side bitrate estimate announced to a sender with REMB.

Browsers whose producers did not negotiate transport-cc size their uplink from REMB
(draft-alvestrand-rmcat-remb-03): the receiver estimates what the path carries and sends
that bitrate. `RembEstimator` is that receiver for one transport.

This is an estimate, simpler than libwebrtc's RemoteBitrateEstimatorAbsSendTime and not
Google congestion control. It keeps the shape of that estimator:

- Packets whose abs-send-time values lie within 5 ms form a group. The delay variation
  between consecutive groups (arrival gap minus send gap) is accumulated, smoothed, and its
  trend over the last 20 groups is fitted by least squares. A slope above a fixed threshold
  means a queue is building (overuse), below its negative means a queue drains (underuse).
  libwebrtc's threshold adapts to the path instead, and it also groups arrival bursts.
- AIMD rate control as in libwebrtc: on overuse the estimate drops to 0.85 times the
  incoming bitrate (here at most once per 200 ms). Otherwise it grows by 8 % per second, up
  to 1.5 times the incoming bitrate plus 10 kbit/s. On underuse it holds.
- The first estimate is the incoming bitrate 5 s after the first packet, or 0.85 times it at
  the first overuse, as in libwebrtc.

Packets without abs-send-time only count towards the incoming bitrate, measured over a
sliding window of 1 s. With no delay signal the estimate follows the incoming bitrate with
the headroom above, so a sender can always grow into it.

The I/O layer calls `on_packet` for each RTP packet of the transport's video producers
(mediasoup sends REMB for video only) and `poll` every 200 ms, for example at
`next_timeout()`. aiortc's `aiortc.rate.RemoteBitrateEstimator` (aiortc 1.16) ports the
libwebrtc estimator more closely, should this one prove too coarse.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from workers.rtcp import Remb
from workers.seq_manager import extend_seq

# REMB timing: a changed estimate goes out at most every 200 ms, and the estimate is repeated
# at least once per second.
REMB_MIN_INTERVAL = 0.2
REMB_MAX_INTERVAL = 1.0
REMB_CHANGE_FRACTION = 0.03

# An SSRC is named in REMB until it has been silent this long (libwebrtc: 2000 ms).
STREAM_TIMEOUT = 2.0

# Incoming bitrate: bytes in 50 ms buckets over the last second. No rate is given before
# half a window has passed, so the first packets do not look like a burst.
RATE_BUCKET = 0.05
RATE_BUCKETS = 20
RATE_MIN_SPAN = 0.5

# abs-send-time is 6.18 fixed point seconds in 24 bits, so it wraps every 64 s.
ABS_SEND_TIME_BITS = 24
ABS_SEND_TIME_UNITS_PER_SECOND = 1 << 18

GROUP_SPAN = 0.005
TREND_WINDOW = 20
TREND_SMOOTHING = 0.9
# Queue growth, in seconds of delay per second, that counts as overuse. A fixed guess: see
# the module docstring.
OVERUSE_SLOPE = 0.1
# A delay variation this large means a send or arrival clock jump: start the trend again.
MAX_DELAY_VARIATION = 3.0

INITIALIZATION_TIME = 5.0
BACKOFF_FACTOR = 0.85
DECREASE_INTERVAL = 0.2
INCREASE_PER_SECOND = 1.08
INCREASE_LIMIT_FACTOR = 1.5
INCREASE_LIMIT_HEADROOM = 10_000
MIN_BITRATE = 10_000

Usage = Literal["normal", "overuse", "underuse"]

_TIME_TOLERANCE = 1e-6


class _RateWindow:
    """Bytes received over the last second, in a ring of 50 ms buckets."""

    __slots__ = ("_buckets", "_first_time", "_newest")

    def __init__(self) -> None:
        self._buckets = [0] * RATE_BUCKETS
        self._newest: int | None = None
        self._first_time: float | None = None

    def add(self, now: float, size: int) -> None:
        bucket = self._advance(now)
        self._buckets[bucket % RATE_BUCKETS] += size

    def rate(self, now: float) -> float | None:
        """Return the incoming bitrate in bit/s, or None before half a window has passed."""
        if self._first_time is None or now - self._first_time < RATE_MIN_SPAN:
            return None
        newest = self._advance(now)
        window_start = max((newest - RATE_BUCKETS + 1) * RATE_BUCKET, self._first_time)
        return sum(self._buckets) * 8 / (now - window_start)

    def _advance(self, now: float) -> int:
        bucket = int(now // RATE_BUCKET)
        newest = self._newest
        if newest is None:
            self._newest = bucket
            self._first_time = now
            return bucket
        if bucket <= newest:
            return newest
        for stale in range(newest + 1, min(bucket, newest + RATE_BUCKETS) + 1):
            self._buckets[stale % RATE_BUCKETS] = 0
        self._newest = bucket
        return bucket


class _TrendDetector:
    """Overuse detection from abs-send-time groups, in seconds throughout."""

    __slots__ = (
        "_accumulated",
        "_group_arrival",
        "_group_first_send",
        "_group_last_send",
        "_last_send_units",
        "_overuse_count",
        "_previous_arrival",
        "_previous_send",
        "_smoothed",
        "_trend",
        "usage",
    )

    def __init__(self) -> None:
        self.usage: Usage = "normal"
        self._last_send_units: int | None = None
        self._group_first_send = 0.0
        self._group_last_send = 0.0
        self._group_arrival = 0.0
        self._previous_send: float | None = None
        self._previous_arrival = 0.0
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._trend: deque[tuple[float, float]] = deque(maxlen=TREND_WINDOW)
        self._overuse_count = 0

    def add(self, now: float, abs_send_time: int) -> None:
        highest = self._last_send_units
        if highest is None:
            self._last_send_units = abs_send_time
            self._start_group(abs_send_time / ABS_SEND_TIME_UNITS_PER_SECOND, now)
            return
        units = extend_seq(abs_send_time, highest, ABS_SEND_TIME_BITS)
        self._last_send_units = max(units, highest)
        send = units / ABS_SEND_TIME_UNITS_PER_SECOND

        if send < self._group_first_send:
            # Sent before the current group started: a reordered packet, no delay sample.
            return
        if send - self._group_first_send <= GROUP_SPAN:
            self._group_last_send = max(self._group_last_send, send)
            self._group_arrival = now
            return
        self._complete_group()
        self._start_group(send, now)

    def _start_group(self, send: float, arrival: float) -> None:
        self._group_first_send = send
        self._group_last_send = send
        self._group_arrival = arrival

    def _complete_group(self) -> None:
        previous_send = self._previous_send
        self._previous_send = self._group_last_send
        arrival = self._group_arrival
        previous_arrival = self._previous_arrival
        self._previous_arrival = arrival
        if previous_send is None:
            return
        variation = (arrival - previous_arrival) - (self._group_last_send - previous_send)
        if abs(variation) > MAX_DELAY_VARIATION:
            self._accumulated = 0.0
            self._smoothed = 0.0
            self._trend.clear()
            self.usage = "normal"
            return
        self._accumulated += variation
        self._smoothed = (
            TREND_SMOOTHING * self._smoothed + (1 - TREND_SMOOTHING) * self._accumulated
        )
        self._trend.append((arrival, self._smoothed))
        self._detect()

    def _detect(self) -> None:
        if len(self._trend) < TREND_WINDOW:
            return
        slope = _least_squares_slope(self._trend)
        if slope > OVERUSE_SLOPE:
            # Two groups in a row, so that one late group does not trigger a back-off.
            self._overuse_count += 1
            if self._overuse_count >= 2:
                self.usage = "overuse"
            return
        self._overuse_count = 0
        self.usage = "underuse" if slope < -OVERUSE_SLOPE else "normal"


def _least_squares_slope(points: deque[tuple[float, float]]) -> float:
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in points)
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    if denominator == 0:
        return 0.0
    return numerator / denominator


class RembEstimator:
    """Estimates the bitrate a sender can use towards this transport and builds REMB.

    `max_bitrate` (bit/s, 0 for none) caps what REMB announces, as mediasoup's
    `maxIncomingBitrate` does. While there is no estimate yet but a cap is set, the cap
    itself is announced once per second. `sender_ssrc` goes into every REMB packet.
    """

    __slots__ = (
        "_detector",
        "_estimate",
        "_first_packet_time",
        "_last_decrease",
        "_last_poll",
        "_last_sent",
        "_last_sent_bitrate",
        "_last_update",
        "_max_bitrate",
        "_rate",
        "_sender_ssrc",
        "_ssrcs",
    )

    def __init__(self, *, sender_ssrc: int = 0, max_bitrate: int = 0) -> None:
        self._sender_ssrc = sender_ssrc
        self._max_bitrate = 0
        self.set_max_incoming_bitrate(max_bitrate)
        self._rate = _RateWindow()
        self._detector = _TrendDetector()
        self._ssrcs: dict[int, float] = {}
        self._estimate: float | None = None
        self._first_packet_time: float | None = None
        self._last_update: float | None = None
        self._last_decrease: float | None = None
        self._last_sent: float | None = None
        self._last_sent_bitrate = 0
        self._last_poll: float | None = None

    @property
    def estimate(self) -> int | None:
        """Current estimate in bit/s before the cap, or None before the first one."""
        return None if self._estimate is None else int(self._estimate)

    def set_max_incoming_bitrate(self, bitrate: int) -> None:
        """Cap announced bitrates at `bitrate` bit/s, or remove the cap with 0.

        A cap removed before the first estimate leaves the sender at the last announced cap
        until that estimate goes out.
        """
        if bitrate < 0:
            raise ValueError(f"max incoming bitrate {bitrate} is invalid, expected >= 0")
        self._max_bitrate = bitrate

    def on_packet(self, now: float, ssrc: int, size: int, abs_send_time: int | None) -> None:
        """Record an RTP packet of `size` bytes from `ssrc` that arrived at `now` (seconds).

        `abs_send_time` is the 24-bit value of the abs-send-time extension, None when the
        packet has none.
        """
        if self._first_packet_time is None:
            self._first_packet_time = now
        self._rate.add(now, size)
        self._ssrcs[ssrc] = now
        if abs_send_time is not None:
            self._detector.add(now, abs_send_time)

    def next_timeout(self) -> float | None:
        """Return when `poll` should run next, or None before the first packet."""
        if self._first_packet_time is None:
            return None
        if self._last_poll is None:
            return self._first_packet_time
        return self._last_poll + REMB_MIN_INTERVAL

    def poll(self, now: float) -> bytes | None:
        """Update the estimate and return a REMB packet when one is due at `now`.

        One is due when the announced bitrate changed by more than 3 % and the last one is
        at least 200 ms old, or when the last one is at least 1 s old.
        """
        self._last_poll = now
        self._update_estimate(now)
        for ssrc, last_seen in list(self._ssrcs.items()):
            if now - last_seen > STREAM_TIMEOUT:
                del self._ssrcs[ssrc]
        if not self._ssrcs:
            return None

        bitrate = self._announced_bitrate()
        if bitrate is None or not self._remb_due(now, bitrate):
            return None
        self._last_sent = now
        self._last_sent_bitrate = bitrate
        return bytes(Remb(self._sender_ssrc, bitrate, sorted(self._ssrcs)))

    def _announced_bitrate(self) -> int | None:
        if self._estimate is None:
            return self._max_bitrate or None
        bitrate = int(self._estimate)
        if self._max_bitrate:
            bitrate = min(bitrate, self._max_bitrate)
        return bitrate

    def _remb_due(self, now: float, bitrate: int) -> bool:
        if self._last_sent is None:
            return True
        # Poll times built by adding intervals can land a rounding error early.
        elapsed = now - self._last_sent + _TIME_TOLERANCE
        if elapsed >= REMB_MAX_INTERVAL:
            return True
        change = abs(bitrate - self._last_sent_bitrate)
        return elapsed >= REMB_MIN_INTERVAL and change > REMB_CHANGE_FRACTION * (
            self._last_sent_bitrate
        )

    def _update_estimate(self, now: float) -> None:
        incoming = self._rate.rate(now)
        usage = self._detector.usage
        if incoming is None:
            return
        if self._estimate is None:
            assert self._first_packet_time is not None
            if usage == "overuse":
                self._decrease(now, incoming)
            elif now - self._first_packet_time >= INITIALIZATION_TIME:
                self._estimate = max(incoming, MIN_BITRATE)
                self._last_update = now
            return

        elapsed = min(now - (self._last_update or now), 1.0)
        self._last_update = now
        if usage == "overuse":
            if self._last_decrease is None or now - self._last_decrease >= DECREASE_INTERVAL:
                self._decrease(now, incoming)
            return
        if usage == "underuse":
            return
        limit = INCREASE_LIMIT_FACTOR * incoming + INCREASE_LIMIT_HEADROOM
        if self._estimate < limit:
            self._estimate = min(self._estimate * INCREASE_PER_SECOND**elapsed, limit)

    def _decrease(self, now: float, incoming: float) -> None:
        self._estimate = max(BACKOFF_FACTOR * incoming, MIN_BITRATE)
        self._last_decrease = now
        self._last_update = now

"""Audio level and active speaker observers of a router, fed from ssrc-audio-level values.

Both observers take the level of every audio packet of the producers added to them, through
`on_audio_level(producer_id, level, voice)` with the RFC 6464 §3 value that
`workers.rtp.read_audio_level` returns: 0..127 in -dBov, so 0 is the loudest and 127
silence. The voice activity flag is accepted but unused, as in mediasoup 3.x. Observers never
read a clock: the I/O layer calls `poll(now)` at `next_timeout()` and forwards the returned
events to the control plane under their `name`, with `data()` as payload.

Intervals are in seconds, clamped to mediasoup's ranges: 0.25..5 s for the audio level
observer and 0.1..5 s for the active speaker observer.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

MAX_LEVEL = 127

# --- Events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProducerVolume:
    """Average volume of one producer over an interval, in dBov (-127..0)."""

    producer_id: str
    volume: int


@dataclass(frozen=True, slots=True)
class VolumesEvent:
    """The loudest producers of an interval, loudest first."""

    name: ClassVar[str] = "volumes"

    volumes: tuple[ProducerVolume, ...]

    def data(self) -> list[dict[str, object]]:
        """Return the notification payload in mediasoup's shape."""
        return [{"producerId": entry.producer_id, "volume": entry.volume} for entry in self.volumes]


@dataclass(frozen=True, slots=True)
class SilenceEvent:
    """No producer reached the threshold in an interval that followed a `volumes` event."""

    name: ClassVar[str] = "silence"

    def data(self) -> None:
        """Return the notification payload: silence carries none."""
        return None


@dataclass(frozen=True, slots=True)
class DominantSpeakerEvent:
    """A new dominant speaker."""

    name: ClassVar[str] = "dominantspeaker"

    producer_id: str

    def data(self) -> dict[str, object]:
        """Return the notification payload in mediasoup's shape."""
        return {"producerId": self.producer_id}


AudioLevelEvent = VolumesEvent | SilenceEvent


class _Schedule:
    """Periodic evaluation time of an observer, restarted by the first poll after a resume."""

    __slots__ = ("interval", "next_at", "previous_at")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at: float | None = None
        self.previous_at: float | None = None

    def due(self, now: float) -> bool:
        """Return True when an evaluation is due at `now`, and start the next period."""
        if self.next_at is None:
            self.next_at = now + self.interval
            self.previous_at = now
            return False
        if now < self.next_at:
            return False
        self.previous_at = now
        self.next_at = now + self.interval
        return True

    def next_timeout(self) -> float:
        return 0.0 if self.next_at is None else self.next_at

    def stop(self) -> None:
        self.next_at = None
        self.previous_at = None


def _clamp_interval(interval: float, minimum: float, maximum: float) -> float:
    if not math.isfinite(interval):
        raise ValueError(
            f"observer interval {interval} is invalid, expected a finite number of seconds"
        )
    return min(max(interval, minimum), maximum)


# --- Audio level observer ---------------------------------------------------------------------

# A producer needs this many level samples in an interval to be reported, as in mediasoup.
MIN_SAMPLES = 10


class _LevelSum:
    __slots__ = ("count", "paused", "total")

    def __init__(self) -> None:
        self.total = 0
        self.count = 0
        self.paused = False


class AudioLevelObserver:
    """Reports the loudest producers every `interval` seconds.

    Per interval each producer with at least 10 samples gets its average level, rounded
    half up and negated into dBov. Those at or above `threshold` (dBov, -127..0) are
    reported loudest first, at most `max_entries` of them, in a `volumes` event. Equal
    volumes keep the order in which the producers were added. An interval where none
    qualifies gives one `silence` event, and only after a `volumes` event. Paused producers
    and a paused observer take no samples.
    """

    __slots__ = ("_max_entries", "_paused", "_producers", "_schedule", "_silent", "_threshold")

    def __init__(self, max_entries: int = 1, threshold: int = -80, interval: float = 1.0) -> None:
        if max_entries < 1:
            raise ValueError(
                f"audio level observer max_entries {max_entries} is invalid, expected >= 1"
            )
        if not -MAX_LEVEL <= threshold <= 0:
            raise ValueError(
                f"audio level observer threshold {threshold} dBov is invalid, expected -127..0"
            )
        self._max_entries = max_entries
        self._threshold = threshold
        self._schedule = _Schedule(_clamp_interval(interval, 0.25, 5.0))
        self._producers: dict[str, _LevelSum] = {}
        self._paused = False
        self._silent = True

    @property
    def interval(self) -> float:
        """Seconds between two evaluations, after clamping."""
        return self._schedule.interval

    @property
    def paused(self) -> bool:
        """Whether the observer is paused."""
        return self._paused

    def add_producer(self, producer_id: str, *, paused: bool = False) -> None:
        """Observe the audio producer `producer_id`, which may already be paused."""
        if producer_id in self._producers:
            raise ValueError(f"producer {producer_id!r} is already observed")
        levels = _LevelSum()
        levels.paused = paused
        self._producers[producer_id] = levels

    def remove_producer(self, producer_id: str) -> None:
        """Stop observing `producer_id`. Unknown ids are ignored."""
        self._producers.pop(producer_id, None)

    def pause_producer(self, producer_id: str) -> None:
        """Drop the samples of `producer_id` until `resume_producer`."""
        levels = self._producers.get(producer_id)
        if levels is not None:
            levels.paused = True
            levels.total = levels.count = 0

    def resume_producer(self, producer_id: str) -> None:
        """Take samples of `producer_id` again."""
        levels = self._producers.get(producer_id)
        if levels is not None:
            levels.paused = False

    def pause(self) -> list[AudioLevelEvent]:
        """Stop evaluating and drop collected samples.

        Returns a `silence` event when the last event was `volumes`, as mediasoup emits one
        on pause.
        """
        self._paused = True
        self._schedule.stop()
        self._reset_samples()
        if self._silent:
            return []
        self._silent = True
        return [SilenceEvent()]

    def resume(self) -> None:
        """Evaluate again. The next `poll` starts a new interval."""
        self._paused = False

    def on_audio_level(self, producer_id: str, level: int, voice: bool) -> None:
        """Record one packet's level (0..127, -dBov) for `producer_id`."""
        if self._paused:
            return
        levels = self._producers.get(producer_id)
        if levels is None or levels.paused:
            return
        levels.total += level
        levels.count += 1

    def next_timeout(self) -> float | None:
        """Return when `poll` must run next, or None while paused.

        Before the first poll, and after `resume`, this is 0.0: poll at once to start the
        interval.
        """
        return None if self._paused else self._schedule.next_timeout()

    def poll(self, now: float) -> list[AudioLevelEvent]:
        """Return the events of the interval that ends at `now`, if one does.

        The first poll, and the first one after `resume`, starts the interval.
        """
        if self._paused or not self._schedule.due(now):
            return []
        volumes: list[ProducerVolume] = []
        for producer_id, levels in self._producers.items():
            if levels.count < MIN_SAMPLES:
                continue
            # Round half up with integers, then negate -dBov into dBov.
            volume = -((2 * levels.total + levels.count) // (2 * levels.count))
            if volume >= self._threshold:
                volumes.append(ProducerVolume(producer_id, volume))
        self._reset_samples()

        if volumes:
            volumes.sort(key=lambda entry: entry.volume, reverse=True)
            self._silent = False
            return [VolumesEvent(tuple(volumes[: self._max_entries]))]
        if self._silent:
            return []
        self._silent = True
        return [SilenceEvent()]

    def _reset_samples(self) -> None:
        for levels in self._producers.values():
            levels.total = levels.count = 0


# --- Active speaker observer ------------------------------------------------------------------
#
# Dominant speaker identification after I. Volfin and I. Cohen, "Dominant Speaker
# Identification for Multipoint Videoconferencing", with the constants of Jitsi's
# DominantSpeakerIdentification as mediasoup 3.x ActiveSpeakerObserver.cpp carries them.
#
# Each speaker keeps its last 50 level samples, one per 20 ms, as volumes (127 - level, so
# higher is louder). Three time scales are scored from them:
# - immediate: the newest sample quantized into 13 sub-bands of 10 volume steps, after
#   samples within 10 steps of the speaker's noise floor are zeroed.
# - medium: how many of the newest 5 immediates exceed sub-band 7 (0..5).
# - long: how many of the 10 mediums of the last second are full, that is above 4 (0..10).
# Each count v out of n gets the score ln C(n, v) + n ln 0.5 - ln lambda + lambda v, at least
# 1e-10, with lambda 0.78, 24 and 47. A challenger replaces the dominant speaker when the
# logarithms of its score ratios exceed 3, 2 and 0 on the three scales, the strongest medium
# ratio winning among several.
#
# Simplifications, compared with mediasoup and Jitsi:
# - Samples are not timed per packet. At each evaluation the samples a speaker sent during
#   the interval are stretched or padded to the interval's 20 ms slots, and a speaker that
#   sent none (paused, DTX, muted) gets silence for the whole interval.
# - With no dominant speaker yet, the reference is the speaker with the best long, then
#   medium, then immediate score, instead of the first one added. Paused producers are
#   never picked.
# - There is no idle timeout: removing or pausing a producer is up to the caller.

SAMPLE_PERIOD = 0.02
LEVEL_HISTORY = 50
SUBBAND_COUNT = 13
SUBBAND_WIDTH = (MAX_LEVEL + SUBBAND_COUNT - 1) // SUBBAND_COUNT
IMMEDIATES_PER_MEDIUM = 5
MEDIUM_COUNT = 10
MEDIUM_THRESHOLD = 7
LONG_THRESHOLD = 4
MIN_ACTIVITY_SCORE = 1e-10
# Log-ratio thresholds a challenger must beat on the immediate, medium and long scales.
IMMEDIATE_RATIO_THRESHOLD = 3.0
MEDIUM_RATIO_THRESHOLD = 2.0
LONG_RATIO_THRESHOLD = 0.0
# The noise floor may rise to the geometric mean of the old floor and the minimum seen over
# this many samples (15 s).
FLOOR_WINDOW = 750
# Samples stored between evaluations, at most (5 s of 20 ms packets).
MAX_PENDING_SAMPLES = 250


def _score_table(count: int, rate: float) -> tuple[float, ...]:
    """Return the activity score of every value 0..count of one time scale."""
    scores = []
    for value in range(count + 1):
        score = (
            math.log(math.comb(count, value))
            + count * math.log(0.5)
            - math.log(rate)
            + rate * value
        )
        scores.append(max(score, MIN_ACTIVITY_SCORE))
    return tuple(scores)


_IMMEDIATE_SCORES = _score_table(SUBBAND_COUNT, 0.78)
_MEDIUM_SCORES = _score_table(IMMEDIATES_PER_MEDIUM, 24.0)
_LONG_SCORES = _score_table(MEDIUM_COUNT, 47.0)


class _Speaker:
    __slots__ = (
        "floor",
        "floor_candidate",
        "floor_candidate_samples",
        "levels",
        "paused",
        "pending",
        "scores",
    )

    def __init__(self, paused: bool) -> None:
        self.paused = paused
        # Volumes, newest first.
        self.levels: deque[int] = deque([0] * LEVEL_HISTORY, maxlen=LEVEL_HISTORY)
        self.pending: list[int] = []
        # Lowest non-zero volume: samples within one sub-band above it count as noise.
        self.floor = 0
        self.floor_candidate = 0
        self.floor_candidate_samples = 0
        self.scores = (MIN_ACTIVITY_SCORE, MIN_ACTIVITY_SCORE, MIN_ACTIVITY_SCORE)

    def take_samples(self, slots: int) -> None:
        """Move the pending samples into the history, fitted to `slots` 20 ms slots."""
        pending = self.pending
        self.pending = []
        for volume in pending:
            self._update_floor(volume)
        if not pending:
            fitted = [0] * slots
        elif len(pending) < slots:
            fitted = [pending[index * len(pending) // slots] for index in range(slots)]
        else:
            fitted = pending
        self.levels.extendleft(fitted[-LEVEL_HISTORY:])

    def evaluate(self) -> None:
        cutoff = self.floor + SUBBAND_WIDTH
        immediates = [
            (volume if volume >= cutoff else 0) // SUBBAND_WIDTH for volume in self.levels
        ]
        mediums = [
            sum(
                1
                for value in immediates[start : start + IMMEDIATES_PER_MEDIUM]
                if value > MEDIUM_THRESHOLD
            )
            for start in range(0, LEVEL_HISTORY, IMMEDIATES_PER_MEDIUM)
        ]
        long = sum(1 for value in mediums if value > LONG_THRESHOLD)
        self.scores = (
            _IMMEDIATE_SCORES[immediates[0]],
            _MEDIUM_SCORES[mediums[0]],
            _LONG_SCORES[long],
        )

    def _update_floor(self, volume: int) -> None:
        if volume == 0:
            return
        if self.floor == 0 or volume < self.floor:
            self.floor = volume
            self.floor_candidate = 0
            self.floor_candidate_samples = 0
            return
        if self.floor_candidate == 0 or volume < self.floor_candidate:
            self.floor_candidate = volume
        self.floor_candidate_samples += 1
        if self.floor_candidate_samples >= FLOOR_WINDOW:
            # The floor rises slowly: to the geometric mean of the old floor and the
            # quietest sample of the last 15 s.
            self.floor = int(math.sqrt(self.floor * self.floor_candidate))
            self.floor_candidate = 0
            self.floor_candidate_samples = 0


class ActiveSpeakerObserver:
    """Identifies the dominant speaker every `interval` seconds.

    `poll` returns a `dominantspeaker` event when the dominant speaker changes. Speech must
    last: a challenger needs roughly 0.5 to 1 s of speech while the dominant speaker is
    quiet, and a short burst over a speaking dominant speaker changes nothing. A paused
    dominant speaker stays dominant until another speaker replaces it. See the notes above
    for the algorithm and its simplifications.
    """

    __slots__ = ("_dominant", "_paused", "_schedule", "_speakers")

    def __init__(self, interval: float = 0.3) -> None:
        self._schedule = _Schedule(_clamp_interval(interval, 0.1, 5.0))
        self._speakers: dict[str, _Speaker] = {}
        self._dominant: str | None = None
        self._paused = False

    @property
    def interval(self) -> float:
        """Seconds between two evaluations, after clamping."""
        return self._schedule.interval

    @property
    def paused(self) -> bool:
        """Whether the observer is paused."""
        return self._paused

    @property
    def dominant_producer_id(self) -> str | None:
        """Producer id of the current dominant speaker, or None."""
        return self._dominant

    def add_producer(self, producer_id: str, *, paused: bool = False) -> None:
        """Observe the audio producer `producer_id`, which may already be paused."""
        if producer_id in self._speakers:
            raise ValueError(f"producer {producer_id!r} is already observed")
        self._speakers[producer_id] = _Speaker(paused)

    def remove_producer(self, producer_id: str) -> None:
        """Stop observing `producer_id`. Unknown ids are ignored.

        Removing the dominant speaker lets the next evaluation choose another one.
        """
        if self._speakers.pop(producer_id, None) is not None and producer_id == self._dominant:
            self._dominant = None

    def pause_producer(self, producer_id: str) -> None:
        """Keep `producer_id` from becoming dominant and drop its samples until resumed."""
        speaker = self._speakers.get(producer_id)
        if speaker is not None:
            speaker.paused = True
            speaker.pending.clear()

    def resume_producer(self, producer_id: str) -> None:
        """Let `producer_id` take samples and become dominant again."""
        speaker = self._speakers.get(producer_id)
        if speaker is not None:
            speaker.paused = False

    def pause(self) -> None:
        """Stop taking samples and evaluating."""
        self._paused = True
        self._schedule.stop()
        for speaker in self._speakers.values():
            speaker.pending.clear()

    def resume(self) -> None:
        """Evaluate again. The next `poll` starts a new interval."""
        self._paused = False

    def on_audio_level(self, producer_id: str, level: int, voice: bool) -> None:
        """Record one packet's level (0..127, -dBov) for `producer_id`."""
        if self._paused:
            return
        speaker = self._speakers.get(producer_id)
        if speaker is None or speaker.paused or len(speaker.pending) >= MAX_PENDING_SAMPLES:
            return
        speaker.pending.append(MAX_LEVEL - level)

    def next_timeout(self) -> float | None:
        """Return when `poll` must run next, or None while paused.

        Before the first poll, and after `resume`, this is 0.0: poll at once to start the
        interval.
        """
        return None if self._paused else self._schedule.next_timeout()

    def poll(self, now: float) -> list[DominantSpeakerEvent]:
        """Evaluate the interval that ends at `now`, if one does, and report a change.

        The first poll, and the first one after `resume`, starts the interval.
        """
        previous_at = self._schedule.previous_at
        if self._paused or not self._schedule.due(now) or previous_at is None:
            return []
        slots = min(max(round((now - previous_at) / SAMPLE_PERIOD), 1), LEVEL_HISTORY)
        for speaker in self._speakers.values():
            speaker.take_samples(slots)
            speaker.evaluate()

        dominant = self._choose_dominant()
        if dominant is None or dominant == self._dominant:
            return []
        self._dominant = dominant
        return [DominantSpeakerEvent(dominant)]

    def _choose_dominant(self) -> str | None:
        reference_id = self._dominant
        if reference_id is None:
            active = [(id_, s) for id_, s in self._speakers.items() if not s.paused]
            if not active:
                return None
            # max() keeps the first of equal scores, so ties go to the earliest added.
            reference_id = max(active, key=lambda item: item[1].scores[::-1])[0]
        reference = self._speakers[reference_id].scores

        best_id = reference_id
        best_medium_ratio = MEDIUM_RATIO_THRESHOLD
        for producer_id, speaker in self._speakers.items():
            if producer_id == reference_id or speaker.paused:
                continue
            immediate, medium, long = (
                math.log(score / reference_score)
                for score, reference_score in zip(speaker.scores, reference, strict=True)
            )
            if (
                immediate > IMMEDIATE_RATIO_THRESHOLD
                and medium > best_medium_ratio
                and long > LONG_RATIO_THRESHOLD
            ):
                best_id = producer_id
                best_medium_ratio = medium
        return best_id

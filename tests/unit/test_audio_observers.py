"""Audio level and active speaker observers, fed 20 ms audio packets in virtual time.

Levels are ssrc-audio-level values: 0..127 in -dBov, so 0 is the loudest and 127 silence.
"""

from collections.abc import Callable

import pytest

from workers.audio_observers import (
    ActiveSpeakerObserver,
    AudioLevelObserver,
    DominantSpeakerEvent,
    ProducerVolume,
    SilenceEvent,
    VolumesEvent,
)

PACKET_MS = 20
SILENCE = 127
BACKGROUND = 110
SPEECH = (30, 20, 25, 35, 22)

Level = int | Callable[[int], int]
Observer = AudioLevelObserver | ActiveSpeakerObserver


def speech(tick: int) -> int:
    """Level of a talking producer: loud, varying from packet to packet."""
    return SPEECH[tick % len(SPEECH)]


class Room:
    """Feeds one packet per producer every 20 ms and polls the observer when it is due."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer
        self.tick = 0
        observer.poll(0.0)

    @property
    def now(self) -> float:
        return self.tick * PACKET_MS / 1000

    def run(self, seconds: float, levels: dict[str, Level]) -> list[tuple[float, object]]:
        """Advance `seconds` and return (time, event) for every event."""
        events: list[tuple[float, object]] = []
        for _ in range(round(seconds * 1000 / PACKET_MS)):
            self.tick += 1
            for producer_id, level in levels.items():
                value = level(self.tick) if callable(level) else level
                self.observer.on_audio_level(producer_id, value, True)
            timeout = self.observer.next_timeout()
            if timeout is not None and self.now >= timeout:
                events.extend((self.now, event) for event in self.observer.poll(self.now))
        return events


# --- AudioLevelObserver -----------------------------------------------------------------------


def _level_observer(
    max_entries: int = 1, threshold: int = -80, interval: float = 1.0
) -> AudioLevelObserver:
    observer = AudioLevelObserver(max_entries, threshold, interval)
    for producer_id in ("a", "b", "c"):
        observer.add_producer(producer_id)
    return observer


def test_volumes_loudest_first() -> None:
    room = Room(_level_observer(max_entries=2))
    events = room.run(1.0, {"a": 50, "b": 30, "c": 70})
    assert events == [
        (1.0, VolumesEvent((ProducerVolume("b", -30), ProducerVolume("a", -50)))),
    ]
    event = events[0][1]
    assert isinstance(event, VolumesEvent)
    assert event.name == "volumes"
    assert event.data() == [{"producerId": "b", "volume": -30}, {"producerId": "a", "volume": -50}]


def test_volumes_threshold() -> None:
    room = Room(_level_observer(max_entries=3, threshold=-50))
    events = room.run(1.0, {"a": 50, "b": 30, "c": 51})
    assert events == [(1.0, VolumesEvent((ProducerVolume("b", -30), ProducerVolume("a", -50))))]


def test_volumes_rounding_and_ties() -> None:
    # Averages 30.5 rounds half up to 31; equal volumes keep the order of addition.
    room = Room(_level_observer(max_entries=3))
    events = room.run(1.0, {"a": lambda tick: 30 + tick % 2, "b": 31, "c": 31})
    assert events == [
        (
            1.0,
            VolumesEvent(
                (ProducerVolume("a", -31), ProducerVolume("b", -31), ProducerVolume("c", -31))
            ),
        )
    ]


def test_volumes_need_ten_samples() -> None:
    observer = _level_observer(max_entries=3, interval=1.0)
    observer.poll(0.0)
    for _ in range(9):
        observer.on_audio_level("a", 10, True)
    for _ in range(10):
        observer.on_audio_level("b", 60, True)
    assert observer.poll(1.0) == [VolumesEvent((ProducerVolume("b", -60),))]


def test_silence_once_after_volumes() -> None:
    room = Room(_level_observer())
    # Quiet from the start: no silence event, there was no volume before.
    assert room.run(1.0, {"a": SILENCE, "b": SILENCE, "c": SILENCE}) == []
    assert room.run(1.0, {"a": 40}) == [(2.0, VolumesEvent((ProducerVolume("a", -40),)))]
    assert room.run(1.0, {"a": 90}) == [(3.0, SilenceEvent())]
    assert room.run(2.0, {"a": 90}) == []
    assert SilenceEvent.name == "silence"


def test_paused_producer_excluded() -> None:
    observer = _level_observer()
    room = Room(observer)
    levels: dict[str, Level] = {"a": 20, "b": 40, "c": 60}
    observer.pause_producer("a")
    assert room.run(1.0, levels) == [(1.0, VolumesEvent((ProducerVolume("b", -40),)))]
    observer.resume_producer("a")
    assert room.run(1.0, levels) == [(2.0, VolumesEvent((ProducerVolume("a", -20),)))]


def test_pausing_producer_drops_its_samples() -> None:
    observer = _level_observer()
    room = Room(observer)
    room.run(0.5, {"a": 20, "b": 40})
    observer.pause_producer("a")
    observer.resume_producer("a")
    # Only 5 samples of "a" since the resume, fewer than the 10 needed.
    assert room.run(0.1, {"a": 20, "b": 40}) == []
    assert room.run(0.4, {"b": 40}) == [(1.0, VolumesEvent((ProducerVolume("b", -40),)))]


def test_added_paused_producer_excluded() -> None:
    observer = AudioLevelObserver()
    observer.add_producer("a", paused=True)
    observer.add_producer("b")
    room = Room(observer)
    assert room.run(1.0, {"a": 10, "b": 60}) == [(1.0, VolumesEvent((ProducerVolume("b", -60),)))]


def test_removed_producer_excluded() -> None:
    observer = _level_observer()
    room = Room(observer)
    room.run(0.5, {"a": 20, "b": 40})
    observer.remove_producer("a")
    observer.remove_producer("unknown")
    assert room.run(0.5, {"a": 20, "b": 40}) == [(1.0, VolumesEvent((ProducerVolume("b", -40),)))]


def test_observer_pause_and_resume() -> None:
    observer = _level_observer()
    room = Room(observer)
    room.run(1.0, {"a": 20})
    assert observer.pause() == [SilenceEvent()]
    assert observer.pause() == []
    assert observer.paused
    assert observer.next_timeout() is None
    assert room.run(2.0, {"a": 20}) == []

    observer.resume()
    # Due at once: the first poll after the resume starts a new interval.
    assert observer.next_timeout() == 0.0
    room.run(0.02, {"a": 20})
    assert observer.next_timeout() == pytest.approx(4.02)
    events = room.run(1.0, {"a": 20})
    assert events == [(4.02, VolumesEvent((ProducerVolume("a", -20),)))]


def test_level_observer_options() -> None:
    assert AudioLevelObserver(interval=0.1).interval == 0.25
    assert AudioLevelObserver(interval=10).interval == 5.0
    with pytest.raises(ValueError) as error:
        AudioLevelObserver(max_entries=0)
    assert str(error.value) == "audio level observer max_entries 0 is invalid, expected >= 1"
    with pytest.raises(ValueError) as error:
        AudioLevelObserver(threshold=1)
    assert str(error.value) == (
        "audio level observer threshold 1 dBov is invalid, expected -127..0"
    )
    observer = AudioLevelObserver()
    observer.add_producer("a")
    with pytest.raises(ValueError) as error:
        observer.add_producer("a")
    assert str(error.value) == "producer 'a' is already observed"


# --- ActiveSpeakerObserver --------------------------------------------------------------------


def _speaker_observer() -> ActiveSpeakerObserver:
    observer = ActiveSpeakerObserver()
    for producer_id in ("a", "b", "c"):
        observer.add_producer(producer_id)
    return observer


def _dominant(events: list[tuple[float, object]]) -> list[str]:
    return [event.producer_id for _, event in events if isinstance(event, DominantSpeakerEvent)]


def test_single_producer_is_dominant() -> None:
    observer = ActiveSpeakerObserver()
    observer.add_producer("a")
    events = Room(observer).run(0.6, {"a": BACKGROUND})
    assert events == [(0.3, DominantSpeakerEvent("a"))]
    assert DominantSpeakerEvent("a").data() == {"producerId": "a"}
    assert observer.dominant_producer_id == "a"


def test_first_dominant_is_the_talker() -> None:
    # "c" was added last but is the only one talking at the first evaluation.
    room = Room(_speaker_observer())
    events = room.run(1.0, {"a": BACKGROUND, "b": BACKGROUND, "c": speech})
    assert events == [(0.3, DominantSpeakerEvent("c"))]


def test_dominant_changes_on_turn() -> None:
    observer = _speaker_observer()
    room = Room(observer)
    assert _dominant(room.run(2.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})) == ["a"]
    # "a" falls quiet and "b" talks: "b" takes over once its speech outweighs the last
    # second of "a", about half a second later.
    events = room.run(2.0, {"a": BACKGROUND, "b": speech, "c": BACKGROUND})
    assert _dominant(events) == ["b"]
    switch_time = events[0][0]
    assert 2.3 <= switch_time <= 3.2
    assert observer.dominant_producer_id == "b"


def test_short_burst_ignored() -> None:
    room = Room(_speaker_observer())
    assert _dominant(room.run(2.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})) == ["a"]
    # "b" shouts for 200 ms while "a" keeps talking.
    events = room.run(0.2, {"a": speech, "b": 5, "c": BACKGROUND})
    events += room.run(2.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})
    assert _dominant(events) == []


def test_backchannel_in_pause_ignored() -> None:
    room = Room(_speaker_observer())
    assert _dominant(room.run(2.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})) == ["a"]
    # "a" pauses for 200 ms and "b" speaks briefly into the pause.
    events = room.run(0.2, {"a": BACKGROUND, "b": speech, "c": BACKGROUND})
    events += room.run(2.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})
    assert _dominant(events) == []


def test_paused_producer_never_dominant() -> None:
    observer = _speaker_observer()
    room = Room(observer)
    assert _dominant(room.run(1.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})) == ["a"]
    observer.pause_producer("b")
    assert _dominant(room.run(2.0, {"a": BACKGROUND, "b": speech, "c": BACKGROUND})) == []
    observer.resume_producer("b")
    assert _dominant(room.run(2.0, {"a": BACKGROUND, "b": speech, "c": BACKGROUND})) == ["b"]


def test_removed_dominant_replaced() -> None:
    observer = _speaker_observer()
    room = Room(observer)
    assert _dominant(room.run(1.0, {"a": speech, "b": BACKGROUND, "c": speech})) == ["a"]
    observer.remove_producer("a")
    assert observer.dominant_producer_id is None
    events = room.run(0.3, {"b": BACKGROUND, "c": speech})
    assert _dominant(events) == ["c"]


def test_speaker_observer_pause() -> None:
    observer = _speaker_observer()
    room = Room(observer)
    assert _dominant(room.run(1.0, {"a": speech, "b": BACKGROUND, "c": BACKGROUND})) == ["a"]
    observer.pause()
    assert observer.paused
    assert observer.next_timeout() is None
    assert room.run(2.0, {"a": BACKGROUND, "b": speech, "c": BACKGROUND}) == []
    observer.resume()
    events = room.run(2.0, {"a": BACKGROUND, "b": speech, "c": BACKGROUND})
    assert _dominant(events) == ["b"]


def test_speaker_observer_options() -> None:
    assert ActiveSpeakerObserver(interval=0.01).interval == 0.1
    assert ActiveSpeakerObserver(interval=60).interval == 5.0
    observer = ActiveSpeakerObserver()
    observer.add_producer("a")
    with pytest.raises(ValueError) as error:
        observer.add_producer("a")
    assert str(error.value) == "producer 'a' is already observed"


def test_interval_must_be_finite() -> None:
    with pytest.raises(ValueError) as error:
        ActiveSpeakerObserver(interval=float("nan"))
    assert (
        str(error.value) == "observer interval nan is invalid, expected a finite number of seconds"
    )

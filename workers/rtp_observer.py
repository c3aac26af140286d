"""Audio level and active speaker observers inside a worker, driven by their own timer."""

import asyncio
import time
from typing import TYPE_CHECKING, Any

from workers.audio_observers import ActiveSpeakerObserver, AudioLevelObserver
from workers.errors import InvalidParameterError, NotFoundError, UnsupportedError
from workers.params import require

if TYPE_CHECKING:
    from workers.router import Router


class RtpObserver:
    """Feeds audio levels of its producers to an observer core and reports its events."""

    def __init__(
        self, router: "Router", observer_id: str, core: AudioLevelObserver | ActiveSpeakerObserver
    ) -> None:
        self.id = observer_id
        self.router = router
        self.core = core
        self.producer_ids: set[str] = set()
        self.paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._arm()

    def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "rtpObserver.pause":
            self.pause()
            return None
        if method == "rtpObserver.resume":
            self.resume()
            return None
        if method == "rtpObserver.addProducer":
            producer = self.router.get_producer(require(data, "producerId", str))
            if producer.kind != "audio":
                raise InvalidParameterError(f"producer {producer.id} is not an audio producer")
            if producer.id not in self.producer_ids:
                self.producer_ids.add(producer.id)
                self.core.add_producer(producer.id, paused=producer.paused)
            return None
        if method == "rtpObserver.removeProducer":
            producer_id = require(data, "producerId", str)
            if producer_id not in self.producer_ids:
                raise NotFoundError(f"producer {producer_id!r} is not in this observer")
            self.remove_producer(producer_id)
            return None
        if method == "rtpObserver.dump":
            return {"id": self.id, "producerIds": sorted(self.producer_ids), "paused": self.paused}
        raise UnsupportedError(f"unknown rtpObserver method {method!r}")

    def remove_producer(self, producer_id: str) -> None:
        if producer_id in self.producer_ids:
            self.producer_ids.discard(producer_id)
            self.core.remove_producer(producer_id)

    def on_producer_paused(self, producer_id: str, paused: bool) -> None:
        if producer_id not in self.producer_ids:
            return
        if paused:
            self.core.pause_producer(producer_id)
        else:
            self.core.resume_producer(producer_id)

    def on_audio_level(self, producer_id: str, level: int, voice: bool) -> None:
        self.core.on_audio_level(producer_id, level, voice)

    def pause(self) -> None:
        if self.paused:
            return
        self.paused = True
        if isinstance(self.core, AudioLevelObserver):
            for event in self.core.pause():
                self.router.channel.notify(self.id, event.name, event.data())
        else:
            self.core.pause()

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self.core.resume()
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self.core.next_timeout()
        if due is None:
            return
        delay = max(0.0, due - time.time()) if due > 0 else 0.0
        self._timer = self._loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        for event in self.core.poll(time.time()):
            self.router.channel.notify(self.id, event.name, event.data())
        self._arm()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def create_observer(router: "Router", kind: str, data: dict[str, Any]) -> RtpObserver:
    """Build an observer from the options the control plane validated."""
    observer_id = require(data, "rtpObserverId", str)
    core: AudioLevelObserver | ActiveSpeakerObserver
    if kind == "audioLevel":
        core = AudioLevelObserver(
            max_entries=require(data, "maxEntries", int),
            threshold=require(data, "threshold", int),
            interval=require(data, "interval", int) / 1000.0,
        )
    else:
        core = ActiveSpeakerObserver(interval=require(data, "interval", int) / 1000.0)
    return RtpObserver(router, observer_id, core)

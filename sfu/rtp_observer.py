"""RTP observers: audio levels and the active speaker among a router's audio producers."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sfu.channel import Channel
from sfu.entity import Entity

if TYPE_CHECKING:
    from sfu.producer import Producer


class RtpObserver(Entity):
    """Base of AudioLevelObserver and ActiveSpeakerObserver.

    Events: `routerclose`. Observer: `close`, `pause`, `resume`, `addproducer`,
    `removeproducer`. Only audio producers carrying the ssrc-audio-level header extension
    produce levels.
    """

    def __init__(
        self,
        observer_id: str,
        channel: Channel,
        *,
        router_id: str,
        get_producer: Callable[[str], "Producer"],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(observer_id, app_data)
        self._channel = channel
        self._router_id = router_id
        self._get_producer = get_producer
        self._paused = False
        channel.subscribe(observer_id, self._on_notification)

    @property
    def paused(self) -> bool:
        return self._paused

    def _request_close(self) -> None:
        self._channel.request_nowait(
            "router.closeRtpObserver", self._router_id, {"rtpObserverId": self.id}
        )

    def _after_close(self) -> None:
        self._channel.unsubscribe(self.id)

    async def pause(self) -> None:
        self._check_open("pause")
        await self._channel.request("rtpObserver.pause", self.id)
        if not self._paused:
            self._paused = True
            self.observer.emit("pause")

    async def resume(self) -> None:
        self._check_open("resume")
        await self._channel.request("rtpObserver.resume", self.id)
        if self._paused:
            self._paused = False
            self.observer.emit("resume")

    async def add_producer(self, *, producer_id: str) -> None:
        """Observe an audio producer of the same router; NotFoundError for an unknown id."""
        self._check_open("add_producer")
        producer = self._get_producer(producer_id)
        await self._channel.request("rtpObserver.addProducer", self.id, {"producerId": producer.id})
        self.observer.emit("addproducer", producer)

    async def remove_producer(self, *, producer_id: str) -> None:
        self._check_open("remove_producer")
        producer = self._get_producer(producer_id)
        await self._channel.request(
            "rtpObserver.removeProducer", self.id, {"producerId": producer.id}
        )
        self.observer.emit("removeproducer", producer)

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("rtpObserver.dump", self.id)
        return result

    def _on_notification(self, event: str, data: Any) -> None:
        """Turn the worker's events into events with Producer objects; subclasses override."""

    def _producer(self, producer_id: str) -> "Producer | None":
        try:
            return self._get_producer(producer_id)
        except Exception:
            # The producer closed between the worker's evaluation and this notification.
            return None


class AudioLevelObserver(RtpObserver):
    """Events: `volumes([{producer, volume}])` loudest first (volume in dBov, -127..0), and
    `silence` when no producer reaches the threshold after a `volumes` event.
    """

    def _on_notification(self, event: str, data: Any) -> None:
        if event == "volumes":
            volumes = []
            for entry in data:
                producer = self._producer(entry["producerId"])
                if producer is not None:
                    volumes.append({"producer": producer, "volume": entry["volume"]})
            if volumes:
                self.emit("volumes", volumes)
                self.observer.emit("volumes", volumes)
        elif event == "silence":
            self.emit("silence")
            self.observer.emit("silence")


class ActiveSpeakerObserver(RtpObserver):
    """Events: `dominantspeaker({producer})` when the dominant speaker changes."""

    def _on_notification(self, event: str, data: Any) -> None:
        if event != "dominantspeaker":
            return
        producer = self._producer(data["producerId"])
        if producer is not None:
            self.emit("dominantspeaker", {"producer": producer})
            self.observer.emit("dominantspeaker", {"producer": producer})

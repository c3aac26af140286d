"""Consumer: one producer's media sent to one client through a transport."""

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sfu.channel import Channel
from sfu.entity import Entity
from sfu.errors import InvalidParameterError

if TYPE_CHECKING:
    from sfu.producer import Producer

_TRACE_TYPES = ("rtp", "keyframe", "nack", "pli", "fir")


class Consumer(Entity):
    """Events: `transportclose`, `producerclose`, `producerpause`, `producerresume`, `score`,
    `layerschange`, `trace`. Observer: `close`, `pause`, `resume`, `score`, `layerschange`, `trace`.
    """

    def __init__(
        self,
        consumer_id: str,
        channel: Channel,
        *,
        transport_id: str,
        producer: "Producer",
        rtp_parameters: dict[str, Any],
        consumer_type: str,
        state: dict[str, Any],
        owner_closing: Callable[[], bool],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(consumer_id, app_data)
        self._channel = channel
        self._transport_id = transport_id
        self._producer = producer
        self._rtp_parameters = rtp_parameters
        self._type = consumer_type
        self._paused = bool(state.get("paused", False))
        self._producer_paused = bool(state.get("producerPaused", False))
        self._priority = 1
        self._score: dict[str, Any] = state.get("score") or {
            "score": 10,
            "producerScore": 0,
            "producerScores": [],
        }
        self._preferred_layers: dict[str, int] | None = state.get("preferredLayers")
        self._current_layers: dict[str, int] | None = None
        self._owner_closing = owner_closing
        channel.subscribe(consumer_id, self._on_notification)

    @property
    def producer_id(self) -> str:
        return self._producer.id

    @property
    def kind(self) -> str:
        return self._producer.kind

    @property
    def rtp_parameters(self) -> dict[str, Any]:
        return copy.deepcopy(self._rtp_parameters)

    @property
    def type(self) -> str:
        """`simple`, `simulcast`, `svc` (the producer's type) or `pipe`."""
        return self._type

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def producer_paused(self) -> bool:
        return self._producer_paused

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def score(self) -> dict[str, Any]:
        """`{score, producerScore, producerScores}`, each 0..10."""
        return copy.deepcopy(self._score)

    @property
    def preferred_layers(self) -> dict[str, int] | None:
        return copy.deepcopy(self._preferred_layers)

    @property
    def current_layers(self) -> dict[str, int] | None:
        return copy.deepcopy(self._current_layers)

    def parent_closed(self, event: str) -> None:
        # When the producer closes as part of a router or transport close that also closes
        # this consumer's transport, the consumer reports `transportclose` instead.
        if event == "producerclose" and self._owner_closing():
            return
        super().parent_closed(event)

    def _request_close(self) -> None:
        self._channel.request_nowait(
            "transport.closeConsumer", self._transport_id, {"consumerId": self.id}
        )

    def _after_close(self) -> None:
        self._channel.unsubscribe(self.id)
        # A consumer has two owners (its transport and its producer); either may close it.
        self._producer._forget_consumer(self.id)
        if self._on_forget is not None:
            self._on_forget()

    def _on_notification(self, event: str, data: Any) -> None:
        if event == "producerpause":
            if self._producer_paused:
                return
            self._producer_paused = True
            self.emit("producerpause")
            if not self._paused:
                self.observer.emit("pause")
        elif event == "producerresume":
            if not self._producer_paused:
                return
            self._producer_paused = False
            self.emit("producerresume")
            if not self._paused:
                self.observer.emit("resume")
        elif event == "score":
            self._score = data
            self.emit("score", data)
            self.observer.emit("score", data)
        elif event == "layerschange":
            self._current_layers = data
            self.emit("layerschange", data)
            self.observer.emit("layerschange", data)
        elif event == "trace":
            self.emit("trace", data)
            self.observer.emit("trace", data)

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("consumer.dump", self.id)
        return result

    async def get_stats(self) -> list[dict[str, Any]]:
        self._check_open("get_stats")
        result: list[dict[str, Any]] = await self._channel.request("consumer.getStats", self.id)
        return result

    async def pause(self) -> None:
        self._check_open("pause")
        await self._channel.request("consumer.pause", self.id)
        was_paused = self._paused
        self._paused = True
        if not was_paused and not self._producer_paused:
            self.observer.emit("pause")

    async def resume(self) -> None:
        self._check_open("resume")
        await self._channel.request("consumer.resume", self.id)
        was_paused = self._paused
        self._paused = False
        if was_paused and not self._producer_paused:
            self.observer.emit("resume")

    async def set_preferred_layers(
        self, *, spatial_layer: int, temporal_layer: int | None = None
    ) -> None:
        """Ask for a spatial (and temporal) layer; a no-op for simple and pipe consumers."""
        self._check_open("set_preferred_layers")
        for name, value in (("spatial_layer", spatial_layer), ("temporal_layer", temporal_layer)):
            if value is None and name == "temporal_layer":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidParameterError(f"{name} must be a non-negative integer, got {value!r}")
        result = await self._channel.request(
            "consumer.setPreferredLayers",
            self.id,
            {"spatialLayer": spatial_layer, "temporalLayer": temporal_layer},
        )
        self._preferred_layers = result

    async def set_priority(self, priority: int) -> None:
        """Weight (1..255) of this consumer when the transport's outgoing bitrate is shared."""
        self._check_open("set_priority")
        if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 255:
            raise InvalidParameterError(f"priority must be an integer 1..255, got {priority!r}")
        result = await self._channel.request(
            "consumer.setPriority", self.id, {"priority": priority}
        )
        self._priority = result["priority"]

    async def unset_priority(self) -> None:
        await self.set_priority(1)

    async def request_key_frame(self) -> None:
        self._check_open("request_key_frame")
        await self._channel.request("consumer.requestKeyFrame", self.id)

    async def enable_trace_event(self, types: list[str]) -> None:
        """Emit `trace` for the given types: rtp, keyframe, nack, pli, fir."""
        self._check_open("enable_trace_event")
        await self._channel.request("consumer.enableTraceEvent", self.id, {"types": types})

"""Producer: media that one client sends into a transport."""

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sfu.channel import Channel
from sfu.entity import Entity

if TYPE_CHECKING:
    from sfu.consumer import Consumer


class Producer(Entity):
    """Events: `transportclose`, `score`, `videoorientationchange`, `trace`.

    Observer: `close`, `pause`, `resume`, `score`, `videoorientationchange`, `trace`.
    Closing a producer closes every consumer of it, which emits `producerclose`.
    """

    child_close_event = "producerclose"

    def __init__(
        self,
        producer_id: str,
        channel: Channel,
        *,
        transport_id: str,
        kind: str,
        rtp_parameters: dict[str, Any],
        producer_type: str,
        consumable_rtp_parameters: dict[str, Any],
        paused: bool,
        unregister: Callable[["Producer"], None],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(producer_id, app_data)
        self._channel = channel
        self._transport_id = transport_id
        self._kind = kind
        self._rtp_parameters = rtp_parameters
        self._type = producer_type
        self._consumable_rtp_parameters = consumable_rtp_parameters
        self._paused = paused
        self._score: list[dict[str, Any]] = []
        self._unregister = unregister
        self._consumers: dict[str, Entity] = {}
        channel.subscribe(producer_id, self._on_notification)

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def rtp_parameters(self) -> dict[str, Any]:
        return copy.deepcopy(self._rtp_parameters)

    @property
    def type(self) -> str:
        """`simple`, `simulcast` or `svc`."""
        return self._type

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def score(self) -> list[dict[str, Any]]:
        """Scores (0..10) of the received streams: `[{encodingIdx, ssrc, rid?, score}]`."""
        return copy.deepcopy(self._score)

    @property
    def consumable_rtp_parameters(self) -> dict[str, Any]:
        """Parameters consumers are derived from (router payload types and mapped SSRCs)."""
        return self._consumable_rtp_parameters

    def _children(self) -> list[dict[str, Entity]]:
        return [self._consumers]

    def _adopt_consumer(self, consumer: "Consumer") -> None:
        self._consumers[consumer.id] = consumer

    def _forget_consumer(self, consumer_id: str) -> None:
        self._consumers.pop(consumer_id, None)

    def _request_close(self) -> None:
        self._channel.request_nowait(
            "transport.closeProducer", self._transport_id, {"producerId": self.id}
        )

    def _after_close(self) -> None:
        self._channel.unsubscribe(self.id)
        self._unregister(self)

    def _on_notification(self, event: str, data: Any) -> None:
        if event == "score":
            self._score = data
            self.emit("score", data)
            self.observer.emit("score", data)
        elif event in ("videoorientationchange", "trace"):
            self.emit(event, data)
            self.observer.emit(event, data)

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("producer.dump", self.id)
        return result

    async def get_stats(self) -> list[dict[str, Any]]:
        self._check_open("get_stats")
        result: list[dict[str, Any]] = await self._channel.request("producer.getStats", self.id)
        return result

    async def pause(self) -> None:
        """Stop forwarding to every consumer; each emits `producerpause`."""
        self._check_open("pause")
        await self._channel.request("producer.pause", self.id)
        was_paused = self._paused
        self._paused = True
        if not was_paused:
            self.observer.emit("pause")

    async def resume(self) -> None:
        self._check_open("resume")
        await self._channel.request("producer.resume", self.id)
        was_paused = self._paused
        self._paused = False
        if was_paused:
            self.observer.emit("resume")

    async def enable_trace_event(self, types: list[str]) -> None:
        """Emit `trace` for the given types: rtp, keyframe, nack, pli, fir, sr."""
        self._check_open("enable_trace_event")
        await self._channel.request("producer.enableTraceEvent", self.id, {"types": types})

"""A router inside a worker: its transports and the producer -> consumers map."""

from typing import TYPE_CHECKING, Any

from workers.consumer import Consumer
from workers.errors import InvalidParameterError, NotFoundError, UnsupportedError
from workers.params import require
from workers.plain_transport import PipeTransport, PlainTransport
from workers.producer import ForwardedPacket, Producer
from workers.rtp import read_audio_level
from workers.rtp_observer import RtpObserver, create_observer
from workers.transport import Transport
from workers.webrtc_transport import WebRtcTransport

if TYPE_CHECKING:
    from workers.channel_server import ChannelServer
    from workers.worker import Worker


class Router:
    def __init__(self, worker: "Worker", router_id: str) -> None:
        self.id = router_id
        self.worker = worker
        self.channel: ChannelServer = worker.channel
        self.transports: dict[str, Transport] = {}
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[str, Consumer] = {}
        self.consumers_by_producer: dict[str, dict[str, Consumer]] = {}
        self.rtp_observers: dict[str, RtpObserver] = {}

    async def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "router.dump":
            return self.dump()
        if method == "router.createWebRtcTransport":
            return await self._create_transport(WebRtcTransport, data)
        if method == "router.createPlainTransport":
            return await self._create_transport(PlainTransport, data)
        if method == "router.createPipeTransport":
            return await self._create_transport(PipeTransport, data)
        if method in ("router.createAudioLevelObserver", "router.createActiveSpeakerObserver"):
            kind = "audioLevel" if method == "router.createAudioLevelObserver" else "activeSpeaker"
            observer = create_observer(self, kind, data)
            if observer.id in self.worker.registry:
                observer.close()
                raise InvalidParameterError(f"rtpObserverId {observer.id!r} is already in use")
            self.rtp_observers[observer.id] = observer
            self.worker.registry.add(observer)
            return None
        if method == "router.closeRtpObserver":
            observer_id = require(data, "rtpObserverId", str)
            closing = self.rtp_observers.pop(observer_id, None)
            if closing is None:
                raise NotFoundError(f"rtpObserver {observer_id!r} not found in router {self.id}")
            closing.close()
            self.worker.registry.remove(observer_id)
            return None
        if method == "router.closeTransport":
            transport_id = require(data, "transportId", str)
            if transport_id not in self.transports:
                raise NotFoundError(f"transport {transport_id!r} not found in router {self.id}")
            self.close_transport(transport_id)
            return None
        raise UnsupportedError(f"unknown router method {method!r}")

    async def _create_transport(
        self, cls: type[WebRtcTransport | PlainTransport], data: dict[str, Any]
    ) -> Any:
        transport = cls(self, data)
        if transport.id in self.worker.registry:
            raise InvalidParameterError(f"transportId {transport.id!r} is already in use")
        await transport.open(data, self.worker.port_range)
        self.transports[transport.id] = transport
        self.worker.registry.add(transport)
        return transport.describe()

    def close_transport(self, transport_id: str) -> None:
        transport = self.transports.pop(transport_id, None)
        if transport is None:
            return
        transport.close()
        self.worker.registry.remove(transport_id)
        self.worker.retire_counters(transport.media_counters())

    def add_producer(self, producer: Producer) -> None:
        if producer.id in self.worker.registry:
            raise InvalidParameterError(f"producerId {producer.id!r} is already in use")
        self.producers[producer.id] = producer
        self.consumers_by_producer[producer.id] = {}
        self.worker.registry.add(producer)

    def get_producer(self, producer_id: str) -> Producer:
        producer = self.producers.get(producer_id)
        if producer is None:
            raise NotFoundError(f"producer {producer_id!r} not found in router {self.id}")
        return producer

    def remove_producer(self, producer: Producer) -> None:
        """Forget a closed producer and close its consumers, as the control plane does."""
        self.producers.pop(producer.id, None)
        self.worker.registry.remove(producer.id)
        self.worker.retire_counters(producer.media_counters())
        for observer in self.rtp_observers.values():
            observer.remove_producer(producer.id)
        transport_of_producer = self.transports.get(producer.transport_id)
        if transport_of_producer is not None:
            transport_of_producer.forget_producer(producer)
        for consumer in list(self.consumers_by_producer.pop(producer.id, {}).values()):
            transport = self.transports.get(consumer.transport_id)
            if transport is not None:
                transport.forget_consumer(consumer.id)
            self.consumers.pop(consumer.id, None)
            self.worker.registry.remove(consumer.id)
            self.worker.retire_counters(consumer.media_counters())

    def add_consumer(self, consumer: Consumer) -> None:
        if consumer.id in self.worker.registry:
            raise InvalidParameterError(f"consumerId {consumer.id!r} is already in use")
        self.consumers[consumer.id] = consumer
        self.consumers_by_producer[consumer.producer_id][consumer.id] = consumer
        self.worker.registry.add(consumer)

    def remove_consumer(self, consumer: Consumer) -> None:
        if self.consumers.pop(consumer.id, None) is not None:
            self.worker.retire_counters(consumer.media_counters())
        self.consumers_by_producer.get(consumer.producer_id, {}).pop(consumer.id, None)
        self.worker.registry.remove(consumer.id)

    def forward(self, producer: Producer, forwarded: ForwardedPacket) -> None:
        """Hand one mangled producer packet to every consumer of the producer."""
        for consumer in self.consumers_by_producer[producer.id].values():
            consumer.send(forwarded)
        if self.rtp_observers and producer.audio_level_extension_id:
            self._observe_audio_level(producer, forwarded)

    def _observe_audio_level(self, producer: Producer, forwarded: ForwardedPacket) -> None:
        value = forwarded.packet.extensions.get(producer.audio_level_extension_id)
        if value is None:
            return
        try:
            voice, level = read_audio_level(value)
        except ValueError:
            return
        for observer in self.rtp_observers.values():
            if producer.id in observer.producer_ids:
                observer.on_audio_level(producer.id, level, voice)

    def learn_ssrc(self, producer: Producer, ssrc: int) -> None:
        transport = self.transports.get(producer.transport_id)
        if transport is not None:
            transport.learn_ssrc(producer, ssrc)

    def on_producer_score(self, producer: Producer) -> None:
        """Tell the control plane about a new producer score, and its consumers too."""
        scores = producer.scores()
        self.channel.notify(producer.id, "score", scores)
        for consumer in self.consumers_by_producer.get(producer.id, {}).values():
            consumer.on_producer_score(scores)

    def on_producer_paused(self, producer: Producer, paused: bool) -> None:
        for observer in self.rtp_observers.values():
            observer.on_producer_paused(producer.id, paused)
        for consumer in self.consumers_by_producer.get(producer.id, {}).values():
            consumer.set_producer_paused(paused)

    def close(self) -> None:
        for transport_id in list(self.transports):
            self.close_transport(transport_id)
        for observer in self.rtp_observers.values():
            observer.close()
            self.worker.registry.remove(observer.id)
        self.rtp_observers.clear()

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "transportIds": list(self.transports),
            "mapProducerIdConsumerIds": [
                {"key": producer_id, "values": list(consumers)}
                for producer_id, consumers in self.consumers_by_producer.items()
            ],
            "mapConsumerIdProducerId": [
                {"key": consumer.id, "value": consumer.producer_id}
                for consumer in self.consumers.values()
            ],
            "rtpObserverIds": list(self.rtp_observers),
        }

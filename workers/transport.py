"""What all worker-side transports share: producers, consumers and their requests."""

from typing import TYPE_CHECKING, Any

from workers.consumer import Consumer
from workers.errors import InvalidParameterError, InvalidStateError, UnsupportedError
from workers.params import require
from workers.producer import Producer, _trace_types

if TYPE_CHECKING:
    from workers.router import Router


class Transport:
    """Base of WebRtcTransport, PlainTransport and PipeTransport inside a worker."""

    type = ""

    def __init__(self, router: "Router", data: dict[str, Any]) -> None:
        self.id: str = require(data, "transportId", str)
        self.router = router
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[str, Consumer] = {}
        self.max_incoming_bitrate = 0
        self.max_outgoing_bitrate = 0
        self.min_outgoing_bitrate = 0
        self.trace_event_types: list[str] = []
        self.closed = False

    def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "transport.dump":
            return self.dump()
        if method == "transport.getStats":
            return self.get_stats()
        if method == "transport.produce":
            return self._produce(data)
        if method == "transport.consume":
            return self._consume(data)
        if method == "transport.closeProducer":
            self._close_producer(require(data, "producerId", str))
            return None
        if method == "transport.closeConsumer":
            self._close_consumer(require(data, "consumerId", str))
            return None
        if method in _BITRATE_METHODS:
            value = require(data, "bitrate", int)
            if value < 0:
                raise InvalidParameterError(f"bitrate must be >= 0, got {value}")
            setattr(self, _BITRATE_METHODS[method], value)
            return None
        if method == "transport.enableTraceEvent":
            self.trace_event_types = _trace_types(data, {"probation", "bwe"})
            return None
        return self.handle_specific_request(method, data)

    def handle_specific_request(self, method: str, data: dict[str, Any]) -> Any:
        raise UnsupportedError(f"unknown {self.type} transport method {method!r}")

    def _produce(self, data: dict[str, Any]) -> dict[str, Any]:
        producer_id = require(data, "producerId", str)
        rtp_parameters = require(data, "rtpParameters", dict)
        mid = rtp_parameters.get("mid")
        if mid is not None and any(
            p.rtp_parameters.get("mid") == mid for p in self.producers.values()
        ):
            raise InvalidParameterError(
                f"mid {mid!r} is already used by another producer of this transport"
            )
        used_ssrcs = {
            encoding.get("ssrc")
            for producer in self.producers.values()
            for encoding in producer.rtp_parameters.get("encodings", [])
            if encoding.get("ssrc") is not None
        }
        for encoding in rtp_parameters.get("encodings", []):
            if encoding.get("ssrc") is not None and encoding["ssrc"] in used_ssrcs:
                raise InvalidParameterError(
                    f"ssrc {encoding['ssrc']} is already used in this transport"
                )
        producer = Producer(self.router, self.id, data)
        self.router.add_producer(producer)
        self.producers[producer_id] = producer
        return {"type": producer.type}

    def _consume(self, data: dict[str, Any]) -> dict[str, Any]:
        require(data, "consumerId", str)
        producer = self.router.get_producer(require(data, "producerId", str))
        data = {**data, "producerPaused": producer.paused}
        consumer = Consumer(self.router.channel, self.id, data)
        self.router.add_consumer(consumer)
        self.consumers[consumer.id] = consumer
        return {
            "paused": consumer.paused,
            "producerPaused": consumer.producer_paused,
            "score": {"score": 10, "producerScore": 0, "producerScores": []},
            "preferredLayers": consumer.preferred_layers,
        }

    def _close_producer(self, producer_id: str) -> None:
        producer = self.producers.pop(producer_id, None)
        if producer is None:
            raise InvalidStateError(f"producer {producer_id!r} not found in transport {self.id}")
        self.router.remove_producer(producer)

    def _close_consumer(self, consumer_id: str) -> None:
        consumer = self.consumers.pop(consumer_id, None)
        if consumer is None:
            raise InvalidStateError(f"consumer {consumer_id!r} not found in transport {self.id}")
        self.router.remove_consumer(consumer)

    def close(self) -> None:
        """Close producers (and so every consumer of them) and consumers, then the sockets."""
        if self.closed:
            return
        self.closed = True
        for producer in list(self.producers.values()):
            self.router.remove_producer(producer)
        for consumer in list(self.consumers.values()):
            self.router.remove_consumer(consumer)
        self.producers.clear()
        self.consumers.clear()
        self.close_network()

    def close_network(self) -> None:
        """Release sockets; subclasses override."""

    def forget_consumer(self, consumer_id: str) -> None:
        self.consumers.pop(consumer_id, None)

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "producerIds": list(self.producers),
            "consumerIds": list(self.consumers),
            "maxIncomingBitrate": self.max_incoming_bitrate,
            "maxOutgoingBitrate": self.max_outgoing_bitrate,
            "minOutgoingBitrate": self.min_outgoing_bitrate,
            "traceEventTypes": self.trace_event_types,
        }

    def get_stats(self) -> list[dict[str, Any]]:
        return []


_BITRATE_METHODS = {
    "transport.setMaxIncomingBitrate": "max_incoming_bitrate",
    "transport.setMaxOutgoingBitrate": "max_outgoing_bitrate",
    "transport.setMinOutgoingBitrate": "min_outgoing_bitrate",
}

"""Transport: what WebRTC, plain and pipe transports share (produce, consume, close)."""

import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfu import ortc
from sfu.channel import Channel
from sfu.entity import Entity
from sfu.errors import InvalidParameterError, UnsupportedError

if TYPE_CHECKING:
    from sfu.consumer import Consumer
    from sfu.producer import Producer

# mediasoup counts consumer mids from 0 and wraps before they need more than 8 digits.
_MAX_MID = 100_000_000
_TRACE_TYPES = ("probation", "bwe")
_CNAME_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class RouterLinks:
    """Callbacks into the router that a transport needs, passed instead of the router itself."""

    router_id: str
    rtp_capabilities: Callable[[], dict[str, Any]]
    get_producer: Callable[[str], "Producer"]
    register_producer: Callable[["Producer"], None]
    unregister_producer: Callable[["Producer"], None]
    router_closed: Callable[[], bool]


class Transport(Entity):
    """Events: `routerclose`, `trace`. Observer: `newproducer`, `newconsumer`, `close`, `trace`."""

    child_close_event = "transportclose"

    def __init__(
        self,
        transport_id: str,
        channel: Channel,
        links: RouterLinks,
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(transport_id, app_data)
        self._channel = channel
        self._links = links
        self._producers: dict[str, Entity] = {}
        self._consumers: dict[str, Entity] = {}
        self._cname_for_producers: str | None = None
        self._next_mid = 0
        channel.subscribe(transport_id, self._on_notification)

    def _children(self) -> list[dict[str, Entity]]:
        # Consumers first, so a consumer of a producer of this same transport reports
        # `transportclose` rather than `producerclose`.
        return [self._consumers, self._producers]

    def _request_close(self) -> None:
        self._channel.request_nowait(
            "router.closeTransport", self._links.router_id, {"transportId": self.id}
        )

    def _after_close(self) -> None:
        self._channel.unsubscribe(self.id)

    def _on_notification(self, event: str, data: Any) -> None:
        if event == "trace":
            self.emit("trace", data)
            self.observer.emit("trace", data)
        else:
            self._on_specific_notification(event, data)

    def _on_specific_notification(self, event: str, data: Any) -> None:
        """Handle notifications of one transport type; subclasses override."""

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("transport.dump", self.id)
        return result

    async def get_stats(self) -> list[dict[str, Any]]:
        self._check_open("get_stats")
        result: list[dict[str, Any]] = await self._channel.request("transport.getStats", self.id)
        return result

    async def enable_trace_event(self, types: list[str]) -> None:
        self._check_open("enable_trace_event")
        await self._channel.request("transport.enableTraceEvent", self.id, {"types": types})

    async def set_max_incoming_bitrate(self, bitrate: int) -> None:
        await self._set_bitrate("transport.setMaxIncomingBitrate", bitrate)

    async def set_max_outgoing_bitrate(self, bitrate: int) -> None:
        await self._set_bitrate("transport.setMaxOutgoingBitrate", bitrate)

    async def set_min_outgoing_bitrate(self, bitrate: int) -> None:
        await self._set_bitrate("transport.setMinOutgoingBitrate", bitrate)

    async def _set_bitrate(self, method: str, bitrate: int) -> None:
        self._check_open(method)
        if not isinstance(bitrate, int) or isinstance(bitrate, bool) or bitrate < 0:
            raise InvalidParameterError(f"bitrate must be a non-negative integer, got {bitrate!r}")
        await self._channel.request(method, self.id, {"bitrate": bitrate})

    async def produce(
        self,
        *,
        kind: str,
        rtp_parameters: dict[str, Any],
        paused: bool = False,
        key_frame_request_delay: int = 0,
        id: str | None = None,
        app_data: dict[str, Any] | None = None,
    ) -> "Producer":
        """Receive media described by `rtp_parameters` (the sender's payload types and ids).

        Raises InvalidParameterError for malformed parameters, UnsupportedError when no
        router codec matches.
        """
        from sfu.producer import Producer

        self._check_open("produce")
        if kind not in ("audio", "video"):
            raise InvalidParameterError(f"kind must be 'audio' or 'video', got {kind!r}")
        if not isinstance(key_frame_request_delay, int) or key_frame_request_delay < 0:
            raise InvalidParameterError(
                "key_frame_request_delay must be a non-negative integer, "
                f"got {key_frame_request_delay!r}"
            )
        if app_data is not None and not isinstance(app_data, dict):
            raise InvalidParameterError(f"app_data must be a dict, got {type(app_data).__name__}")
        parameters = ortc.validate_rtp_parameters(rtp_parameters)
        if not parameters.get("encodings"):
            # One encoding without SSRC or RID: the worker learns the SSRC from the first packet.
            parameters["encodings"] = [{}]
        _check_codec_kinds(kind, parameters)
        self._apply_cname(parameters)
        capabilities = self._links.rtp_capabilities()
        mapping = ortc.get_producer_rtp_parameters_mapping(parameters, capabilities)
        consumable = ortc.get_consumable_rtp_parameters(kind, parameters, capabilities, mapping)
        producer_id = id if id is not None else str(uuid.uuid4())
        producer_type = ortc.get_producer_type(parameters)
        response = await self._channel.request(
            "transport.produce",
            self.id,
            {
                "producerId": producer_id,
                "kind": kind,
                "rtpParameters": parameters,
                "rtpMapping": mapping,
                "type": producer_type,
                "keyFrameRequestDelay": key_frame_request_delay,
                "paused": paused,
            },
        )
        producer = Producer(
            producer_id,
            self._channel,
            transport_id=self.id,
            kind=kind,
            rtp_parameters=parameters,
            producer_type=response["type"],
            consumable_rtp_parameters=consumable,
            paused=paused,
            unregister=self._links.unregister_producer,
            app_data=app_data,
        )
        self._links.register_producer(producer)
        self._adopt(self._producers, producer)
        self.observer.emit("newproducer", producer)
        return producer

    def _apply_cname(self, parameters: dict[str, Any]) -> None:
        """Give every producer of this transport the first producer's CNAME (lip sync)."""
        if self._cname_for_producers is None:
            cname = parameters.get("rtcp", {}).get("cname")
            self._cname_for_producers = cname or "".join(
                secrets.choice(_CNAME_ALPHABET) for _ in range(8)
            )
        parameters.setdefault("rtcp", {})["cname"] = self._cname_for_producers

    async def consume(
        self,
        *,
        producer_id: str,
        rtp_capabilities: dict[str, Any],
        paused: bool = False,
        mid: str | None = None,
        preferred_layers: dict[str, int] | None = None,
        ignore_dtx: bool = False,
        enable_rtx: bool | None = None,
        pipe: bool = False,
        app_data: dict[str, Any] | None = None,
    ) -> "Consumer":
        """Send a producer of this router to the device whose receive capabilities are given.

        Raises NotFoundError for an unknown producer, InvalidParameterError for malformed
        capabilities and UnsupportedError when the device cannot receive any of its codecs.
        """
        self._check_open("consume")
        producer = self._links.get_producer(producer_id)
        capabilities = ortc.validate_rtp_capabilities(rtp_capabilities)
        if mid is not None and (not isinstance(mid, str) or not mid):
            raise InvalidParameterError(f"mid must be a non-empty string, got {mid!r}")
        if enable_rtx is None:
            enable_rtx = producer.kind == "video"
        if not ortc.can_consume(producer.consumable_rtp_parameters, capabilities):
            raise UnsupportedError(
                f"the given rtp_capabilities cannot consume producer {producer_id} "
                f"({producer.kind})"
            )
        parameters = ortc.get_consumer_rtp_parameters(
            producer.consumable_rtp_parameters, capabilities, pipe=pipe, enable_rtx=enable_rtx
        )
        if not pipe:
            parameters["mid"] = mid if mid is not None else self._allocate_mid()
        return await self._create_consumer(
            producer,
            parameters,
            consumer_type="pipe" if pipe else producer.type,
            paused=paused,
            preferred_layers=preferred_layers,
            ignore_dtx=ignore_dtx,
            app_data=app_data,
        )

    def _allocate_mid(self) -> str:
        mid = str(self._next_mid)
        self._next_mid = (self._next_mid + 1) % _MAX_MID
        return mid

    async def _create_consumer(
        self,
        producer: "Producer",
        parameters: dict[str, Any],
        *,
        consumer_type: str,
        paused: bool,
        preferred_layers: dict[str, int] | None,
        ignore_dtx: bool,
        app_data: dict[str, Any] | None,
    ) -> "Consumer":
        from sfu.consumer import Consumer

        if app_data is not None and not isinstance(app_data, dict):
            raise InvalidParameterError(f"app_data must be a dict, got {type(app_data).__name__}")
        _check_layers(preferred_layers)
        consumer_id = str(uuid.uuid4())
        response = await self._channel.request(
            "transport.consume",
            self.id,
            {
                "consumerId": consumer_id,
                "producerId": producer.id,
                "kind": producer.kind,
                "rtpParameters": parameters,
                "type": consumer_type,
                "consumableRtpEncodings": producer.consumable_rtp_parameters["encodings"],
                "paused": paused,
                "preferredLayers": preferred_layers,
                "ignoreDtx": ignore_dtx,
            },
        )
        consumer = Consumer(
            consumer_id,
            self._channel,
            transport_id=self.id,
            producer=producer,
            rtp_parameters=parameters,
            consumer_type=consumer_type,
            state=response,
            owner_closing=lambda: self.closed or self._links.router_closed(),
            app_data=app_data,
        )
        self._adopt(self._consumers, consumer)
        producer._adopt_consumer(consumer)
        self.observer.emit("newconsumer", consumer)
        return consumer


def _check_codec_kinds(kind: str, parameters: dict[str, Any]) -> None:
    for index, codec in enumerate(parameters.get("codecs", [])):
        mime_type = codec.get("mimeType", "")
        if not mime_type.lower().startswith(kind + "/"):
            raise InvalidParameterError(
                f"rtp_parameters.codecs[{index}].mimeType {mime_type!r} "
                f"does not match kind {kind!r}"
            )


def _check_layers(layers: Any) -> None:
    if layers is None:
        return
    if not isinstance(layers, dict):
        raise InvalidParameterError(f"preferred_layers must be a dict, got {layers!r}")
    for key in ("spatialLayer", "temporalLayer"):
        value = layers.get(key)
        if key == "temporalLayer" and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidParameterError(
                f"preferred_layers.{key} must be a non-negative integer, got {value!r}"
            )

"""A consumer as the worker keeps it: one producer's media sent out of a transport."""

from typing import TYPE_CHECKING, Any

from workers.errors import InvalidParameterError, UnsupportedError
from workers.producer import _trace_types

if TYPE_CHECKING:
    from workers.channel_server import ChannelServer


class Consumer:
    def __init__(self, channel: "ChannelServer", transport_id: str, data: dict[str, Any]) -> None:
        self.id: str = data["consumerId"]
        self.producer_id: str = data["producerId"]
        self.transport_id = transport_id
        self.kind: str = data["kind"]
        self.rtp_parameters: dict[str, Any] = data["rtpParameters"]
        self.type: str = data["type"]
        self.consumable_rtp_encodings: list[dict[str, Any]] = data["consumableRtpEncodings"]
        self.paused: bool = bool(data.get("paused", False))
        self.producer_paused: bool = bool(data.get("producerPaused", False))
        self.ignore_dtx: bool = bool(data.get("ignoreDtx", False))
        self.priority = 1
        self.preferred_layers: dict[str, int] | None = data.get("preferredLayers")
        self.trace_event_types: list[str] = []
        self._channel = channel

    def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "consumer.dump":
            return self.dump()
        if method == "consumer.getStats":
            return []
        if method == "consumer.pause":
            self.paused = True
            return None
        if method == "consumer.resume":
            self.paused = False
            return None
        if method == "consumer.setPreferredLayers":
            return self._set_preferred_layers(data)
        if method == "consumer.setPriority":
            priority = data.get("priority")
            if (
                not isinstance(priority, int)
                or isinstance(priority, bool)
                or not 1 <= priority <= 255
            ):
                raise InvalidParameterError(f"priority must be an integer 1..255, got {priority!r}")
            self.priority = priority
            return {"priority": self.priority}
        if method == "consumer.requestKeyFrame":
            return None
        if method == "consumer.enableTraceEvent":
            self.trace_event_types = _trace_types(data, {"rtp", "keyframe", "nack", "pli", "fir"})
            return None
        raise UnsupportedError(f"unknown consumer method {method!r}")

    def _set_preferred_layers(self, data: dict[str, Any]) -> Any:
        if self.type in ("simple", "pipe"):
            return None
        spatial = data.get("spatialLayer")
        temporal = data.get("temporalLayer")
        if not isinstance(spatial, int) or isinstance(spatial, bool) or spatial < 0:
            raise InvalidParameterError(
                f"spatialLayer must be a non-negative integer, got {spatial!r}"
            )
        if temporal is not None and (
            not isinstance(temporal, int) or isinstance(temporal, bool) or temporal < 0
        ):
            raise InvalidParameterError(
                f"temporalLayer must be a non-negative integer, got {temporal!r}"
            )
        self.preferred_layers = {
            "spatialLayer": spatial,
            "temporalLayer": temporal if temporal is not None else 0,
        }
        return self.preferred_layers

    def set_producer_paused(self, paused: bool) -> None:
        if paused == self.producer_paused:
            return
        self.producer_paused = paused
        self._channel.notify(self.id, "producerpause" if paused else "producerresume")

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "producerId": self.producer_id,
            "kind": self.kind,
            "type": self.type,
            "rtpParameters": self.rtp_parameters,
            "consumableRtpEncodings": self.consumable_rtp_encodings,
            "supportedCodecPayloadTypes": [
                codec["payloadType"] for codec in self.rtp_parameters.get("codecs", [])
            ],
            "paused": self.paused,
            "producerPaused": self.producer_paused,
            "priority": self.priority,
            "preferredLayers": self.preferred_layers,
            "traceEventTypes": self.trace_event_types,
        }

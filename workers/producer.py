"""A producer as the worker keeps it: the media a client sends into a transport."""

import time
from typing import TYPE_CHECKING, Any

from workers.errors import InvalidParameterError, UnsupportedError

if TYPE_CHECKING:
    from workers.router import Router


class Producer:
    def __init__(self, router: "Router", transport_id: str, data: dict[str, Any]) -> None:
        self.id: str = data["producerId"]
        self.transport_id = transport_id
        self.kind: str = data["kind"]
        self.rtp_parameters: dict[str, Any] = data["rtpParameters"]
        self.rtp_mapping: dict[str, Any] = data["rtpMapping"]
        self.type: str = data["type"]
        self.paused: bool = bool(data.get("paused", False))
        self.key_frame_request_delay: int = int(data.get("keyFrameRequestDelay") or 0)
        self.trace_event_types: list[str] = []
        self._router = router

    def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "producer.dump":
            return self.dump()
        if method == "producer.getStats":
            return self.get_stats()
        if method == "producer.pause":
            self.set_paused(True)
            return None
        if method == "producer.resume":
            self.set_paused(False)
            return None
        if method == "producer.enableTraceEvent":
            self.trace_event_types = _trace_types(
                data, {"rtp", "keyframe", "nack", "pli", "fir", "sr"}
            )
            return None
        raise UnsupportedError(f"unknown producer method {method!r}")

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        self._router.on_producer_paused(self, paused)

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "rtpParameters": self.rtp_parameters,
            "rtpMapping": self.rtp_mapping,
            "rtpStreams": [],
            "paused": self.paused,
            "traceEventTypes": self.trace_event_types,
        }

    def get_stats(self) -> list[dict[str, Any]]:
        # NOTE: per-stream RTP statistics arrive with the media plane; no stream exists yet.
        return []

    def score(self) -> list[dict[str, Any]]:
        return []


def _trace_types(data: dict[str, Any], allowed: set[str]) -> list[str]:
    types = data.get("types")
    if not isinstance(types, list) or not all(isinstance(item, str) for item in types):
        raise InvalidParameterError(f"types must be a list of strings, got {types!r}")
    unknown = sorted(set(types) - allowed)
    if unknown:
        raise InvalidParameterError(
            f"unknown trace event types {unknown}; allowed: {sorted(allowed)}"
        )
    return list(dict.fromkeys(types))


def timestamp_ms() -> int:
    return int(time.time() * 1000)

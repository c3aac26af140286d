"""A producer as the worker keeps it: the media a client sends into a transport.

Each incoming packet is matched to one of the producer's encodings, RTX is unwrapped and
key frames are detected. The packet is then rewritten to the router's payload type, the
mapped SSRC and the router's header extension ids, and the router hands it to consumers.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfu.supported_rtp_capabilities import supported_rtp_capabilities
from workers.codecs import key_frame_detector
from workers.errors import InvalidParameterError, UnsupportedError
from workers.keyframe_requests import KeyFrameRequestManager
from workers.nack import NackGenerator
from workers.rtcp import GenericNack, ReportBlock, SenderReport
from workers.rtp import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    URI_RID,
    URI_RRID,
    URI_TRANSPORT_CC,
    OutgoingHeaderExtensions,
    RtpPacket,
    extension_ids_by_uri,
    map_extension_ids,
    read_rid,
    remap_extensions,
    rtx_decapsulate,
)
from workers.stream_stats import ReceiveStreamStats

if TYPE_CHECKING:
    from workers.router import Router

# Router header extension ids never change: router capabilities list the supported set.
ROUTER_EXTENSION_IDS = extension_ids_by_uri(
    supported_rtp_capabilities()["headerExtensions"], id_key="preferredId"
)


# A simulcast encoding that sent nothing for this long (seconds) counts as stopped.
ENCODING_TIMEOUT = 1.0


@dataclass(slots=True)
class ForwardedPacket:
    """A producer packet after mangling, shared by every consumer of the producer."""

    packet: RtpPacket
    encoding_index: int
    is_key_frame: bool
    extensions: OutgoingHeaderExtensions
    received_at: float


@dataclass(slots=True)
class ReceiveStream:
    """One received encoding (its media SSRC and optional RTX SSRC): counters, RTCP state."""

    encoding_index: int
    ssrc: int
    mapped_ssrc: int
    rid: str | None
    stats: ReceiveStreamStats
    nack: NackGenerator | None
    rtx_ssrc: int | None = None
    packet_count: int = 0
    byte_count: int = 0
    retransmitted_count: int = 0
    key_frame_count: int = 0
    pli_count: int = 0
    fir_count: int = 0
    last_received_at: float = 0.0
    bitrate_window_start: float = 0.0
    bitrate_window_bytes: int = 0
    bitrate: int = 0

    def account(self, now: float, size: int) -> None:
        self.packet_count += 1
        self.byte_count += size
        self.last_received_at = now
        if now - self.bitrate_window_start >= 1.0:
            elapsed = now - self.bitrate_window_start
            self.bitrate = int(self.bitrate_window_bytes * 8 / elapsed) if elapsed < 5 else 0
            self.bitrate_window_start = now
            self.bitrate_window_bytes = 0
        self.bitrate_window_bytes += size


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
        self._trace_rtp = False
        self._router = router
        self._prepare_mapping()
        self.streams: list[ReceiveStream | None] = [None] * len(self.encodings)
        self.streams_by_ssrc: dict[int, tuple[ReceiveStream, bool]] = {}
        self.key_frame_requests = KeyFrameRequestManager(
            key_frame_request_delay=self.key_frame_request_delay / 1000.0,
            use_fir=not self._supports_pli,
        )
        # Set by the transport: sends compound RTCP towards the publishing client.
        self.send_rtcp: Callable[[bytes], None] = lambda _data: None
        self.drop_counters: dict[str, int] = {}

    def _prepare_mapping(self) -> None:
        codecs = self.rtp_parameters["codecs"]
        self.media_codec = next(c for c in codecs if not c["mimeType"].lower().endswith("/rtx"))
        self.mime_type: str = self.media_codec["mimeType"]
        self.detect_key_frame = key_frame_detector(self.mime_type)
        self.media_payload_types = {
            c["payloadType"] for c in codecs if not c["mimeType"].lower().endswith("/rtx")
        }
        self.rtx_payload_types = {
            c["payloadType"]: c["parameters"]["apt"]
            for c in codecs
            if c["mimeType"].lower().endswith("/rtx")
        }
        self.mapped_payload_types = {
            entry["payloadType"]: entry["mappedPayloadType"] for entry in self.rtp_mapping["codecs"]
        }
        feedback = self.media_codec.get("rtcpFeedback", [])
        self._supports_pli = any(
            fb.get("type") == "nack" and fb.get("parameter") == "pli" for fb in feedback
        )
        self._supports_nack = any(
            fb.get("type") == "nack" and not fb.get("parameter") for fb in feedback
        )
        self.clock_rate: int = self.media_codec["clockRate"]
        self.encodings: list[dict[str, Any]] = self.rtp_parameters["encodings"]
        self.mapped_ssrcs = [entry["mappedSsrc"] for entry in self.rtp_mapping["encodings"]]
        producer_ids = extension_ids_by_uri(self.rtp_parameters.get("headerExtensions", []))
        self.mid_extension_id = producer_ids.get(URI_MID, 0)
        self.rid_extension_id = producer_ids.get(URI_RID, 0)
        self.rrid_extension_id = producer_ids.get(URI_RRID, 0)
        self.mid: str | None = self.rtp_parameters.get("mid")
        self.transport_cc_extension_id = producer_ids.get(URI_TRANSPORT_CC, 0)
        self.abs_send_time_extension_id = producer_ids.get(URI_ABS_SEND_TIME, 0)
        self.audio_level_extension_id = producer_ids.get(URI_AUDIO_LEVEL, 0)
        feedback_types = {fb.get("type") for fb in feedback}
        self.wants_transport_cc = "transport-cc" in feedback_types and bool(
            self.transport_cc_extension_id
        )
        self.wants_remb = "goog-remb" in feedback_types and self.kind == "video"
        self.extension_map = map_extension_ids(producer_ids, ROUTER_EXTENSION_IDS)

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
            allowed = {"rtp", "keyframe", "nack", "pli", "fir", "sr"}
            self.trace_event_types = _trace_types(data, allowed)
            self._trace_rtp = "rtp" in self.trace_event_types
            return None
        raise UnsupportedError(f"unknown producer method {method!r}")

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        self._router.on_producer_paused(self, paused)

    def rids(self) -> list[str]:
        return [encoding["rid"] for encoding in self.encodings if encoding.get("rid")]

    def ssrcs(self) -> list[int]:
        """Return the SSRCs signalled in the encodings (media and RTX)."""
        result = []
        for encoding in self.encodings:
            if encoding.get("ssrc") is not None:
                result.append(encoding["ssrc"])
            if encoding.get("rtx", {}).get("ssrc") is not None:
                result.append(encoding["rtx"]["ssrc"])
        return result

    def receive_rtp(self, now: float, packet: RtpPacket) -> ReceiveStream | None:
        """Process one decrypted packet; return its stream, or None when it was dropped."""
        found = self.streams_by_ssrc.get(packet.ssrc)
        if found is None:
            found = self._create_stream(packet)
            if found is None:
                self._drop("unknown_stream")
                return None
        stream, is_rtx = found
        stream.account(now, len(packet.buffer))

        if is_rtx:
            apt = self.rtx_payload_types.get(packet.payload_type)
            if apt is None:
                self._drop("rtx_payload_type")
                return None
            try:
                packet = rtx_decapsulate(packet, apt, stream.ssrc)
            except ValueError:
                # Padding-only RTX probes carry no original packet.
                self._drop("rtx_padding")
                return None
            stream.retransmitted_count += 1
        elif packet.payload_size == 0:
            # Padding-only packets (bandwidth probes) are not forwarded, but their sequence
            # numbers count for loss statistics and must not be NACKed.
            self._account_loss(now, stream, packet, False, False)
            self._drop("padding_only")
            return None

        mapped_payload_type = self.mapped_payload_types.get(packet.payload_type)
        if mapped_payload_type is None or packet.payload_type not in self.media_payload_types:
            self._drop("payload_type")
            return None
        if packet.payload_size == 0:
            self._drop("padding_only")
            return None

        is_key_frame = False
        if self.detect_key_frame is not None:
            try:
                is_key_frame = self.detect_key_frame(
                    packet.buffer, packet.payload_offset, packet.payload_end
                )
            except ValueError:
                is_key_frame = False
        if is_key_frame:
            stream.key_frame_count += 1
            self.key_frame_requests.key_frame_received(stream.ssrc)
            if "keyframe" in self.trace_event_types:
                self.trace("keyframe", "in", _packet_info(packet, True))
        if self._trace_rtp:
            self.trace("rtp", "in", _packet_info(packet, is_key_frame))
        if not self._account_loss(now, stream, packet, is_rtx, is_key_frame):
            self._drop("duplicate")
            return None
        if self.paused:
            return stream

        packet.payload_type = mapped_payload_type
        packet.ssrc = stream.mapped_ssrc
        extensions = OutgoingHeaderExtensions(
            remap_extensions(packet.extensions, self.extension_map),
            mid_id=ROUTER_EXTENSION_IDS.get(URI_MID, 0),
            abs_send_time_id=ROUTER_EXTENSION_IDS.get(URI_ABS_SEND_TIME, 0),
            transport_cc_id=ROUTER_EXTENSION_IDS.get(URI_TRANSPORT_CC, 0),
        )
        forwarded = ForwardedPacket(packet, stream.encoding_index, is_key_frame, extensions, now)
        self._router.forward(self, forwarded)
        return stream

    def _account_loss(
        self, now: float, stream: ReceiveStream, packet: RtpPacket, is_rtx: bool, key: bool
    ) -> bool:
        """Update loss statistics and the NACK list; return False for a duplicate."""
        if not is_rtx:
            stream.stats.on_packet(now, packet.sequence_number, packet.timestamp)
        fresh = True
        if stream.nack is not None:
            fresh = stream.nack.on_packet(now, packet.sequence_number, key, is_rtx)
            if stream.nack.take_key_frame_request():
                self.request_key_frame(now, stream.encoding_index)
        if is_rtx:
            stream.stats.on_rtx_packet(now, repaired=fresh)
        return fresh

    def poll_nacks(self, now: float) -> None:
        """Send a Generic NACK for each stream whose missing packets are due."""
        if self.paused:
            return
        for stream in self.streams:
            if stream is None or stream.nack is None:
                continue
            due = stream.nack.next_timeout()
            if due is None or due > now:
                continue
            sequence_numbers = stream.nack.poll(now)
            if sequence_numbers and "nack" in self.trace_event_types:
                self.trace("nack", "out", {"ssrc": stream.ssrc, "seqs": sequence_numbers})
            if sequence_numbers:
                nack = GenericNack.from_sequence_numbers(stream.ssrc, stream.ssrc, sequence_numbers)
                self.send_rtcp(bytes(nack))

    def report_blocks(self, now: float) -> list[ReportBlock]:
        """Return one RR report block per received stream (RFC 3550 §6.4.2)."""
        blocks = []
        for stream in self.streams:
            if stream is None:
                continue
            block = stream.stats.report_block(now)
            if block is not None:
                blocks.append(block)
        return blocks

    def on_sender_report(self, now: float, report: SenderReport) -> None:
        found = self.streams_by_ssrc.get(report.ssrc)
        if found is None or found[1]:
            return
        if "sr" in self.trace_event_types:
            self.trace("sr", "in", {"ssrc": report.ssrc, "rtpTimestamp": report.rtp_timestamp})
        if found[0].stats.on_sender_report(now, report):
            self._router.on_producer_score(self)

    def encoding_active(self, index: int, now: float) -> bool:
        """Tell whether encoding `index` delivered a packet in the last ENCODING_TIMEOUT s."""
        if not 0 <= index < len(self.streams):
            return False
        stream = self.streams[index]
        return stream is not None and now - stream.last_received_at < ENCODING_TIMEOUT

    def media_counters(self) -> dict[str, int]:
        """Return cumulative counters for the worker-wide totals of /metrics."""
        streams = [stream for stream in self.streams if stream is not None]
        return {
            "nacksSent": sum(s.nack.nack_count for s in streams if s.nack is not None),
            "keyFrameRequestsSent": sum(s.pli_count + s.fir_count for s in streams),
            "packetsLost": sum(max(0, s.stats.packets_lost) for s in streams),
        }

    def scores(self) -> list[dict[str, Any]]:
        """Return `[{encodingIdx, ssrc, rid?, score}]` for the received streams."""
        result = []
        for stream in self.streams:
            if stream is None:
                continue
            entry: dict[str, Any] = {
                "encodingIdx": stream.encoding_index,
                "ssrc": stream.ssrc,
                "score": stream.stats.score,
            }
            if stream.rid is not None:
                entry["rid"] = stream.rid
            result.append(entry)
        return result

    def _create_stream(self, packet: RtpPacket) -> tuple[ReceiveStream, bool] | None:
        """Match a packet of a new SSRC to an encoding by SSRC, RID or payload type."""
        is_rtx = packet.payload_type in self.rtx_payload_types
        index: int | None = None
        for position, encoding in enumerate(self.encodings):
            if encoding.get("ssrc") == packet.ssrc:
                index, is_rtx = position, False
            elif encoding.get("rtx", {}).get("ssrc") == packet.ssrc:
                index, is_rtx = position, True
            if index is not None:
                break
        if index is None:
            rid = self._read_rid(packet, is_rtx)
            if rid is not None:
                for position, encoding in enumerate(self.encodings):
                    if encoding.get("rid") == rid:
                        index = position
                        break
        if index is None and len(self.encodings) == 1 and self.encodings[0].get("rid") is None:
            signalled = self.encodings[0].get("ssrc")
            if signalled is None or is_rtx:
                index = 0
        if index is None:
            return None
        stream = self.streams[index]
        if stream is None:
            if is_rtx:
                # RTX before any media packet of its encoding cannot be unwrapped yet.
                return None
            stream = ReceiveStream(
                encoding_index=index,
                ssrc=packet.ssrc,
                mapped_ssrc=self.mapped_ssrcs[index],
                rid=self.encodings[index].get("rid"),
                stats=ReceiveStreamStats(packet.ssrc, self.clock_rate),
                nack=(
                    NackGenerator(has_rtx=bool(self.rtx_payload_types))
                    if self._supports_nack
                    else None
                ),
            )
            self.streams[index] = stream
        elif is_rtx:
            stream.rtx_ssrc = packet.ssrc
        elif stream.ssrc != packet.ssrc:
            # The sender restarted the encoding with a new SSRC.
            self.streams_by_ssrc.pop(stream.ssrc, None)
            stream.ssrc = packet.ssrc
        self.streams_by_ssrc[packet.ssrc] = (stream, is_rtx)
        self._router.learn_ssrc(self, packet.ssrc)
        if not is_rtx:
            # A new stream changes the list of scores the control plane reports.
            self._router.on_producer_score(self)
        return stream, is_rtx

    def _read_rid(self, packet: RtpPacket, is_rtx: bool) -> str | None:
        extension_id = self.rrid_extension_id if is_rtx else self.rid_extension_id
        value = packet.extensions.get(extension_id) if extension_id else None
        if value is None:
            return None
        try:
            return read_rid(value)
        except ValueError:
            return None

    def request_key_frame(self, now: float, encoding_index: int | None = None) -> None:
        """Ask the sender for a key frame on one encoding (all when None), throttled."""
        if self.kind != "video" or self.paused:
            return
        for stream in self.streams:
            if stream is None:
                continue
            if encoding_index is not None and stream.encoding_index != encoding_index:
                continue
            for request in self.key_frame_requests.key_frame_needed(stream.ssrc, now):
                self._send_key_frame_request(
                    request.ssrc, request.fir_sequence_number, request.to_rtcp()
                )

    def handle_timeout(self, now: float) -> None:
        for request in self.key_frame_requests.handle_timeout(now):
            self._send_key_frame_request(
                request.ssrc, request.fir_sequence_number, request.to_rtcp()
            )

    def _send_key_frame_request(self, ssrc: int, fir_sequence: int | None, rtcp: bytes) -> None:
        kind = "pli" if fir_sequence is None else "fir"
        found = self.streams_by_ssrc.get(ssrc)
        if found is not None:
            if kind == "pli":
                found[0].pli_count += 1
            else:
                found[0].fir_count += 1
        if kind in self.trace_event_types:
            self.trace(kind, "out", {"ssrc": ssrc})
        self.send_rtcp(rtcp)

    def trace(self, event_type: str, direction: str, info: dict[str, Any]) -> None:
        """Send a `trace` event; only for the types enabled with enableTraceEvent."""
        self._router.channel.notify(
            self.id,
            "trace",
            {
                "type": event_type,
                "timestamp": int(time.time() * 1000),
                "direction": direction,
                "info": info,
            },
        )

    def _drop(self, reason: str) -> None:
        self.drop_counters[reason] = self.drop_counters.get(reason, 0) + 1

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "rtpParameters": self.rtp_parameters,
            "rtpMapping": self.rtp_mapping,
            "rtpStreams": [
                {
                    "ssrc": s.ssrc,
                    "rtxSsrc": s.rtx_ssrc,
                    "rid": s.rid,
                    "encodingIdx": s.encoding_index,
                }
                for s in self.streams
                if s is not None
            ],
            "paused": self.paused,
            "traceEventTypes": self.trace_event_types,
            "dropCounters": dict(self.drop_counters),
        }

    def get_stats(self) -> list[dict[str, Any]]:
        timestamp = int(time.time() * 1000)
        stats = []
        for stream in self.streams:
            if stream is None:
                continue
            entry: dict[str, Any] = {
                "type": "inbound-rtp",
                "timestamp": timestamp,
                "ssrc": stream.ssrc,
                "kind": self.kind,
                "mimeType": self.mime_type,
                "packetCount": stream.packet_count,
                "byteCount": stream.byte_count,
                "bitrate": stream.bitrate,
                "packetsRetransmitted": stream.retransmitted_count,
                "keyFrameCount": stream.key_frame_count,
                "encodingIdx": stream.encoding_index,
                "pliCount": stream.pli_count,
                "firCount": stream.fir_count,
                "packetsDiscarded": stream.stats.packets_discarded,
                "packetsLost": stream.stats.packets_lost,
                "fractionLost": stream.stats.fraction_lost,
                "jitter": stream.stats.jitter,
                "packetsRepaired": stream.stats.packets_repaired,
                "nackCount": stream.nack.nack_count if stream.nack else 0,
                "nackPacketCount": stream.nack.nack_packet_count if stream.nack else 0,
                "score": stream.stats.score,
            }
            if stream.stats.rtt is not None:
                entry["roundTripTime"] = stream.stats.rtt * 1000
            if stream.rtx_ssrc is not None:
                entry["rtxSsrc"] = stream.rtx_ssrc
            if stream.rid is not None:
                entry["rid"] = stream.rid
            stats.append(entry)
        return stats


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


def _packet_info(packet: RtpPacket, is_key_frame: bool) -> dict[str, Any]:
    return {
        "ssrc": packet.ssrc,
        "payloadType": packet.payload_type,
        "sequenceNumber": packet.sequence_number,
        "timestamp": packet.timestamp,
        "marker": packet.marker,
        "size": len(packet.buffer),
        "isKeyFrame": is_key_frame,
    }

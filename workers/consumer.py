"""A consumer as the worker keeps it: one producer's media sent out of a transport.

Forwarding rewrites each packet to the consumer's SSRC and a contiguous sequence number.
After the consumer becomes active (transport connected, neither side paused) video is held
back until a key frame arrives, and a key frame is requested.
"""

import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from workers.errors import InvalidParameterError, UnsupportedError
from workers.producer import ForwardedPacket, _packet_info, _trace_types
from workers.retransmission import RetransmissionBuffer
from workers.rtcp import ReportBlock, build_sender_report, ntp_from_seconds
from workers.rtp import (
    URI_ABS_SEND_TIME,
    URI_TRANSPORT_CC,
    encode_abs_send_time,
    rewrite_packet,
    set_extension_value,
)
from workers.seq_manager import SeqManager
from workers.stream_stats import SendStreamStats

if TYPE_CHECKING:
    from workers.channel_server import ChannelServer

# Seconds a consumer waits for a requested key frame before it requests one again.
KEY_FRAME_RETRY = 1.0
# mediasoup omits a sender report when the stream sent nothing for this long (seconds).
SENDER_REPORT_MAX_IDLE = 2.0


class ConsumerLinks:
    """Callbacks into the consumer's transport and producer (no references to them)."""

    def __init__(
        self,
        send_rtp: Callable[[bytes], None],
        transport_connected: Callable[[], bool],
        next_transport_sequence_number: Callable[[], int],
        request_key_frame: Callable[[float, int | None], None],
        producer_stats: Callable[[], list[dict[str, Any]]] = list,
        encoding_active: Callable[[int, float], bool] = lambda _index, _now: True,
    ) -> None:
        self.producer_stats = producer_stats
        self.encoding_active = encoding_active
        self.send_rtp = send_rtp
        self.transport_connected = transport_connected
        self.next_transport_sequence_number = next_transport_sequence_number
        self.request_key_frame = request_key_frame


class Consumer:
    def __init__(
        self,
        channel: "ChannelServer",
        transport_id: str,
        data: dict[str, Any],
        links: ConsumerLinks,
        clock: Callable[[], float],
    ) -> None:
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
        self._links = links
        self._clock = clock
        encoding = self.rtp_parameters["encodings"][0]
        self.ssrc: int = encoding["ssrc"]
        # A pipe consumer sends every producer encoding on its own SSRC, sequence numbers
        # and timestamps unchanged; the pipe producer on the other router rewrites them.
        self.pipe_ssrcs: list[int] = [e["ssrc"] for e in self.rtp_parameters["encodings"]]
        self.rtx_ssrc: int | None = encoding.get("rtx", {}).get("ssrc")
        self.mid_bytes = str(self.rtp_parameters.get("mid", "")).encode() or None
        self.cname: str = self.rtp_parameters.get("rtcp", {}).get("cname", "")
        self.payload_types = {codec["payloadType"] for codec in self.rtp_parameters["codecs"]}
        self.clock_rate: int = self.rtp_parameters["codecs"][0]["clockRate"]
        uris = {extension["uri"] for extension in self.rtp_parameters.get("headerExtensions", [])}
        self.uses_abs_send_time = URI_ABS_SEND_TIME in uris
        self.uses_transport_cc = URI_TRANSPORT_CC in uris
        self.seq_manager = SeqManager(first_output=_random_first_seq())
        self.sync_required = True
        self.was_active = False
        # Simulcast switching: the next sync moves to another encoding's timeline.
        self.layer_switch = False
        self.timestamp_offset = 0
        self.last_marker = True
        self.key_frame_requested_at = 0.0
        # Simulcast: the encoding currently forwarded and the one to switch to.
        self.current_encoding: int | None = None
        self.target_encoding = self._initial_target()
        self.last_rtp_timestamp = 0
        self.bitrate_window_start = 0.0
        self.bitrate_window_bytes = 0
        self.bitrate = 0
        self.key_frame_requests_received = 0
        self.drop_counters: dict[str, int] = {}
        self.send_stats = SendStreamStats(self.ssrc)
        self.producer_scores: list[dict[str, Any]] = []
        self.retransmission = self._make_retransmission_buffer()
        self.abs_send_time_id, self.transport_cc_id = _generated_extension_ids(self.rtp_parameters)

    def _make_retransmission_buffer(self) -> RetransmissionBuffer | None:
        """Keep sent packets for NACKs when the receiver negotiated plain `nack`."""
        codec = self.rtp_parameters["codecs"][0]
        feedback = codec.get("rtcpFeedback", [])
        if not any(fb.get("type") == "nack" and not fb.get("parameter") for fb in feedback):
            return None
        kind: Literal["audio", "video"] = "video" if self.kind == "video" else "audio"
        rtx_codec = next(
            (c for c in self.rtp_parameters["codecs"] if c["mimeType"].lower().endswith("/rtx")),
            None,
        )
        if rtx_codec is not None and self.rtx_ssrc is not None:
            return RetransmissionBuffer(
                kind, rtx_payload_type=rtx_codec["payloadType"], rtx_ssrc=self.rtx_ssrc
            )
        return RetransmissionBuffer(kind)

    def _initial_target(self) -> int:
        count = len(self.consumable_rtp_encodings)
        if self.preferred_layers is not None:
            return min(self.preferred_layers.get("spatialLayer", count - 1), count - 1)
        return count - 1

    @property
    def packet_count(self) -> int:
        return self.send_stats.packets_sent

    @property
    def byte_count(self) -> int:
        return self.send_stats.octets_sent

    @property
    def last_sent_at(self) -> float:
        return self.send_stats.last_sent_at or 0.0

    @property
    def active(self) -> bool:
        return self._links.transport_connected() and not self.paused and not self.producer_paused

    def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "consumer.dump":
            return self.dump()
        if method == "consumer.getStats":
            return self.get_stats()
        if method == "consumer.pause":
            self.paused = True
            self.update_active()
            return None
        if method == "consumer.resume":
            self.paused = False
            self.update_active()
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
            self.request_key_frame()
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
        target = min(spatial, len(self.consumable_rtp_encodings) - 1)
        if target != self.target_encoding:
            self.target_encoding = target
            self.request_key_frame()
        return self.preferred_layers

    def set_producer_paused(self, paused: bool) -> None:
        if paused == self.producer_paused:
            return
        self.producer_paused = paused
        self._channel.notify(self.id, "producerpause" if paused else "producerresume")
        self.update_active()

    def update_active(self) -> None:
        """Re-sync on the next key frame whenever the consumer becomes active."""
        if self.type == "pipe":
            self.was_active = self.active
            return
        active = self.active
        if not active and self.was_active and self.retransmission is not None:
            self.retransmission.clear()
        if active and not self.was_active:
            self.sync_required = True
            self.request_key_frame()
        self.was_active = active

    def request_key_frame(self) -> None:
        if self.kind != "video" or not self.active:
            return
        encoding = self.target_encoding if self.type == "simulcast" else None
        self.key_frame_requested_at = self._clock()
        self._links.request_key_frame(self.key_frame_requested_at, encoding)

    def on_key_frame_request(self, kind: str = "pli") -> None:
        """Handle a PLI or FIR from the receiving client: ask the producer for a key frame."""
        self.key_frame_requests_received += 1
        if kind in self.trace_event_types:
            self._trace(kind, "in", {"ssrc": self.ssrc})
        self.request_key_frame()

    def _trace(self, event_type: str, direction: str, info: dict[str, Any]) -> None:
        self._channel.notify(
            self.id,
            "trace",
            {
                "type": event_type,
                "timestamp": int(time.time() * 1000),
                "direction": direction,
                "info": info,
            },
        )

    def send(self, forwarded: ForwardedPacket) -> None:
        """Forward one producer packet to the client, or account it as dropped."""
        packet = forwarded.packet
        # `was_active` is what update_active() last computed; every change of the inputs of
        # `active` (pause, producer pause, transport connection) calls update_active().
        if not self.was_active:
            return

        if self.type == "pipe":
            self._send_piped(forwarded)
            return
        if self.type == "simulcast" and not self._select_encoding(forwarded):
            return

        if self.sync_required:
            if self.kind == "video" and not forwarded.is_key_frame:
                self._drop("waiting_for_key_frame")
                # A sender may ignore a request that comes soon after its last key frame
                # (libwebrtc does), so keep asking while waiting; the producer throttles.
                if forwarded.received_at - self.key_frame_requested_at > KEY_FRAME_RETRY:
                    self.request_key_frame()
                return
            self._sync(packet, forwarded.received_at)

        if packet.payload_type not in self.payload_types:
            self.seq_manager.drop(packet.sequence_number)
            self._drop("payload_type")
            return
        sequence_number = self.seq_manager.input(packet.sequence_number)
        if sequence_number is None:
            self._drop("old_sequence_number")
            return

        # The packet is sent within microseconds of its arrival, in the same loop callback.
        now = forwarded.received_at
        block = forwarded.extensions.build(
            mid=self.mid_bytes,
            now=now + _NTP_OFFSET if self.uses_abs_send_time else None,
            transport_sequence_number=(
                self._links.next_transport_sequence_number() if self.uses_transport_cc else None
            ),
        )
        timestamp = (packet.timestamp + self.timestamp_offset) & 0xFFFFFFFF
        data = rewrite_packet(
            packet,
            payload_type=packet.payload_type,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=self.ssrc,
            extension_block=block,
        )

        if self.retransmission is not None:
            self.retransmission.store(now, sequence_number, data)
        self.send_stats.on_packet_sent(now, sequence_number, len(data))
        if self.trace_event_types:
            self._trace_sent(packet, forwarded.is_key_frame, sequence_number)
        self._links.send_rtp(data)

        self.last_rtp_timestamp = timestamp
        self.last_marker = packet.marker
        if now - self.bitrate_window_start >= 1.0:
            self._close_bitrate_window(now)
        self.bitrate_window_bytes += len(data)

    def _close_bitrate_window(self, now: float) -> None:
        elapsed = now - self.bitrate_window_start
        self.bitrate = int(self.bitrate_window_bytes * 8 / elapsed) if elapsed < 5 else 0
        self.bitrate_window_start = now
        self.bitrate_window_bytes = 0

    def _trace_sent(self, packet: Any, is_key_frame: bool, sequence_number: int) -> None:
        info = {**_packet_info(packet, is_key_frame), "ssrc": self.ssrc}
        info["sequenceNumber"] = sequence_number
        if "rtp" in self.trace_event_types:
            self._trace("rtp", "out", info)
        if is_key_frame and "keyframe" in self.trace_event_types:
            self._trace("keyframe", "out", info)

    def on_nack(self, now: float, sequence_numbers: list[int]) -> None:
        """Resend what the receiver lost, as RTX when negotiated, with fresh send times."""
        if "nack" in self.trace_event_types:
            self._trace("nack", "in", {"ssrc": self.ssrc, "seqs": sequence_numbers})
        if self.retransmission is None or not self.active:
            return
        for data in self.retransmission.on_nack(now, sequence_numbers):
            packet = bytearray(data)
            if self.abs_send_time_id:
                set_extension_value(
                    packet, self.abs_send_time_id, encode_abs_send_time(now + _NTP_OFFSET)
                )
            if self.transport_cc_id:
                number = self._links.next_transport_sequence_number()
                set_extension_value(packet, self.transport_cc_id, number.to_bytes(2, "big"))
            self._links.send_rtp(bytes(packet))

    def on_receiver_report(self, now: float, block: ReportBlock) -> None:
        """Take a report block about this stream; tell the control plane a new score."""
        buffer = self.retransmission
        changed = self.send_stats.on_receiver_report(
            now,
            block,
            packets_retransmitted=buffer.packets_retransmitted if buffer else 0,
            packets_repaired=buffer.packets_repaired if buffer else 0,
        )
        if buffer is not None and self.send_stats.rtt is not None:
            buffer.set_rtt(self.send_stats.rtt)
        if changed:
            self._notify_score()

    def on_producer_score(self, scores: list[dict[str, Any]]) -> None:
        self.producer_scores = scores
        self._notify_score()

    def media_counters(self) -> dict[str, int]:
        """Return cumulative counters for the worker-wide totals of /metrics."""
        buffer = self.retransmission
        return {
            "nacksReceived": buffer.nack_count if buffer is not None else 0,
            "packetsRetransmitted": buffer.packets_retransmitted if buffer is not None else 0,
            "keyFrameRequestsReceived": self.key_frame_requests_received,
        }

    def score(self) -> dict[str, Any]:
        current = self.current_encoding if self.current_encoding is not None else 0
        producer_score = next(
            (s["score"] for s in self.producer_scores if s["encodingIdx"] == current), 0
        )
        return {
            "score": self.send_stats.score,
            "producerScore": producer_score,
            "producerScores": [s["score"] for s in self.producer_scores],
        }

    def _notify_score(self) -> None:
        self._channel.notify(self.id, "score", self.score())

    def _send_piped(self, forwarded: ForwardedPacket) -> None:
        packet = forwarded.packet
        if forwarded.encoding_index >= len(self.pipe_ssrcs):
            self._drop("encoding_index")
            return
        block = forwarded.extensions.build()
        data = rewrite_packet(
            packet,
            payload_type=packet.payload_type,
            sequence_number=packet.sequence_number,
            timestamp=packet.timestamp,
            ssrc=self.pipe_ssrcs[forwarded.encoding_index],
            extension_block=block,
        )
        self.send_stats.on_packet_sent(forwarded.received_at, packet.sequence_number, len(data))
        self._links.send_rtp(data)
        self.last_rtp_timestamp = packet.timestamp

    def _sync(self, packet: Any, now: float) -> None:
        """Make the next output follow the last one sent, in sequence and in time.

        After a simulcast switch the new encoding has its own sequence numbers and RTP
        timestamps. The timestamp offset places the new key frame at the time that passed
        since the last packet sent (at least one tick later). One sequence number is skipped
        when the last packet sent did not end a frame, so the receiver drops that incomplete
        frame instead of waiting for its missing packets.
        """
        skip = 0
        if self.layer_switch and self.send_stats.packets_sent:
            skip = 0 if self.last_marker else 1
            elapsed = max(0.0, now - self.last_sent_at)
            expected = self.last_rtp_timestamp + max(1, int(elapsed * self.clock_rate))
            self.timestamp_offset = (expected - packet.timestamp) & 0xFFFFFFFF
        self.seq_manager.sync(packet.sequence_number, skip=skip)
        self.sync_required = False
        self.layer_switch = False

    def _select_encoding(self, forwarded: ForwardedPacket) -> bool:
        """Forward one simulcast encoding; switch only on a key frame of the one to use.

        The encoding to use is the preferred one (`target_encoding`) when the producer is
        receiving it, else the highest lower one that it is receiving, so a layer that the
        sender stops (for lack of bandwidth) does not stop the video.
        """
        index = forwarded.encoding_index
        if index == self.current_encoding and index == self.target_encoding:
            return True
        if forwarded.is_key_frame and index != self.current_encoding:
            if index == self._usable_encoding(forwarded.received_at):
                if self.current_encoding is not None:
                    self.sync_required = True
                    self.layer_switch = True
                self.current_encoding = index
                self._channel.notify(
                    self.id, "layerschange", {"spatialLayer": index, "temporalLayer": None}
                )
                return True
        return index == self.current_encoding

    def _usable_encoding(self, now: float) -> int:
        for index in range(self.target_encoding, 0, -1):
            if self._links.encoding_active(index, now):
                return index
        return 0

    def sender_report(self, now: float) -> bytes | None:
        """Build an SR and SDES CNAME for lip sync (RFC 3550 §6.4.1), or None when idle."""
        if self.packet_count == 0 or now - self.last_sent_at > SENDER_REPORT_MAX_IDLE:
            return None
        elapsed = now - self.last_sent_at
        rtp_timestamp = (self.last_rtp_timestamp + int(elapsed * self.clock_rate)) & 0xFFFFFFFF
        return build_sender_report(
            self.ssrc,
            ntp_from_seconds(now),
            rtp_timestamp,
            self.packet_count & 0xFFFFFFFF,
            self.byte_count & 0xFFFFFFFF,
            cname=self.cname or None,
        )

    def _drop(self, reason: str) -> None:
        self.drop_counters[reason] = self.drop_counters.get(reason, 0) + 1

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "producerId": self.producer_id,
            "kind": self.kind,
            "type": self.type,
            "rtpParameters": self.rtp_parameters,
            "consumableRtpEncodings": self.consumable_rtp_encodings,
            "supportedCodecPayloadTypes": sorted(self.payload_types),
            "paused": self.paused,
            "producerPaused": self.producer_paused,
            "priority": self.priority,
            "preferredLayers": self.preferred_layers,
            "currentEncoding": self.current_encoding,
            "traceEventTypes": self.trace_event_types,
            "dropCounters": dict(self.drop_counters),
        }

    def get_stats(self) -> list[dict[str, Any]]:
        """Return this stream's outbound-rtp entry, then the forwarded producer stream's."""
        current = self.current_encoding if self.current_encoding is not None else 0
        inbound = [
            entry
            for entry in self._links.producer_stats()
            if entry.get("encodingIdx", 0) == current
        ]
        return [
            {
                "type": "outbound-rtp",
                "timestamp": int(time.time() * 1000),
                "ssrc": self.ssrc,
                "rtxSsrc": self.rtx_ssrc,
                "kind": self.kind,
                "mimeType": self.rtp_parameters["codecs"][0]["mimeType"],
                "packetCount": self.packet_count,
                "byteCount": self.byte_count,
                "bitrate": self.bitrate,
                "pliCount": self.key_frame_requests_received,
                "packetsLost": self.send_stats.packets_lost,
                "fractionLost": self.send_stats.fraction_lost,
                "jitter": self.send_stats.jitter,
                "roundTripTime": (
                    self.send_stats.rtt * 1000 if self.send_stats.rtt is not None else None
                ),
                "nackCount": self.retransmission.nack_count if self.retransmission else 0,
                "nackPacketCount": (
                    self.retransmission.nack_packet_count if self.retransmission else 0
                ),
                "packetsRetransmitted": (
                    self.retransmission.packets_retransmitted if self.retransmission else 0
                ),
                "score": self.send_stats.score,
            },
            *inbound[:1],
        ]


# abs-send-time counts from the NTP epoch; only the value modulo 64 s is sent.
_NTP_OFFSET = 2208988800.0


def _random_first_seq() -> int:
    return secrets.randbelow(1 << 15) + 1


def _generated_extension_ids(rtp_parameters: dict[str, Any]) -> tuple[int, int]:
    """Return the abs-send-time and transport-cc extension ids the consumer negotiated."""
    ids = {e["uri"]: e["id"] for e in rtp_parameters.get("headerExtensions", [])}
    return ids.get(URI_ABS_SEND_TIME, 0), ids.get(URI_TRANSPORT_CC, 0)

"""Base of the worker-side transports: producers, consumers, requests and the RTP path."""

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from workers.consumer import Consumer, ConsumerLinks
from workers.errors import InvalidParameterError, InvalidStateError, UnsupportedError
from workers.params import require
from workers.producer import Producer, _trace_types
from workers.remb import RembEstimator
from workers.rtcp import (
    Fir,
    GenericNack,
    Pli,
    ReceiverReport,
    SenderReport,
    read_compound,
)
from workers.rtp import (
    RtpPacket,
    read_abs_send_time,
    read_mid,
    read_rid,
    read_transport_sequence_number,
)
from workers.transport_cc import TransportCcFeedbackGenerator

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
        self.drop_counters: dict[str, int] = {}
        # RTP listener: which producer a packet belongs to (PROTOCOL order: SSRC, MID, RID).
        self.producers_by_ssrc: dict[int, Producer] = {}
        self.producers_by_mid: dict[str, Producer] = {}
        self.producers_by_rid: dict[str, Producer] = {}
        self.consumers_by_ssrc: dict[int, Consumer] = {}
        self._transport_sequence_number = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.rtp_packets_received = 0
        self.rtp_packets_sent = 0
        self._rate_mark = (time.time(), 0, 0)
        self._rtcp_timer: asyncio.TimerHandle | None = None
        self._feedback_timer: asyncio.TimerHandle | None = None
        # Uplink congestion feedback for the sending client: transport-cc when any producer
        # negotiated it, else REMB for video producers that negotiated goog-remb.
        self.transport_cc: TransportCcFeedbackGenerator | None = None
        self.transport_cc_extension_id = 0
        self.remb: RembEstimator | None = None
        self.abs_send_time_extension_id = 0
        # Arrivals before the first producer: a browser starts sending (and probing its
        # bandwidth) before its produce request arrives, and those packets need feedback.
        self._early_arrivals: deque[tuple[float, RtpPacket]] = deque(maxlen=EARLY_ARRIVALS)

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
            if method == "transport.setMaxIncomingBitrate" and self.remb is not None:
                self.remb.set_max_incoming_bitrate(value)
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
        producer.send_rtcp = self.send_rtcp
        self._enable_feedback(producer)
        if self.connected:
            self._start_feedback_timer()
        for ssrc in producer.ssrcs():
            self.producers_by_ssrc[ssrc] = producer
        if producer.mid is not None:
            self.producers_by_mid[producer.mid] = producer
        for rid in producer.rids():
            self.producers_by_rid[rid] = producer
        return {"type": producer.type}

    def _consume(self, data: dict[str, Any]) -> dict[str, Any]:
        require(data, "consumerId", str)
        producer = self.router.get_producer(require(data, "producerId", str))
        data = {**data, "producerPaused": producer.paused}
        links = ConsumerLinks(
            send_rtp=self.send_rtp,
            transport_connected=lambda: self.connected,
            next_transport_sequence_number=self._next_transport_sequence_number,
            request_key_frame=producer.request_key_frame,
            producer_stats=producer.get_stats,
            encoding_active=producer.encoding_active,
        )
        # Media-level engines (statistics, NACK, key-frame requests) run on wall-clock time,
        # which also stamps sender reports; ICE and DTLS use the event loop's clock.
        consumer = Consumer(self.router.channel, self.id, data, links, time.time)
        self.router.add_consumer(consumer)
        self.consumers[consumer.id] = consumer
        self.consumers_by_ssrc[consumer.ssrc] = consumer
        if consumer.rtx_ssrc is not None:
            self.consumers_by_ssrc[consumer.rtx_ssrc] = consumer
        consumer.update_active()
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
        self.forget_producer(producer)

    def _enable_feedback(self, producer: Producer) -> None:
        if producer.wants_transport_cc and self.transport_cc is None:
            self.transport_cc = TransportCcFeedbackGenerator(sender_ssrc=RECEIVER_SSRC)
            self.transport_cc_extension_id = producer.transport_cc_extension_id
            self.remb = None
            for arrived_at, packet in self._early_arrivals:
                self._record_arrival(arrived_at, packet, 0)
        elif producer.wants_remb and self.transport_cc is None and self.remb is None:
            self.remb = RembEstimator(
                sender_ssrc=RECEIVER_SSRC, max_bitrate=self.max_incoming_bitrate
            )
            self.abs_send_time_extension_id = producer.abs_send_time_extension_id
        self._early_arrivals.clear()

    def _record_arrival(self, now: float, packet: RtpPacket, size: int) -> None:
        """Feed the uplink estimators with one received packet (known producer or not)."""
        if self.transport_cc is not None:
            value = packet.extensions.get(self.transport_cc_extension_id)
            if value is not None:
                try:
                    number = read_transport_sequence_number(value)
                except ValueError:
                    return
                if self.transport_cc.on_packet(now, number, packet.ssrc):
                    self._send_transport_cc(now)
        elif self.remb is not None:
            send_time = None
            value = packet.extensions.get(self.abs_send_time_extension_id)
            if value is not None:
                try:
                    send_time = read_abs_send_time(value)
                except ValueError:
                    send_time = None
            self.remb.on_packet(now, packet.ssrc, size, send_time)

    def _send_transport_cc(self, now: float) -> None:
        assert self.transport_cc is not None
        for feedback in self.transport_cc.poll(now):
            self.send_rtcp(feedback)

    def forget_producer(self, producer: Producer) -> None:
        for ssrc in [key for key, value in self.producers_by_ssrc.items() if value is producer]:
            del self.producers_by_ssrc[ssrc]
        for name in [key for key, value in self.producers_by_mid.items() if value is producer]:
            del self.producers_by_mid[name]
        for rid in [key for key, value in self.producers_by_rid.items() if value is producer]:
            del self.producers_by_rid[rid]

    def _close_consumer(self, consumer_id: str) -> None:
        consumer = self.consumers.get(consumer_id)
        if consumer is None:
            raise InvalidStateError(f"consumer {consumer_id!r} not found in transport {self.id}")
        self.forget_consumer(consumer_id)
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
        self.consumers_by_ssrc.clear()
        self.stop_rtcp_timer()
        self.close_network()

    def close_network(self) -> None:
        """Release sockets; subclasses override."""

    def forget_consumer(self, consumer_id: str) -> None:
        consumer = self.consumers.pop(consumer_id, None)
        if consumer is not None:
            self.consumers_by_ssrc.pop(consumer.ssrc, None)
            if consumer.rtx_ssrc is not None:
                self.consumers_by_ssrc.pop(consumer.rtx_ssrc, None)

    # --- Media path shared by every transport type ------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether media can be sent (DTLS connected, or a plain transport with a peer)."""
        return False

    def send_rtp(self, data: bytes) -> None:
        """Send one RTP packet to the remote side; subclasses encrypt and write it."""

    def send_rtcp(self, data: bytes) -> None:
        """Send one compound RTCP packet to the remote side; subclasses override."""

    def _next_transport_sequence_number(self) -> int:
        self._transport_sequence_number = (self._transport_sequence_number + 1) & 0xFFFF
        return self._transport_sequence_number

    def media_counters(self) -> dict[str, int]:
        """Return the transport's own cumulative counters (producers and consumers apart)."""
        counters = {
            "rtpPacketsReceived": self.rtp_packets_received,
            "rtpPacketsSent": self.rtp_packets_sent,
            "bytesReceived": self.bytes_received,
            "bytesSent": self.bytes_sent,
        }
        for reason, count in self.all_drop_counters().items():
            counters[f"dropped.{reason}"] = count
        return counters

    def all_drop_counters(self) -> dict[str, int]:
        """Drops by reason; transports with engines of their own add theirs."""
        return dict(self.drop_counters)

    def bitrates(self) -> dict[str, int]:
        """Return receive and send bitrates (bit/s) over the time since the last call."""
        now = time.time()
        elapsed = now - self._rate_mark[0]
        received = self.bytes_received - self._rate_mark[1]
        sent = self.bytes_sent - self._rate_mark[2]
        self._rate_mark = (now, self.bytes_received, self.bytes_sent)
        if elapsed <= 0:
            return {"recvBitrate": 0, "sendBitrate": 0}
        return {
            "recvBitrate": int(received * 8 / elapsed),
            "sendBitrate": int(sent * 8 / elapsed),
        }

    def drop(self, reason: str) -> None:
        self.drop_counters[reason] = self.drop_counters.get(reason, 0) + 1

    def receive_rtp(self, now: float, data: bytes) -> None:
        """Route one decrypted RTP packet to its producer; drop and count what fails."""
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            self.drop("malformed_rtp")
            return
        self.rtp_packets_received += 1
        if self.transport_cc is not None or self.remb is not None:
            self._record_arrival(now, packet, len(data))
        elif not self.producers:
            self._early_arrivals.append((now, packet))
        producer = self.producers_by_ssrc.get(packet.ssrc) or self._find_producer(packet)
        if producer is None:
            self.drop("unknown_producer")
            return
        if producer.receive_rtp(now, packet) is None:
            self.drop("producer_rejected")

    def _find_producer(self, packet: RtpPacket) -> Producer | None:
        """Find the producer of a new SSRC by MID, then (only without MID) by RID."""
        for producer in self.producers.values():
            extension_id = producer.mid_extension_id
            value = packet.extensions.get(extension_id) if extension_id else None
            if value is not None:
                try:
                    return self.producers_by_mid.get(read_mid(value))
                except ValueError:
                    return None
        for producer in self.producers.values():
            for extension_id in (producer.rid_extension_id, producer.rrid_extension_id):
                value = packet.extensions.get(extension_id) if extension_id else None
                if value is None:
                    continue
                try:
                    found = self.producers_by_rid.get(read_rid(value))
                except ValueError:
                    return None
                if found is not None:
                    return found
        # A single producer of the packet's kind with unsignalled SSRCs takes the stream.
        candidates = [
            producer
            for producer in self.producers.values()
            if not producer.ssrcs()
            and not producer.rids()
            and packet.payload_type in producer.mapped_payload_types
        ]
        return candidates[0] if len(candidates) == 1 else None

    def learn_ssrc(self, producer: Producer, ssrc: int) -> None:
        self.producers_by_ssrc[ssrc] = producer

    def receive_rtcp(self, now: float, data: bytes) -> None:
        """Handle one decrypted compound RTCP packet from the remote side."""
        result = read_compound(data)
        if result.errors:
            self.drop("malformed_rtcp")
        for packet in result.packets:
            if isinstance(packet, GenericNack):
                consumer = self.consumers_by_ssrc.get(packet.media_ssrc)
                if consumer is not None:
                    consumer.on_nack(now, packet.sequence_numbers())
            elif isinstance(packet, (ReceiverReport, SenderReport)):
                for block in packet.reports:
                    consumer = self.consumers_by_ssrc.get(block.ssrc)
                    if consumer is not None:
                        consumer.on_receiver_report(now, block)
                if isinstance(packet, SenderReport):
                    producer = self.producers_by_ssrc.get(packet.ssrc)
                    if producer is not None:
                        producer.on_sender_report(now, packet)
            elif isinstance(packet, Pli):
                consumer = self.consumers_by_ssrc.get(packet.media_ssrc)
                if consumer is not None:
                    consumer.on_key_frame_request()
            elif isinstance(packet, Fir):
                for ssrc, _sequence_number in packet.entries:
                    consumer = self.consumers_by_ssrc.get(ssrc)
                    if consumer is not None:
                        consumer.on_key_frame_request("fir")

    def start_rtcp_timer(self) -> None:
        """Send sender reports for consumers about once a second while connected."""
        if self._rtcp_timer is not None or self.closed:
            return
        loop = asyncio.get_running_loop()
        self._rtcp_timer = loop.call_later(0.5, self._on_rtcp_timer)
        self._start_feedback_timer()

    def _start_feedback_timer(self) -> None:
        """Run the NACK and congestion feedback timer while producers exist and connected."""
        if self._feedback_timer is not None or self.closed or not self.producers:
            return
        loop = asyncio.get_running_loop()
        self._feedback_timer = loop.call_later(FEEDBACK_INTERVAL, self._on_feedback_timer)

    def _on_rtcp_timer(self) -> None:
        self._rtcp_timer = None
        if self.closed or not self.connected:
            return
        now = time.time()
        reports = [consumer.sender_report(now) for consumer in self.consumers.values()]
        compound = b"".join(report for report in reports if report is not None)
        if compound:
            self.send_rtcp(compound)
        blocks = [block for p in self.producers.values() for block in p.report_blocks(now)]
        # RFC 3550 §6.4.2 allows at most 31 report blocks per RR packet.
        for start in range(0, len(blocks), 31):
            report = ReceiverReport(RECEIVER_SSRC, blocks[start : start + 31])
            self.send_rtcp(bytes(report))
        for producer in self.producers.values():
            producer.handle_timeout(now)
        loop = asyncio.get_running_loop()
        self._rtcp_timer = loop.call_later(1.0, self._on_rtcp_timer)

    def _on_feedback_timer(self) -> None:
        """Send due NACKs towards senders; runs every FEEDBACK_INTERVAL while connected."""
        self._feedback_timer = None
        if self.closed or not self.connected:
            return
        now = time.time()
        for producer in self.producers.values():
            producer.poll_nacks(now)
        if self.transport_cc is not None:
            due = self.transport_cc.next_timeout()
            if due is not None and due <= now:
                self._send_transport_cc(now)
        elif self.remb is not None:
            remb = self.remb.poll(now)
            if remb is not None:
                self.send_rtcp(remb)
        self._start_feedback_timer()

    def stop_rtcp_timer(self) -> None:
        if self._rtcp_timer is not None:
            self._rtcp_timer.cancel()
            self._rtcp_timer = None
        if self._feedback_timer is not None:
            self._feedback_timer.cancel()
            self._feedback_timer = None

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
            "dropCounters": dict(self.drop_counters),
        }

    def get_stats(self) -> list[dict[str, Any]]:
        return []


# Packets remembered for congestion feedback while no producer exists yet: enough for the
# first second of a browser's bandwidth probing.
EARLY_ARRIVALS = 1000
# SSRC this transport writes as the sender of its receiver reports.
RECEIVER_SSRC = 1
# Period of the timer that sends due NACKs and transport-cc feedback, in seconds. The NACK
# generator waits at least 10 ms after a loss, so 20 ms keeps requests prompt.
FEEDBACK_INTERVAL = 0.02

_BITRATE_METHODS = {
    "transport.setMaxIncomingBitrate": "max_incoming_bitrate",
    "transport.setMaxOutgoingBitrate": "max_outgoing_bitrate",
    "transport.setMinOutgoingBitrate": "min_outgoing_bitrate",
}

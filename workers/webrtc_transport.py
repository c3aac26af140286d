"""WebRtcTransport inside a worker: ICE-lite, DTLS and SRTP over UDP or passive TCP."""

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from workers.demux import MAX_DATAGRAM_SIZE, classify
from workers.dtls import DtlsSession, DtlsStateChange
from workers.errors import InvalidParameterError, InvalidStateError
from workers.ice_server import (
    IceSelectedTupleChanged,
    IceServer,
    IceStateChanged,
    IceTupleAdded,
    IceTupleRemoved,
    generate_ice_credentials,
)
from workers.listen_info import ListenInfo, bind_socket
from workers.network import TcpServer, UdpEndpoint
from workers.params import optional, require
from workers.srtp import SrtpContext, SrtpError, srtp_context_from_keys
from workers.tcp_framing import FrameDecoder, TcpFramingError, frame
from workers.transport import Transport
from workers.transport_tuple import TransportTuple

if TYPE_CHECKING:
    from workers.router import Router
    from workers.webrtc_server import WebRtcServer

Sender = Callable[[bytes], None]


def candidate_priority(local_preference: int) -> int:
    """Host candidate priority (RFC 8445 §5.1.2.1): type preference 64, component 1."""
    return (64 << 24) + (local_preference << 8) + 255


class WebRtcTransport(Transport):
    type = "webrtc"

    def __init__(self, router: "Router", data: dict[str, Any]) -> None:
        super().__init__(router, data)
        self.username_fragment, self.password = generate_ice_credentials()
        self.ice_state = "new"
        self.ice_selected_tuple: TransportTuple | None = None
        self.dtls_state = "new"
        self.dtls_role = "auto"
        self.dtls_remote_parameters: dict[str, Any] | None = None
        self.ice_consent_timeout = _consent_timeout(data.get("iceConsentTimeout", 30))
        self.ice = IceServer(self.username_fragment, self.password, self.ice_consent_timeout)
        self.dtls: DtlsSession | None = None
        self.srtp: SrtpContext | None = None
        # Send function per tuple validated by ICE: a UDP sendto or a framed TCP write.
        self.senders: dict[TransportTuple, Sender] = {}
        # The sender of the selected tuple, kept for the per-packet path.
        self._selected_send: Sender | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self.enable_udp = optional(data, "enableUdp", bool, True)
        self.enable_tcp = optional(data, "enableTcp", bool, False)
        self.prefer_udp = optional(data, "preferUdp", bool, False)
        self.prefer_tcp = optional(data, "preferTcp", bool, False)
        self.udp_endpoints: list[UdpEndpoint] = []
        self.tcp_servers: list[TcpServer] = []
        self.ice_candidates: list[dict[str, Any]] = []
        self.web_rtc_server: WebRtcServer | None = None
        self.packets_received = 0

    async def open(self, data: dict[str, Any], default_range: tuple[int, int]) -> None:
        """Bind the sockets of the listen infos (or join the WebRtcServer) and make candidates."""
        if not self.enable_udp and not self.enable_tcp:
            raise InvalidParameterError("at least one of enableUdp and enableTcp must be true")
        server_id = data.get("webRtcServerId")
        if server_id is not None:
            server = self.router.worker.get_webrtc_server(require(data, "webRtcServerId", str))
            self.web_rtc_server = server
            server.attach(self)
            enabled = [
                (info, info.port)
                for info in server.listen_infos_with_ports()
                if (info.protocol == "udp" and self.enable_udp)
                or (info.protocol == "tcp" and self.enable_tcp)
            ]
            if not enabled:
                raise InvalidParameterError(
                    "the WebRtcServer has no listen info for the enabled protocols "
                    "(enableUdp/enableTcp)"
                )
            self.ice_candidates = self._make_candidates(enabled)
            return
        infos = data.get("listenInfos")
        if not isinstance(infos, list) or not infos:
            raise InvalidParameterError(f"listenInfos must be a non-empty list, got {infos!r}")
        parsed = [
            ListenInfo.parse(info, field=f"listenInfos[{index}]")
            for index, info in enumerate(infos)
        ]
        bound: list[tuple[ListenInfo, int]] = []
        try:
            for info in parsed:
                if (info.protocol == "udp" and not self.enable_udp) or (
                    info.protocol == "tcp" and not self.enable_tcp
                ):
                    continue
                sock = bind_socket(info, default_range)
                port = sock.getsockname()[1]
                if info.protocol == "udp":
                    endpoint = UdpEndpoint(sock, self.receive_packet)
                    self.udp_endpoints.append(endpoint)
                    await endpoint.start()
                else:
                    tcp_server = TcpServer(sock, self._tcp_connection_factory())
                    self.tcp_servers.append(tcp_server)
                    await tcp_server.start()
                bound.append((info, port))
        except Exception:
            self.close_network()
            raise
        if not bound:
            raise InvalidParameterError(
                "no listenInfo matches the enabled protocols (enableUdp/enableTcp)"
            )
        self.ice_candidates = self._make_candidates(bound)

    def _make_candidates(self, bound: list[tuple[ListenInfo, int]]) -> list[dict[str, Any]]:
        candidates = []
        local_preference = 10000
        for info, port in bound:
            preference = local_preference
            if (self.prefer_udp and info.protocol == "udp") or (
                self.prefer_tcp and info.protocol == "tcp"
            ):
                preference += 1000
            candidate: dict[str, Any] = {
                "foundation": f"{info.protocol}candidate",
                "priority": candidate_priority(preference),
                "ip": info.candidate_address,
                "address": info.candidate_address,
                "protocol": info.protocol,
                "port": port,
                "type": "host",
            }
            if info.protocol == "tcp":
                candidate["tcpType"] = "passive"
            candidates.append(candidate)
            local_preference -= 100
        return candidates

    def _tcp_connection_factory(self) -> Callable[[], asyncio.Protocol]:
        return lambda: TcpConnection(self.receive_packet, self.on_tcp_connection_lost)

    def on_tcp_connection_lost(self, tuple_: TransportTuple) -> None:
        self.senders.pop(tuple_, None)
        self.ice.remove_tuple(tuple_)
        self._process_ice_events()

    # --- Packet path: RFC 7983 demultiplexing, then ICE, DTLS, SRTP --------------------------

    def receive_packet(self, data: bytes, tuple_: TransportTuple, send: Sender) -> None:
        """Entry of every packet that arrives for this transport (UDP datagram or TCP frame)."""
        if self.closed:
            return
        self.packets_received += 1
        self.bytes_received += len(data)
        now = self._loop.time()
        if len(data) > MAX_DATAGRAM_SIZE:
            self.drop("too_large")
            return
        kind = classify(data)
        if kind == "stun":
            self._receive_stun(now, data, tuple_, send)
            return
        if kind is None:
            self.drop("unknown_packet")
            return
        if not self.ice.is_valid_tuple(tuple_):
            self.drop("unvalidated_tuple")
            return
        if kind == "dtls":
            self._receive_dtls(now, data)
        elif self.srtp is None:
            self.drop("srtp_not_ready")
        elif kind == "rtp":
            try:
                plain = self.srtp.unprotect_rtp(data)
            except SrtpError:
                self.drop("srtp_unprotect")
                return
            self.receive_rtp(time.time(), plain)
        else:
            try:
                plain = self.srtp.unprotect_rtcp(data)
            except SrtpError:
                self.drop("srtcp_unprotect")
                return
            self.receive_rtcp(time.time(), plain)

    def _receive_stun(self, now: float, data: bytes, tuple_: TransportTuple, send: Sender) -> None:
        responses = self.ice.handle_stun(now, data, tuple_)
        if self.ice.is_valid_tuple(tuple_):
            self.senders[tuple_] = send
            if tuple_ == self.ice.selected_tuple:
                self._selected_send = send
        for response in responses:
            send(response)
        self._process_ice_events()
        self._arm_timer()

    def _process_ice_events(self) -> None:
        for event in self.ice.pop_events():
            if isinstance(event, IceStateChanged):
                self.ice_state = event.state
                self.router.channel.notify(self.id, "icestatechange", {"iceState": event.state})
                if event.state in ("connected", "completed"):
                    self._maybe_start_dtls()
            elif isinstance(event, IceSelectedTupleChanged):
                self.ice_selected_tuple = event.tuple
                self.router.channel.notify(
                    self.id, "iceselectedtuplechange", {"iceSelectedTuple": event.tuple.to_dict()}
                )
            elif isinstance(event, IceTupleAdded) and self.web_rtc_server is not None:
                self.web_rtc_server.add_tuple(event.tuple, self)
            elif isinstance(event, IceTupleRemoved):
                self.senders.pop(event.tuple, None)
                if self.web_rtc_server is not None:
                    self.web_rtc_server.remove_tuple(event.tuple)
        if self.ice.selected_tuple is None:
            self.ice_selected_tuple = None
            self._selected_send = None
        else:
            self._selected_send = self.senders.get(self.ice.selected_tuple)

    def _maybe_start_dtls(self) -> None:
        """Start DTLS once both ICE has a selected tuple and connect() gave the role."""
        if self.dtls is not None or self.dtls_remote_parameters is None:
            return
        if self.ice.selected_tuple is None:
            return
        role: Literal["client", "server"] = "server" if self.dtls_role == "server" else "client"
        try:
            self.dtls = DtlsSession(
                self.router.worker.certificate, role, self.dtls_remote_parameters["fingerprints"]
            )
        except ValueError as error:
            # Bad signalled fingerprints (sfu.errors.InvalidParameterError is a ValueError).
            self.router.worker.logger.warning(
                "DTLS setup failed", transport=self.id, error=str(error)
            )
            self._set_dtls_state("failed")
            return
        self._send_datagrams(self.dtls.start(self._loop.time()))
        self._process_dtls_events()
        self._arm_timer()

    def _receive_dtls(self, now: float, data: bytes) -> None:
        if self.dtls is None:
            self.drop("dtls_not_started")
            return
        self._send_datagrams(self.dtls.handle_datagram(now, data))
        self._process_dtls_events()
        self._arm_timer()

    def _process_dtls_events(self) -> None:
        assert self.dtls is not None
        for event in self.dtls.pop_events():
            if not isinstance(event, DtlsStateChange):
                continue
            if event.state == "connected":
                self.srtp = srtp_context_from_keys(self.dtls.srtp_keys())
            if event.state == "failed":
                self.router.worker.logger.warning(
                    "DTLS failed", transport=self.id, reason=event.reason
                )
            self._set_dtls_state(event.state)

    def _set_dtls_state(self, state: str) -> None:
        self.dtls_state = state
        data: dict[str, Any] = {"dtlsState": state}
        if state == "connected" and self.dtls is not None and self.dtls.remote_certificate_pem:
            data["dtlsRemoteCert"] = self.dtls.remote_certificate_pem.decode()
        self.router.channel.notify(self.id, "dtlsstatechange", data)
        if state == "connected":
            self.start_rtcp_timer()
            for consumer in self.consumers.values():
                consumer.update_active()
        elif state in ("failed", "closed"):
            self.srtp = None
            for consumer in self.consumers.values():
                consumer.update_active()

    @property
    def connected(self) -> bool:
        return self.srtp is not None and self.ice.selected_tuple is not None

    def _send_datagrams(self, datagrams: list[bytes]) -> None:
        selected = self.ice.selected_tuple
        send = self.senders.get(selected) if selected is not None else None
        if send is None:
            return
        for datagram in datagrams:
            send(datagram)
            self.bytes_sent += len(datagram)

    def send_rtp(self, data: bytes) -> None:
        send = self._selected_send
        if self.srtp is None or send is None:
            return
        try:
            protected = self.srtp.protect_rtp(data)
        except SrtpError:
            self.drop("srtp_protect")
            return
        self.rtp_packets_sent += 1
        self.bytes_sent += len(protected)
        send(protected)

    def send_rtcp(self, data: bytes) -> None:
        if self.srtp is None:
            return
        try:
            protected = self.srtp.protect_rtcp(data)
        except SrtpError:
            self.drop("srtcp_protect")
            return
        self._send_datagrams([protected])

    def _arm_timer(self) -> None:
        """Schedule one timer for the earliest ICE consent or DTLS retransmission deadline."""
        deadlines = [self.ice.poll_timeout()]
        if self.dtls is not None:
            deadlines.append(self.dtls.poll_timeout())
        pending = [deadline for deadline in deadlines if deadline is not None]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if pending and not self.closed:
            self._timer = self._loop.call_at(min(pending), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = self._loop.time()
        self.ice.handle_timeout(now)
        self._process_ice_events()
        if self.dtls is not None:
            self._send_datagrams(self.dtls.handle_timeout(now))
            self._process_dtls_events()
        self._arm_timer()

    def ice_parameters(self) -> dict[str, Any]:
        return {
            "usernameFragment": self.username_fragment,
            "password": self.password,
            "iceLite": True,
        }

    def dtls_parameters(self) -> dict[str, Any]:
        return {
            "role": self.dtls_role,
            "fingerprints": self.router.worker.certificate.fingerprints(),
        }

    def describe(self) -> dict[str, Any]:
        """Return what the control plane needs to build its WebRtcTransport object."""
        return {
            "iceRole": "controlled",
            "iceParameters": self.ice_parameters(),
            "iceCandidates": self.ice_candidates,
            "iceState": self.ice_state,
            "iceSelectedTuple": self.ice_selected_tuple.to_dict()
            if self.ice_selected_tuple
            else None,
            "dtlsParameters": self.dtls_parameters(),
            "dtlsState": self.dtls_state,
        }

    def handle_specific_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "transport.connect":
            result = self._connect(data)
            self._maybe_start_dtls()
            return result
        if method == "transport.restartIce":
            self.username_fragment, self.password = generate_ice_credentials()
            self.ice.restart(self.username_fragment, self.password, now=self._loop.time())
            if self.web_rtc_server is not None:
                self.web_rtc_server.register_username_fragment(self.username_fragment, self)
            self._arm_timer()
            return {"iceParameters": self.ice_parameters()}
        return super().handle_specific_request(method, data)

    def _connect(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.dtls_remote_parameters is not None:
            raise InvalidStateError("connect() already called")
        parameters = require(data, "dtlsParameters", dict)
        role = parameters.get("role", "auto")
        if role not in ("auto", "client", "server"):
            raise InvalidParameterError(
                f"dtlsParameters.role must be auto, client or server, got {role!r}"
            )
        fingerprints = parameters.get("fingerprints")
        if not isinstance(fingerprints, list) or not fingerprints:
            raise InvalidParameterError(
                f"dtlsParameters.fingerprints must be a non-empty list, got {fingerprints!r}"
            )
        for index, fingerprint in enumerate(fingerprints):
            if not (
                isinstance(fingerprint, dict)
                and isinstance(fingerprint.get("algorithm"), str)
                and isinstance(fingerprint.get("value"), str)
            ):
                raise InvalidParameterError(
                    f"dtlsParameters.fingerprints[{index}] must have string algorithm and value, "
                    f"got {fingerprint!r}"
                )
        self.dtls_remote_parameters = parameters
        # The remote side picked client: we are the server; for server or auto we take client.
        self.dtls_role = "server" if role == "client" else "client"
        return {"dtlsLocalRole": self.dtls_role}

    def close_network(self) -> None:
        self._selected_send = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.dtls is not None and self.dtls.state in ("connecting", "connected"):
            self._send_datagrams(self.dtls.close())
        self.ice.close()
        self.srtp = None
        for endpoint in self.udp_endpoints:
            endpoint.close()
        for server in self.tcp_servers:
            server.close()
        self.udp_endpoints.clear()
        self.tcp_servers.clear()
        if self.web_rtc_server is not None:
            self.web_rtc_server.detach(self)
            self.web_rtc_server = None

    def dump(self) -> dict[str, Any]:
        result = super().dump()
        result.update(self.describe())
        result["webRtcServerId"] = None if self.web_rtc_server is None else self.web_rtc_server.id
        result["iceConsentTimeout"] = self.ice_consent_timeout
        return result

    def all_drop_counters(self) -> dict[str, int]:
        """Drops of the packet path, the ICE engine and the DTLS engine, by reason."""
        counters = dict(self.drop_counters)
        for reason, count in self.ice.drops.as_dict().items():
            counters[f"ice_{reason}"] = count
        if self.dtls is not None:
            for reason, count in self.dtls.drop_counters.items():
                counters[f"dtls_{reason}"] = count
        return counters

    def get_stats(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "webrtc-transport",
                "transportId": self.id,
                "timestamp": int(time.time() * 1000),
                **self.bitrates(),
                "iceRole": "controlled",
                "iceState": self.ice_state,
                "iceSelectedTuple": self.ice_selected_tuple.to_dict()
                if self.ice_selected_tuple
                else None,
                "dtlsState": self.dtls_state,
                "packetsReceived": self.packets_received,
                "bytesReceived": self.bytes_received,
                "bytesSent": self.bytes_sent,
                "rtpPacketsReceived": self.rtp_packets_received,
                "rtpPacketsSent": self.rtp_packets_sent,
                "dropCounters": self.all_drop_counters(),
            }
        ]


def _consent_timeout(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameterError(
            f"iceConsentTimeout must be a non-negative integer, got {value!r}"
        )
    if value == 0:
        return 0
    # mediasoup clamps the timeout to 10..60 seconds; 0 disables consent checks.
    return min(max(value, 10), 60)


class TcpConnection(asyncio.Protocol):
    """One passive ICE-TCP connection: RFC 4571 frames in, framed writes out."""

    def __init__(
        self,
        on_packet: Callable[[bytes, TransportTuple, Sender], None],
        on_lost: Callable[[TransportTuple], None],
    ) -> None:
        self._on_packet = on_packet
        self._on_lost = on_lost
        self._decoder = FrameDecoder()
        self._transport: asyncio.Transport | None = None
        self._tuple: TransportTuple | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        local = transport.get_extra_info("sockname")
        remote = transport.get_extra_info("peername")
        self._tuple = TransportTuple(
            str(local[0]), int(local[1]), str(remote[0]), int(remote[1]), "tcp"
        )

    def data_received(self, data: bytes) -> None:
        assert self._tuple is not None
        try:
            frames = self._decoder.feed(data)
        except TcpFramingError:
            # A length above the limit means the stream cannot be resynchronised.
            if self._transport is not None:
                self._transport.close()
            return
        for packet in frames:
            self._on_packet(packet, self._tuple, self.send)

    def send(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # NOTE: asyncio queues what the socket does not take at once. A slow peer would grow
        # that queue without bound, so packets are dropped once it passes 1 MiB.
        if transport.get_write_buffer_size() > 1 << 20:
            return
        transport.write(frame(data))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._tuple is not None:
            self._on_lost(self._tuple)

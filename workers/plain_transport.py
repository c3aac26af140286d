"""PlainTransport and PipeTransport inside a worker: plain RTP/RTCP on UDP, no ICE, no DTLS."""

import base64
import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workers.demux import MAX_DATAGRAM_SIZE, classify
from workers.errors import InvalidParameterError, InvalidStateError
from workers.listen_info import ListenInfo, bind_socket
from workers.network import UdpEndpoint
from workers.params import optional, require
from workers.srtp import SrtpContext, SrtpError
from workers.transport import Transport
from workers.transport_tuple import TransportTuple

if TYPE_CHECKING:
    from workers.router import Router

# Master key and salt lengths in bytes of each SRTP crypto suite (RFC 3711, RFC 7714).
SRTP_KEY_LENGTHS = {
    "AEAD_AES_256_GCM": 44,
    "AEAD_AES_128_GCM": 28,
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
}


class PlainTransport(Transport):
    type = "plain"

    def __init__(self, router: "Router", data: dict[str, Any]) -> None:
        super().__init__(router, data)
        self.rtcp_mux = optional(data, "rtcpMux", bool, True)
        self.comedia = optional(data, "comedia", bool, False)
        self.enable_srtp = optional(data, "enableSrtp", bool, False)
        self.srtp_crypto_suite = optional(data, "srtpCryptoSuite", str, "AES_CM_128_HMAC_SHA1_80")
        if self.srtp_crypto_suite not in SRTP_KEY_LENGTHS:
            raise InvalidParameterError(
                f"srtpCryptoSuite must be one of {sorted(SRTP_KEY_LENGTHS)}, "
                f"got {self.srtp_crypto_suite!r}"
            )
        self.endpoint: UdpEndpoint | None = None
        self.rtcp_endpoint: UdpEndpoint | None = None
        self.tuple: TransportTuple | None = None
        self.rtcp_tuple: TransportTuple | None = None
        self.local_srtp_parameters: dict[str, Any] | None = None
        self.remote_srtp_parameters: dict[str, Any] | None = None
        self.connect_called = False
        self.srtp: SrtpContext | None = None

    async def open(self, data: dict[str, Any], default_range: tuple[int, int]) -> None:
        info = ListenInfo.parse(require(data, "listenInfo", dict), field="listenInfo")
        if info.protocol != "udp":
            raise InvalidParameterError(
                f"listenInfo.protocol must be 'udp' here, got {info.protocol!r}"
            )
        self.listen_info = info
        self.endpoint = UdpEndpoint(bind_socket(info, default_range), self.receive_packet)
        await self.endpoint.start()
        if not self.rtcp_mux:
            rtcp_data = data.get("rtcpListenInfo") or {**data["listenInfo"], "port": 0}
            rtcp_info = ListenInfo.parse(rtcp_data, field="rtcpListenInfo")
            self.rtcp_endpoint = UdpEndpoint(
                bind_socket(rtcp_info, default_range), self.receive_packet
            )
            await self.rtcp_endpoint.start()
        if self.enable_srtp:
            key = secrets.token_bytes(SRTP_KEY_LENGTHS[self.srtp_crypto_suite])
            self.local_srtp_parameters = {
                "cryptoSuite": self.srtp_crypto_suite,
                "keyBase64": base64.b64encode(key).decode(),
            }

    def _local_tuple(self, endpoint: UdpEndpoint) -> dict[str, Any]:
        return {
            "localAddress": self.listen_info.candidate_address,
            "localIp": self.listen_info.candidate_address,
            "localPort": endpoint.local_port,
            "protocol": "udp",
        }

    def describe(self) -> dict[str, Any]:
        assert self.endpoint is not None
        return {
            "tuple": self.tuple.to_dict() if self.tuple else self._local_tuple(self.endpoint),
            "rtcpTuple": (
                self.rtcp_tuple.to_dict()
                if self.rtcp_tuple
                else (self._local_tuple(self.rtcp_endpoint) if self.rtcp_endpoint else None)
            ),
            "rtcpMux": self.rtcp_mux,
            "comedia": self.comedia,
            "srtpParameters": self.local_srtp_parameters,
        }

    @property
    def connected(self) -> bool:
        if self.tuple is None:
            return False
        return not self.enable_srtp or self.srtp is not None

    def receive_packet(
        self, data: bytes, tuple_: TransportTuple, send: Callable[[bytes], None]
    ) -> None:
        """Entry of every datagram: plain (or SRTP) RTP and RTCP from the connected peer."""
        if self.closed:
            return
        self.bytes_received += len(data)
        if len(data) > MAX_DATAGRAM_SIZE:
            self.drop("too_large")
            return
        kind = classify(data)
        if kind not in ("rtp", "rtcp"):
            self.drop("not_rtp")
            return
        if not self._accept_tuple(tuple_, kind):
            self.drop("unknown_tuple")
            return
        if self.enable_srtp and self.srtp is None:
            self.drop("srtp_not_ready")
            return
        if kind == "rtp":
            if self.srtp is not None:
                try:
                    data = self.srtp.unprotect_rtp(data)
                except SrtpError:
                    self.drop("srtp_unprotect")
                    return
            self.receive_rtp(time.time(), data)
        else:
            if self.srtp is not None:
                try:
                    data = self.srtp.unprotect_rtcp(data)
                except SrtpError:
                    self.drop("srtcp_unprotect")
                    return
            self.receive_rtcp(time.time(), data)

    def _accept_tuple(self, tuple_: TransportTuple, kind: str) -> bool:
        """Accept packets from the connected peer; with comedia, learn it from the first one."""
        on_rtcp_socket = self.rtcp_endpoint is not None and (
            tuple_.local_port == self.rtcp_endpoint.local_port
        )
        if on_rtcp_socket:
            if self.rtcp_tuple is None and self.comedia:
                self.rtcp_tuple = tuple_
                self.router.channel.notify(self.id, "rtcptuple", {"rtcpTuple": tuple_.to_dict()})
            return self.rtcp_tuple == tuple_
        if kind == "rtp":
            # comedia learns the RTP address from RTP only: senders such as ffmpeg send
            # RTCP from a second socket, which must not become the media address.
            if self.tuple is None and self.comedia:
                self.tuple = tuple_
                self.router.channel.notify(self.id, "tuple", {"tuple": tuple_.to_dict()})
                self._on_connected()
            return self.tuple == tuple_
        if self.tuple == tuple_ or self.rtcp_tuple == tuple_:
            return True
        if self.comedia and self.rtcp_tuple is None:
            self.rtcp_tuple = tuple_
            self.router.channel.notify(self.id, "rtcptuple", {"rtcpTuple": tuple_.to_dict()})
            return True
        return False

    def _on_connected(self) -> None:
        if not self.connected:
            return
        self.start_rtcp_timer()
        for consumer in self.consumers.values():
            consumer.update_active()

    def send_rtp(self, data: bytes) -> None:
        if not self.connected or self.endpoint is None or self.tuple is None:
            return
        if self.srtp is not None:
            try:
                data = self.srtp.protect_rtp(data)
            except SrtpError:
                self.drop("srtp_protect")
                return
        self.rtp_packets_sent += 1
        self.bytes_sent += len(data)
        self.endpoint.send_to(data, self.tuple.remote_ip, self.tuple.remote_port)

    def send_rtcp(self, data: bytes) -> None:
        if not self.connected or self.endpoint is None or self.tuple is None:
            return
        if self.srtp is not None:
            try:
                data = self.srtp.protect_rtcp(data)
            except SrtpError:
                self.drop("srtcp_protect")
                return
        if self.rtcp_endpoint is not None and self.rtcp_tuple is not None:
            self.rtcp_endpoint.send_to(data, self.rtcp_tuple.remote_ip, self.rtcp_tuple.remote_port)
        elif self.rtcp_mux:
            target = self.rtcp_tuple or self.tuple
            self.endpoint.send_to(data, target.remote_ip, target.remote_port)

    def handle_specific_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "transport.connect":
            return self._connect(data)
        return super().handle_specific_request(method, data)

    def _connect(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.connect_called:
            raise InvalidStateError("connect() already called")
        assert self.endpoint is not None
        if not self.comedia:
            ip = require(data, "ip", str)
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise InvalidParameterError(f"ip must be an IP address, got {ip!r}") from None
            port = require(data, "port", int)
            if not 1 <= port <= 65535:
                raise InvalidParameterError(f"port must be 1..65535, got {port}")
            self.tuple = TransportTuple(
                self.endpoint.local_ip, self.endpoint.local_port, ip, port, "udp"
            )
            if not self.rtcp_mux:
                rtcp_port = require(data, "rtcpPort", int)
                if not 1 <= rtcp_port <= 65535:
                    raise InvalidParameterError(f"rtcpPort must be 1..65535, got {rtcp_port}")
                assert self.rtcp_endpoint is not None
                self.rtcp_tuple = TransportTuple(
                    self.rtcp_endpoint.local_ip, self.rtcp_endpoint.local_port, ip, rtcp_port, "udp"
                )
        if self.enable_srtp:
            self.remote_srtp_parameters = _parse_srtp_parameters(data.get("srtpParameters"))
            assert self.local_srtp_parameters is not None
            self.srtp = SrtpContext(
                self.remote_srtp_parameters["cryptoSuite"],
                base64.b64decode(self.local_srtp_parameters["keyBase64"]),
                base64.b64decode(self.remote_srtp_parameters["keyBase64"]),
            )
        self.connect_called = True
        self._on_connected()
        return self.describe()

    def get_stats(self) -> list[dict[str, Any]]:
        return [
            {
                "type": f"{self.type}-transport",
                "transportId": self.id,
                "timestamp": int(time.time() * 1000),
                **self.bitrates(),
                "tuple": self.tuple.to_dict() if self.tuple else None,
                "rtcpTuple": self.rtcp_tuple.to_dict() if self.rtcp_tuple else None,
                "bytesReceived": self.bytes_received,
                "bytesSent": self.bytes_sent,
                "rtpPacketsReceived": self.rtp_packets_received,
                "rtpPacketsSent": self.rtp_packets_sent,
                "dropCounters": dict(self.drop_counters),
            }
        ]

    def close_network(self) -> None:
        self.srtp = None
        for endpoint in (self.endpoint, self.rtcp_endpoint):
            if endpoint is not None:
                endpoint.close()

    def dump(self) -> dict[str, Any]:
        result = super().dump()
        result.update(self.describe())
        return result


class PipeTransport(PlainTransport):
    type = "pipe"

    def __init__(self, router: "Router", data: dict[str, Any]) -> None:
        super().__init__(router, {**data, "rtcpMux": True, "comedia": False})
        self.enable_rtx = optional(data, "enableRtx", bool, False)

    def describe(self) -> dict[str, Any]:
        result = super().describe()
        for key in ("rtcpTuple", "rtcpMux", "comedia"):
            result.pop(key, None)
        result["enableRtx"] = self.enable_rtx
        return result


def _parse_srtp_parameters(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameterError(f"srtpParameters must be an object, got {value!r}")
    suite = value.get("cryptoSuite")
    if suite not in SRTP_KEY_LENGTHS:
        raise InvalidParameterError(f"srtpParameters.cryptoSuite is not supported: {suite!r}")
    key_base64 = value.get("keyBase64")
    try:
        key = base64.b64decode(key_base64, validate=True)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise InvalidParameterError("srtpParameters.keyBase64 is not valid base64") from None
    if len(key) != SRTP_KEY_LENGTHS[suite]:
        raise InvalidParameterError(
            f"srtpParameters.keyBase64 must decode to {SRTP_KEY_LENGTHS[suite]} bytes for {suite}, "
            f"got {len(key)}"
        )
    return {"cryptoSuite": suite, "keyBase64": key_base64}

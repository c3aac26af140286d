"""WebRtcTransport inside a worker: ICE-lite, DTLS and SRTP over UDP or passive TCP."""

import asyncio
import secrets
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workers.errors import InvalidParameterError, InvalidStateError
from workers.listen_info import ListenInfo, bind_socket
from workers.network import TcpServer, UdpEndpoint
from workers.params import optional, require
from workers.transport import Transport
from workers.transport_tuple import TransportTuple

if TYPE_CHECKING:
    from workers.router import Router
    from workers.webrtc_server import WebRtcServer

_ICE_ALPHABET = string.ascii_lowercase + string.digits


def generate_ice_credential() -> str:
    """Return 32 random characters of [0-9a-z], as mediasoup uses for ufrag and password."""
    return "".join(secrets.choice(_ICE_ALPHABET) for _ in range(32))


def candidate_priority(local_preference: int) -> int:
    """Host candidate priority (RFC 8445 §5.1.2.1): type preference 64, component 1."""
    return (64 << 24) + (local_preference << 8) + 255


class WebRtcTransport(Transport):
    type = "webrtc"

    def __init__(self, router: "Router", data: dict[str, Any]) -> None:
        super().__init__(router, data)
        self.username_fragment = generate_ice_credential()
        self.password = generate_ice_credential()
        self.ice_state = "new"
        self.ice_selected_tuple: TransportTuple | None = None
        self.dtls_state = "new"
        self.dtls_role = "auto"
        self.dtls_remote_parameters: dict[str, Any] | None = None
        self.ice_consent_timeout = _consent_timeout(data.get("iceConsentTimeout", 30))
        self.enable_udp = optional(data, "enableUdp", bool, True)
        self.enable_tcp = optional(data, "enableTcp", bool, False)
        self.prefer_udp = optional(data, "preferUdp", bool, False)
        self.prefer_tcp = optional(data, "preferTcp", bool, False)
        self.udp_endpoints: list[UdpEndpoint] = []
        self.tcp_servers: list[TcpServer] = []
        self.ice_candidates: list[dict[str, Any]] = []
        self.web_rtc_server: WebRtcServer | None = None
        self.drop_counters: dict[str, int] = {}
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
            self.ice_candidates = self._make_candidates(
                [(info, info.port) for info in server.listen_infos_with_ports()]
            )
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
        return asyncio.Protocol

    def receive_packet(
        self, data: bytes, tuple_: TransportTuple, send: Callable[[bytes], None]
    ) -> None:
        """Entry of every packet that arrives for this transport."""
        self.packets_received += 1
        self.drop_counters["not_connected"] = self.drop_counters.get("not_connected", 0) + 1

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
            return self._connect(data)
        if method == "transport.restartIce":
            old_fragment = self.username_fragment
            self.username_fragment = generate_ice_credential()
            self.password = generate_ice_credential()
            if self.web_rtc_server is not None:
                self.web_rtc_server.update_username_fragment(self, old_fragment)
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

    def get_stats(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "webrtc-transport",
                "transportId": self.id,
                "iceRole": "controlled",
                "iceState": self.ice_state,
                "iceSelectedTuple": self.ice_selected_tuple.to_dict()
                if self.ice_selected_tuple
                else None,
                "dtlsState": self.dtls_state,
                "packetsReceived": self.packets_received,
                "dropCounters": dict(self.drop_counters),
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

"""WebRtcServer: one UDP socket and one TCP server per listen info, shared by many transports."""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from workers.errors import InvalidParameterError, UnsupportedError
from workers.listen_info import ListenInfo, bind_socket
from workers.network import TcpServer, UdpEndpoint
from workers.params import require
from workers.transport_tuple import TransportTuple

if TYPE_CHECKING:
    from workers.webrtc_transport import WebRtcTransport


class WebRtcServer:
    def __init__(self, data: dict[str, Any]) -> None:
        self.id: str = require(data, "webRtcServerId", str)
        self.transports: dict[str, WebRtcTransport] = {}
        self.transports_by_fragment: dict[str, WebRtcTransport] = {}
        self.udp_endpoints: list[UdpEndpoint] = []
        self.tcp_servers: list[TcpServer] = []
        self._bound: list[tuple[ListenInfo, int]] = []
        self.drop_counters: dict[str, int] = {}

    async def open(self, data: dict[str, Any], default_range: tuple[int, int]) -> None:
        infos = data.get("listenInfos")
        if not isinstance(infos, list) or not infos:
            raise InvalidParameterError(f"listenInfos must be a non-empty list, got {infos!r}")
        parsed = [
            ListenInfo.parse(info, field=f"listenInfos[{index}]")
            for index, info in enumerate(infos)
        ]
        try:
            for info in parsed:
                sock = bind_socket(info, default_range)
                port = sock.getsockname()[1]
                if info.protocol == "udp":
                    endpoint = UdpEndpoint(sock, self.receive_packet)
                    self.udp_endpoints.append(endpoint)
                    await endpoint.start()
                else:
                    server = TcpServer(sock, asyncio.Protocol)
                    self.tcp_servers.append(server)
                    await server.start()
                self._bound.append((info, port))
        except Exception:
            self.close()
            raise

    def listen_infos_with_ports(self) -> list[ListenInfo]:
        """Return the listen infos with the port each one was bound to."""
        return [replace(info, port=port) for info, port in self._bound]

    def attach(self, transport: "WebRtcTransport") -> None:
        self.transports[transport.id] = transport
        self.transports_by_fragment[transport.username_fragment] = transport

    def update_username_fragment(self, transport: "WebRtcTransport", old_fragment: str) -> None:
        # NOTE: both fragments keep mapping to the transport until it closes; the ICE engine
        # decides which credentials it still accepts.
        self.transports_by_fragment[transport.username_fragment] = transport
        del old_fragment

    def detach(self, transport: "WebRtcTransport") -> None:
        self.transports.pop(transport.id, None)
        for fragment in [f for f, t in self.transports_by_fragment.items() if t is transport]:
            del self.transports_by_fragment[fragment]

    def receive_packet(
        self, data: bytes, tuple_: TransportTuple, send: Callable[[bytes], None]
    ) -> None:
        self.drop_counters["unknown_tuple"] = self.drop_counters.get("unknown_tuple", 0) + 1

    def handle_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "webRtcServer.dump":
            return self.dump()
        raise UnsupportedError(f"unknown webRtcServer method {method!r}")

    def describe(self) -> dict[str, Any]:
        return {
            "listenInfos": [
                {"protocol": info.protocol, "ip": info.ip, "port": port}
                for info, port in self._bound
            ]
        }

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "udpSockets": [{"ip": e.local_ip, "port": e.local_port} for e in self.udp_endpoints],
            "tcpServers": [{"ip": s.local_ip, "port": s.local_port} for s in self.tcp_servers],
            "webRtcTransportIds": list(self.transports),
            "localIceUsernameFragments": [
                {"localIceUsernameFragment": f, "webRtcTransportId": t.id}
                for f, t in self.transports_by_fragment.items()
            ],
        }

    def close(self) -> list[str]:
        """Close the sockets and every transport using them; return the closed transport ids."""
        closed = list(self.transports)
        for transport in list(self.transports.values()):
            transport.router.close_transport(transport.id)
        for endpoint in self.udp_endpoints:
            endpoint.close()
        for server in self.tcp_servers:
            server.close()
        self.udp_endpoints.clear()
        self.tcp_servers.clear()
        return closed

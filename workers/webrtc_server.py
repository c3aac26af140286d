"""WebRtcServer: one UDP socket and one TCP server per listen info, shared by many transports.

Packets are routed to transports by 5-tuple; an unknown tuple's STUN request is routed by
the username fragment in its USERNAME attribute (the part before the colon).
"""

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from workers.demux import MAX_DATAGRAM_SIZE, classify
from workers.errors import InvalidParameterError, UnsupportedError
from workers.listen_info import ListenInfo, bind_socket
from workers.network import TcpServer, UdpEndpoint
from workers.params import require
from workers.stun import StunMessage
from workers.transport_tuple import TransportTuple
from workers.webrtc_server_demux import WebRtcServerDemux

if TYPE_CHECKING:
    from workers.webrtc_transport import WebRtcTransport


class WebRtcServer:
    def __init__(self, data: dict[str, Any]) -> None:
        self.id: str = require(data, "webRtcServerId", str)
        self.transports: dict[str, WebRtcTransport] = {}
        self.demux: WebRtcServerDemux[WebRtcTransport] = WebRtcServerDemux()
        self.udp_endpoints: list[UdpEndpoint] = []
        self.tcp_servers: list[TcpServer] = []
        self._bound: list[tuple[ListenInfo, int]] = []
        self.drop_counters: dict[str, int] = {}

    async def open(self, data: dict[str, Any], default_range: tuple[int, int]) -> None:
        from workers.webrtc_transport import TcpConnection

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
                    server = TcpServer(
                        sock, lambda: TcpConnection(self.receive_packet, self._on_tcp_lost)
                    )
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
        self.demux.register(transport.username_fragment, transport)

    def register_username_fragment(self, fragment: str, transport: "WebRtcTransport") -> None:
        # The old fragment stays registered until the transport closes, because the ICE
        # engine keeps accepting the old credentials until the new ones are used.
        self.demux.register(fragment, transport)

    def add_tuple(self, tuple_: TransportTuple, transport: "WebRtcTransport") -> None:
        self.demux.add_tuple(tuple_, transport)

    def remove_tuple(self, tuple_: TransportTuple) -> None:
        self.demux.remove_tuple(tuple_)

    def detach(self, transport: "WebRtcTransport") -> None:
        self.transports.pop(transport.id, None)
        self.demux.remove_transport(transport)

    def receive_packet(
        self, data: bytes, tuple_: TransportTuple, send: Callable[[bytes], None]
    ) -> None:
        if len(data) > MAX_DATAGRAM_SIZE:
            self._drop("too_large")
            return
        if classify(data) == "stun":
            try:
                username = StunMessage.parse(data).username
            except ValueError:
                self._drop("malformed_stun")
                return
            transport = self.demux.lookup_stun(tuple_, username)
        else:
            transport = self.demux.lookup(tuple_)
        if transport is None:
            self._drop("unknown_tuple")
            return
        transport.receive_packet(data, tuple_, send)

    def _on_tcp_lost(self, tuple_: TransportTuple) -> None:
        transport = self.demux.lookup(tuple_)
        if transport is not None:
            transport.on_tcp_connection_lost(tuple_)

    def _drop(self, reason: str) -> None:
        self.drop_counters[reason] = self.drop_counters.get(reason, 0) + 1

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
                {"localIceUsernameFragment": t.username_fragment, "webRtcTransportId": t.id}
                for t in self.transports.values()
            ],
            "dropCounters": dict(self.drop_counters),
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

"""Thin I/O layer: UDP sockets and TCP servers that hand whole packets to a handler."""

import asyncio
import socket
from collections.abc import Callable

from workers.transport_tuple import TransportTuple

# handler(data, tuple, send) where send(data) writes back on the same 5-tuple.
PacketHandler = Callable[[bytes, TransportTuple, Callable[[bytes], None]], None]


class UdpEndpoint(asyncio.DatagramProtocol):
    """One bound UDP socket; every datagram goes to `handler` with its 5-tuple."""

    def __init__(self, sock: socket.socket, handler: PacketHandler) -> None:
        self.socket = sock
        self.handler = handler
        self.local_ip, self.local_port = sock.getsockname()[:2]
        self._transport: asyncio.DatagramTransport | None = None
        self.packets_received = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.socket)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport, so no isinstance.
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.packets_received += 1
        remote_ip, remote_port = str(addr[0]), int(addr[1])
        tuple_ = TransportTuple(self.local_ip, self.local_port, remote_ip, remote_port, "udp")
        transport = self._transport

        def send(payload: bytes) -> None:
            if transport is not None:
                transport.sendto(payload, (remote_ip, remote_port))

        self.handler(data, tuple_, send)

    def send_to(self, data: bytes, ip: str, port: int) -> None:
        if self._transport is not None:
            self._transport.sendto(data, (ip, port))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) arrive here; they must not stop the socket.
        pass

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        else:
            self.socket.close()


class TcpServer:
    """One listening TCP socket; each connection is handled by a protocol from `factory`."""

    def __init__(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol]) -> None:
        self.socket = sock
        self.local_ip, self.local_port = sock.getsockname()[:2]
        self._factory = factory
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, sock=self.socket)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        else:
            self.socket.close()

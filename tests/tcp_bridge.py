"""A UDP-to-TCP bridge that lets a UDP-only WebRTC client reach a worker over ICE-TCP.

aiortc's ICE agent (aioice) has no ICE-TCP candidates. The bridge gives it a UDP address;
each UDP source gets its own TCP connection to the worker's passive TCP port, and packets
cross as RFC 4571 frames. The worker therefore sees a real ICE-TCP client connection.
"""

import asyncio
import struct
from typing import Any

_LENGTH = struct.Struct("!H")


class _TcpLeg(asyncio.Protocol):
    def __init__(self, bridge: "UdpToTcpBridge", udp_address: tuple[str, int]) -> None:
        self._bridge = bridge
        self._udp_address = udp_address
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < 2 + length:
                return
            packet = bytes(self._buffer[2 : 2 + length])
            del self._buffer[: 2 + length]
            self._bridge.send_udp(packet, self._udp_address)


class UdpToTcpBridge(asyncio.DatagramProtocol):
    """Listen on 127.0.0.1 UDP and relay to one TCP address as RFC 4571 frames."""

    def __init__(self, tcp_host: str, tcp_port: int) -> None:
        self._tcp_host = tcp_host
        self._tcp_port = tcp_port
        self._udp: asyncio.DatagramTransport | None = None
        self._legs: dict[tuple[str, int], asyncio.Future[_TcpLeg]] = {}
        self.port = 0

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._udp = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self.port

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        address = (str(addr[0]), int(addr[1]))
        leg = self._legs.get(address)
        if leg is None:
            leg = asyncio.ensure_future(self._connect(address))
            self._legs[address] = leg
        frame = _LENGTH.pack(len(data)) + data
        leg.add_done_callback(lambda done: _write(done, frame))

    async def _connect(self, address: tuple[str, int]) -> _TcpLeg:
        loop = asyncio.get_running_loop()
        _, leg = await loop.create_connection(
            lambda: _TcpLeg(self, address), self._tcp_host, self._tcp_port
        )
        return leg

    def send_udp(self, data: bytes, address: tuple[str, int]) -> None:
        if self._udp is not None:
            self._udp.sendto(data, address)

    def close(self) -> None:
        for leg in self._legs.values():
            if leg.done() and not leg.cancelled() and leg.exception() is None:
                transport = leg.result().transport
                if transport is not None:
                    transport.close()
            else:
                leg.cancel()
        if self._udp is not None:
            self._udp.close()


def _write(done: "asyncio.Future[_TcpLeg]", frame: bytes) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    transport = done.result().transport
    if transport is not None and not transport.is_closing():
        transport.write(frame)

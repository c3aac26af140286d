"""A UDP relay that loses and reorders RTP and RTCP, standing in for a bad network.

Clients are given the relay's address instead of the worker's. Each client address gets
its own upstream socket, so the worker gets one 5-tuple per client as it would without
the relay. STUN and DTLS pass untouched, so only the media path is degraded.
"""

import asyncio
import random
from typing import Any

# RFC 7983: first bytes 128..191 are RTP or RTCP.
_MEDIA_FIRST_BYTES = range(128, 192)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: "LossyUdpRelay", client: tuple[str, int]) -> None:
        self._relay = relay
        self._client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._relay.forward(data, "down", lambda d: self._relay.send_to_client(d, self._client))


class LossyUdpRelay(asyncio.DatagramProtocol):
    """Relay to one server address; drop `loss` and delay `reorder` of the media packets."""

    def __init__(self, server: tuple[str, int], *, loss: float, reorder: float, seed: int) -> None:
        self._server = server
        self._loss = loss
        self._reorder = reorder
        self._rng = random.Random(seed)
        self._downstream: asyncio.DatagramTransport | None = None
        self._upstreams: dict[tuple[str, int], asyncio.Future[_Upstream]] = {}
        self.port = 0
        self.dropped = {"up": 0, "down": 0}
        self.delayed = {"up": 0, "down": 0}
        self.forwarded = {"up": 0, "down": 0}

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._downstream = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self.port

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        client = (str(addr[0]), int(addr[1]))
        upstream = self._upstreams.get(client)
        if upstream is None:
            upstream = asyncio.ensure_future(self._open_upstream(client))
            self._upstreams[client] = upstream
        upstream.add_done_callback(
            lambda done: self.forward(data, "up", lambda d: _send_upstream(done, d))
        )

    async def _open_upstream(self, client: tuple[str, int]) -> _Upstream:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: _Upstream(self, client), remote_addr=self._server
        )
        return protocol

    def forward(self, data: bytes, direction: str, send: Any) -> None:
        if data and data[0] in _MEDIA_FIRST_BYTES:
            roll = self._rng.random()
            if roll < self._loss:
                self.dropped[direction] += 1
                return
            if roll < self._loss + self._reorder:
                self.delayed[direction] += 1
                delay = self._rng.uniform(0.005, 0.03)
                asyncio.get_running_loop().call_later(delay, send, data)
                return
        self.forwarded[direction] += 1
        send(data)

    def send_to_client(self, data: bytes, client: tuple[str, int]) -> None:
        if self._downstream is not None and not self._downstream.is_closing():
            self._downstream.sendto(data, client)

    def rewrite_candidates(self, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Point the client at the relay: the UDP candidate of the server, with our port."""
        rewritten = []
        for candidate in candidates:
            if candidate["protocol"] == "udp" and candidate["port"] == self._server[1]:
                rewritten.append({**candidate, "port": self.port})
        return rewritten

    def close(self) -> None:
        for upstream in self._upstreams.values():
            if upstream.done() and not upstream.cancelled() and upstream.exception() is None:
                transport = upstream.result().transport
                if transport is not None:
                    transport.close()
            else:
                upstream.cancel()
        if self._downstream is not None:
            self._downstream.close()


def _send_upstream(done: "asyncio.Future[_Upstream]", data: bytes) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    transport = done.result().transport
    if transport is not None and not transport.is_closing():
        transport.sendto(data)

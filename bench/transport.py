"""The client side of one WebRTC transport: ICE (controlling), DTLS (client), SRTP over UDP.

The bot reuses the sans-IO engines of `workers` in the client role. ICE is the minimum that a
controlling agent does against an ICE-lite server (RFC 8445 §7.2.2): it sends Binding requests
with USE-CANDIDATE to the one UDP host candidate until a success response arrives. Then it
repeats them every `CONSENT_INTERVAL` seconds as consent checks (RFC 7675 §5.1), because the
server drops a tuple that stops sending them.
"""

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any, cast

from workers.certificate import Certificate
from workers.dtls import DtlsSession
from workers.srtp import SrtpContext, SrtpError, srtp_context_from_keys
from workers.stun import AttributeType, StunClass, StunMessage, StunMethod

CHECK_INTERVAL = 0.1  # seconds between Binding requests until one succeeds
CONSENT_INTERVAL = 2.0  # seconds between consent checks once connected
CONNECT_TIMEOUT = 10.0  # seconds for ICE plus the DTLS handshake
RECEIVE_BUFFER = 4 * 1024 * 1024

RtpHandler = Callable[[bytes], None]


class BotTransport(asyncio.DatagramProtocol):
    """One UDP socket bound to 127.0.0.1 that talks to one server transport.

    `on_rtp` receives every decrypted RTP packet and `on_rtcp` every decrypted RTCP packet.
    With `plain=True` (the baseline relay) there is no ICE, DTLS or SRTP.
    """

    def __init__(self, on_rtp: RtpHandler, on_rtcp: RtpHandler, plain: bool = False) -> None:
        self.on_rtp = on_rtp
        self.on_rtcp = on_rtcp
        self.plain = plain
        self.udp: asyncio.DatagramTransport | None = None
        self.srtp: SrtpContext | None = None
        self.dtls: DtlsSession | None = None
        self.connected = asyncio.Event()
        self.ice_done = asyncio.Event()
        self.srtp_errors = 0
        self.sent = 0
        self._username = b""
        self._password = b""
        self._tie_breaker = int.from_bytes(os.urandom(8), "big")
        self._consent_task: asyncio.Task[None] | None = None

    # asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self.udp = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        first = data[0]
        if 128 <= first <= 191:
            if self.plain:
                self.on_rtp(data)
                return
            if self.srtp is None:
                return
            is_rtcp = 192 <= data[1] <= 223
            try:
                if is_rtcp:
                    self.on_rtcp(self.srtp.unprotect_rtcp(data))
                else:
                    self.on_rtp(self.srtp.unprotect_rtp(data))
            except SrtpError:
                self.srtp_errors += 1
        elif first <= 3:
            self._handle_stun(data)
        elif 20 <= first <= 63 and self.dtls is not None:
            self._send_all(self.dtls.handle_datagram(time.monotonic(), data))
            self._check_dtls()

    def error_received(self, exc: Exception) -> None:
        pass

    # Setup

    @classmethod
    async def open(
        cls, address: tuple[str, int], on_rtp: RtpHandler, on_rtcp: RtpHandler, plain: bool
    ) -> "BotTransport":
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(on_rtp, on_rtcp, plain), local_addr=("127.0.0.1", 0), remote_addr=address
        )
        assert protocol.udp is not None
        sock = protocol.udp.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return protocol

    async def connect(
        self,
        certificate: Certificate,
        ice_parameters: dict[str, Any],
        dtls_parameters: dict[str, Any],
    ) -> None:
        """Run ICE, then the DTLS handshake as client, then key SRTP. Raises TimeoutError."""
        remote_fragment = ice_parameters["usernameFragment"]
        local_fragment = os.urandom(4).hex()
        self._username = f"{remote_fragment}:{local_fragment}".encode()
        self._password = ice_parameters["password"].encode()
        async with asyncio.timeout(CONNECT_TIMEOUT):
            while not self.ice_done.is_set():
                self._send_check()
                try:
                    await asyncio.wait_for(self.ice_done.wait(), CHECK_INTERVAL)
                except TimeoutError:
                    pass
            self.dtls = DtlsSession(certificate, "client", dtls_parameters["fingerprints"])
            self._send_all(self.dtls.start(time.monotonic()))
            while not self.connected.is_set():
                if self.dtls.state in ("failed", "closed"):
                    raise ConnectionError(f"DTLS handshake ended in state {self.dtls.state!r}")
                deadline = self.dtls.poll_timeout()
                wait = 0.05 if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    await asyncio.wait_for(self.connected.wait(), min(wait, 0.2))
                except TimeoutError:
                    self._send_all(self.dtls.handle_timeout(time.monotonic()))
        self._consent_task = asyncio.create_task(self._send_consent_checks())

    def _send_check(self) -> None:
        request = StunMessage(StunMethod.BINDING, StunClass.REQUEST, os.urandom(12))
        request.attributes[AttributeType.USERNAME] = self._username.decode()
        request.attributes[AttributeType.PRIORITY] = 0x6E0001FF
        request.attributes[AttributeType.ICE_CONTROLLING] = self._tie_breaker
        request.attributes[AttributeType.USE_CANDIDATE] = None
        self._send(request.serialize(integrity_key=self._password, fingerprint=True))

    def _handle_stun(self, data: bytes) -> None:
        try:
            message = StunMessage.parse(data)
        except ValueError:
            return
        if message.message_class == StunClass.SUCCESS_RESPONSE and message.check_integrity(
            self._password
        ):
            self.ice_done.set()

    def _check_dtls(self) -> None:
        assert self.dtls is not None
        if self.dtls.state == "connected" and self.srtp is None:
            self.srtp = srtp_context_from_keys(self.dtls.srtp_keys())
            self.connected.set()
        self.dtls.pop_events()

    async def _send_consent_checks(self) -> None:
        while True:
            await asyncio.sleep(CONSENT_INTERVAL)
            self._send_check()

    # Sending

    def _send(self, data: bytes) -> None:
        if self.udp is not None and not self.udp.is_closing():
            self.udp.sendto(data)

    def _send_all(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self._send(datagram)

    def send_rtp(self, packet: bytes) -> None:
        if self.plain:
            self._send(packet)
        elif self.srtp is not None:
            self._send(self.srtp.protect_rtp(packet))
        else:
            return
        self.sent += 1

    def send_raw(self, data: bytes) -> None:
        self._send(data)

    def close(self) -> None:
        if self._consent_task is not None:
            self._consent_task.cancel()
        if self.dtls is not None:
            self._send_all(self.dtls.close())
        if self.udp is not None:
            self.udp.close()

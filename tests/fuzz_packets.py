"""Random and mutated STUN, DTLS, RTP and RTCP datagrams for robustness tests.

Each generator starts from a well-formed packet of its kind (so it passes the first-byte
demultiplexer) and then flips, truncates, extends or replaces bytes, so the fuzzing
reaches the parsers behind the demultiplexer, not only the early drop.
"""

import os
import random
import struct

from aioice import stun


def stun_request(username: str, password: str, *, nominate: bool = False) -> bytes:
    """A valid ICE Binding request signed with `password` (built by aioice, not pysfu)."""
    message = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    message.attributes["USERNAME"] = username
    message.attributes["PRIORITY"] = 1853817087
    message.attributes["ICE-CONTROLLING"] = 12345678
    if nominate:
        message.attributes["USE-CANDIDATE"] = None
    message.add_message_integrity(password.encode())
    message.add_fingerprint()
    return bytes(message)


def _rtp_header(rng: random.Random) -> bytes:
    first = 0x80 | (0x10 if rng.random() < 0.5 else 0) | rng.randrange(0, 4)
    header = struct.pack(
        "!BBHII",
        first,
        rng.randrange(0, 256) & 0x7F | 0x60,
        rng.randrange(0, 65536),
        rng.randrange(0, 1 << 32),
        rng.randrange(0, 1 << 32),
    )
    extension = b""
    if first & 0x10:
        words = rng.randrange(0, 4)
        extension = struct.pack("!HH", rng.choice((0xBEDE, 0x1000, rng.randrange(0, 65536))), words)
        extension += os.urandom(4 * words)
    return header + bytes(4 * (first & 0x0F)) + extension


def _rtcp_packet(rng: random.Random) -> bytes:
    packet_type = rng.choice((200, 201, 202, 203, 205, 206, 207, rng.randrange(192, 224)))
    words = rng.randrange(0, 12)
    first = 0x80 | rng.randrange(0, 32)
    body = os.urandom(4 * words)
    length = words if rng.random() < 0.8 else rng.randrange(0, 65536)
    return struct.pack("!BBH", first, packet_type, length) + body


def _dtls_record(rng: random.Random) -> bytes:
    content_type = rng.choice((20, 21, 22, 23, rng.randrange(20, 64)))
    version = rng.choice((0xFEFD, 0xFEFF, rng.randrange(0, 65536)))
    body = os.urandom(rng.randrange(0, 300))
    length = len(body) if rng.random() < 0.8 else rng.randrange(0, 65536)
    header = struct.pack("!BH", content_type, version) + os.urandom(8) + struct.pack("!H", length)
    return header + body


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randrange(0, 4)):
        choice = rng.random()
        if choice < 0.5 and buffer:
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        elif choice < 0.7 and buffer:
            del buffer[rng.randrange(len(buffer)) :]
        elif choice < 0.9:
            buffer += os.urandom(rng.randrange(1, 64))
        elif buffer:
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer)


class PacketFuzzer:
    """Deterministic (seeded) stream of hostile datagrams of every kind the worker reads."""

    def __init__(self, seed: int, username: str, password: str) -> None:
        self._rng = random.Random(seed)
        self._valid_stun = stun_request(username, password)
        self._bad_stun = stun_request(username, "wrong-password-wrong-password-00")

    def next(self) -> bytes:
        rng = self._rng
        kind = rng.randrange(7)
        if kind == 0:
            return _mutate(self._valid_stun, rng)
        if kind == 1:
            return self._bad_stun if rng.random() < 0.5 else _mutate(self._bad_stun, rng)
        if kind == 2:
            return _mutate(_dtls_record(rng), rng)
        if kind == 3:
            return _rtp_header(rng) + os.urandom(rng.randrange(0, 1200))
        if kind == 4:
            return b"".join(_rtcp_packet(rng) for _ in range(rng.randrange(1, 4)))
        if kind == 5:
            return os.urandom(rng.randrange(1, 2200))
        return bytes((rng.randrange(256),)) + os.urandom(rng.randrange(0, 40))

    def tcp_chunk(self) -> bytes:
        """Bytes for a TCP connection: RFC 4571 frames, some with lying lengths."""
        rng = self._rng
        packet = self.next()
        length = len(packet) if rng.random() < 0.85 else rng.randrange(0, 65536)
        return struct.pack("!H", length & 0xFFFF) + packet

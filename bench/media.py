"""Pre-packetized RTP media for the bots: VP8 and Opus-sized packets that carry their send time.

Nothing is encoded. A VP8 packet has a valid payload descriptor (RFC 7741 §4.2) and, when it
starts a frame, a valid frame tag, so the SFU's key frame detection gets real key frames. The
last `TAIL.size` bytes of every payload are the stream id, a per-stream packet counter and the
send time in CLOCK_MONOTONIC nanoseconds. The tail survives any header rewrite by the SFU, so a
subscriber on the same host computes end-to-end latency and loss from it.
"""

import struct
from dataclasses import dataclass, field

RTP_HEADER = struct.Struct("!BBHII")
# stream id, packet counter of that stream, send time (time.monotonic_ns()).
TAIL = struct.Struct("!IIQ")

OPUS_PAYLOAD_TYPE = 111
VP8_PAYLOAD_TYPE = 96
RTX_PAYLOAD_TYPE = 97
AUDIO_CLOCK_RATE = 48000
VIDEO_CLOCK_RATE = 90000
AUDIO_PACKET_SECONDS = 0.020
# Opus at about 32 kbit/s: 80 bytes per 20 ms frame.
AUDIO_PAYLOAD_SIZE = 80
VIDEO_FPS = 30
# Payload bytes per video packet: with the 12-byte RTP header and the SRTP tag this stays
# under pylibsrtp's 1356-byte protect limit and a 1200-byte DTLS-era MTU budget.
MAX_VIDEO_PAYLOAD = 1100
KEY_FRAME_INTERVAL_SECONDS = 3.0
KEY_FRAME_SIZE_FACTOR = 4.0  # a key frame is this many times the average frame size

AUDIO = 0
VIDEO = 1


def stream_ssrc(room: int, bot: int, kind: int) -> int:
    """Return the SSRC of a bot's stream: the room in the top 16 bits.

    The C baseline relay routes a packet by `ssrc >> 16`, so the same bot traffic works for it.
    Room numbers start at 1 so that no SSRC is 0. The RTX stream of a video stream adds 2.
    """
    return ((room + 1) << 16) | ((bot & 0xFFF) << 4) | kind


def rtp_header(payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int) -> bytes:
    return RTP_HEADER.pack(
        0x80,
        (0x80 if marker else 0) | payload_type,
        sequence & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc,
    )


def read_tail(payload_end: bytes) -> tuple[int, int, int]:
    """Return (stream id, counter, send time ns) from the last `TAIL.size` bytes of a packet.

    Raises ValueError for a packet shorter than the tail.
    """
    if len(payload_end) < TAIL.size + 12:
        raise ValueError(f"invalid bench packet length {len(payload_end)}: no tail")
    stream_id, counter, sent_ns = TAIL.unpack_from(payload_end, len(payload_end) - TAIL.size)
    return stream_id, counter, sent_ns


def vp8_frame_sizes(bitrate: int) -> tuple[int, int]:
    """Return (key frame bytes, delta frame bytes) so the average matches `bitrate` bit/s."""
    average = bitrate / 8 / VIDEO_FPS
    frames = round(KEY_FRAME_INTERVAL_SECONDS * VIDEO_FPS)
    key = int(average * KEY_FRAME_SIZE_FACTOR)
    delta = int((average * frames - key) / (frames - 1))
    return key, max(delta, 2 * TAIL.size)


def _vp8_first_bytes(key_frame: bool, size: int) -> bytes:
    """Return the VP8 frame tag (RFC 6386 §9.1), plus the key frame start code and size."""
    # Frame tag: P bit 0 for a key frame, version 0, show_frame 1, first partition size.
    partition = min(size, 0x7FFFF)
    tag = (0 if key_frame else 1) | (1 << 4) | (partition << 5)
    first = tag.to_bytes(3, "little")
    if key_frame:
        # Start code, then 640x360 with no scaling.
        first += b"\x9d\x01\x2a" + (640).to_bytes(2, "little") + (360).to_bytes(2, "little")
    return first


@dataclass
class StreamSender:
    """Sequence numbers, timestamps and a retransmission store of one outgoing stream."""

    ssrc: int
    payload_type: int
    clock_rate: int
    stream_id: int
    sequence: int = 0
    counter: int = 0
    rtx_sequence: int = 0
    # Plain packets by sequence number modulo the store size, for replying to NACKs.
    store: list[bytes | None] = field(default_factory=lambda: [None] * 512)

    def _remember(self, packet: bytes) -> None:
        self.store[self.sequence & 511] = packet
        self.sequence = (self.sequence + 1) & 0xFFFF

    def _tail(self, now_ns: int) -> bytes:
        tail = TAIL.pack(self.stream_id, self.counter & 0xFFFFFFFF, now_ns)
        self.counter += 1
        return tail

    def audio_packet(self, now_ns: int, timestamp: int) -> bytes:
        """Return one Opus-sized packet: a TOC byte for 20 ms CELT, filler and the tail."""
        body = b"\xfc" + b"\x00" * (AUDIO_PAYLOAD_SIZE - 1 - TAIL.size)
        packet = (
            rtp_header(self.payload_type, False, self.sequence, timestamp, self.ssrc)
            + body
            + self._tail(now_ns)
        )
        self._remember(packet)
        return packet

    def video_frame(self, now_ns: int, timestamp: int, key_frame: bool, size: int) -> list[bytes]:
        """Return the packets of one VP8 frame of about `size` payload bytes, marker on the last."""
        packets = []
        remaining = size
        first = True
        while True:
            chunk = min(remaining, MAX_VIDEO_PAYLOAD)
            remaining -= chunk
            last = remaining <= 0
            # Payload descriptor: one byte, S=1 on the first packet of the frame, PID 0.
            body = b"\x10" if first else b"\x00"
            if first:
                body += _vp8_first_bytes(key_frame, size)
            filler = max(0, chunk - len(body) - TAIL.size)
            body += b"\x00" * filler
            packet = (
                rtp_header(self.payload_type, last, self.sequence, timestamp, self.ssrc)
                + body
                + self._tail(now_ns)
            )
            self._remember(packet)
            packets.append(packet)
            first = False
            if last:
                return packets

    def retransmission(self, sequence: int, rtx_ssrc: int) -> bytes | None:
        """Return the RTX packet (RFC 4588 §4) of a stored packet, or None if it is gone."""
        packet = self.store[sequence & 511]
        if packet is None or int.from_bytes(packet[2:4], "big") != sequence:
            return None
        timestamp = int.from_bytes(packet[4:8], "big")
        rtx = (
            rtp_header(
                RTX_PAYLOAD_TYPE, bool(packet[1] & 0x80), self.rtx_sequence, timestamp, rtx_ssrc
            )
            + packet[2:4]
            + packet[12:]
        )
        self.rtx_sequence = (self.rtx_sequence + 1) & 0xFFFF
        return rtx

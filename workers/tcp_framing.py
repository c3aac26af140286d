"""RFC 4571 framing for ICE over TCP: each packet is preceded by its 2-byte big-endian length.

STUN, DTLS, RTP and RTCP all travel in these frames on a passive ICE-TCP connection.
"""

# RFC 4571 §2: the length field is 16 bits, so no frame carries more than this.
MAX_FRAME_SIZE = 0xFFFF
_LENGTH_SIZE = 2


class TcpFramingError(ValueError):
    """A frame length in the TCP byte stream exceeds the decoder's limit: close the connection."""


def frame(data: bytes) -> bytes:
    """Prefix one packet with its RFC 4571 length."""
    if len(data) > MAX_FRAME_SIZE:
        raise ValueError(
            f"invalid RFC 4571 frame payload: {len(data)} bytes, the maximum is {MAX_FRAME_SIZE}"
        )
    return len(data).to_bytes(_LENGTH_SIZE, "big") + data


class FrameDecoder:
    """Split one TCP connection's byte stream into packets.

    Frames may be split or merged across reads. A zero-length frame is skipped. The decoder
    buffers at most one incomplete frame, so it never contains more than `2 + max_frame_size`
    bytes: a length field above `max_frame_size` raises TcpFramingError at once.
    """

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        if not 0 < max_frame_size <= MAX_FRAME_SIZE:
            raise ValueError(
                f"invalid max_frame_size {max_frame_size}: expected 1 to {MAX_FRAME_SIZE}"
            )
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """The number of bytes of an incomplete frame held back from earlier reads."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes read from the connection and return the packets they complete, in order."""
        self._buffer += data
        buffer = self._buffer
        packets: list[bytes] = []
        position = 0
        while len(buffer) - position >= _LENGTH_SIZE:
            length = int.from_bytes(buffer[position : position + _LENGTH_SIZE], "big")
            if length > self.max_frame_size:
                raise TcpFramingError(
                    f"invalid RFC 4571 frame length {length}: "
                    f"the maximum is {self.max_frame_size} bytes"
                )
            end = position + _LENGTH_SIZE + length
            if end > len(buffer):
                break
            if length:
                packets.append(bytes(buffer[position + _LENGTH_SIZE : end]))
            position = end
        del buffer[:position]
        return packets

"""Framing of the channel between the control plane and a worker process.

Each frame is a 4-byte big-endian length followed by one msgpack-encoded map. This module is
pure (no I/O), so the worker process imports it too.
"""

import struct
from typing import Any

import msgpack

# A frame larger than this is a protocol error: the biggest legitimate messages are dumps of
# routers with thousands of consumers, well below 16 MiB.
MAX_FRAME_SIZE = 16 * 1024 * 1024

_LENGTH = struct.Struct("!I")


class FramingError(ValueError):
    """The byte stream does not contain valid frames."""


def encode_frame(message: dict[str, Any]) -> bytes:
    """Encode one message as a length-prefixed msgpack frame."""
    payload: bytes = msgpack.packb(message, use_bin_type=True)
    if len(payload) > MAX_FRAME_SIZE:
        raise FramingError(f"frame of {len(payload)} bytes exceeds the limit of {MAX_FRAME_SIZE}")
    return _LENGTH.pack(len(payload)) + payload


class FrameDecoder:
    """Split a byte stream into messages; frames may be split or merged across reads."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes read from the pipe and return every message completed by them."""
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > MAX_FRAME_SIZE:
                raise FramingError(f"frame length {length} exceeds the limit of {MAX_FRAME_SIZE}")
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_LENGTH.size : end])
            del self._buffer[:end]
            try:
                message = msgpack.unpackb(payload, raw=False)
            except (ValueError, msgpack.UnpackException) as error:
                raise FramingError(f"invalid msgpack frame: {error}") from error
            if not isinstance(message, dict):
                raise FramingError(
                    f"invalid frame: contains a {type(message).__name__}, expected a map"
                )
            messages.append(message)
        return messages

"""Channel frames: length-prefixed msgpack maps, split or merged across reads."""

import struct

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu.channel_framing import MAX_FRAME_SIZE, FrameDecoder, FramingError, encode_frame


def test_round_trip() -> None:
    message = {"id": 7, "method": "router.dump", "target": "abc", "data": {"x": [1, 2]}}
    assert FrameDecoder().feed(encode_frame(message)) == [message]


@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**64 - 1), max_size=4),
        max_size=6,
    ),
    st.data(),
)
def test_split_and_merged_reads(messages: list[dict[str, int]], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(message) for message in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder = FrameDecoder()
    received = []
    start = 0
    for cut in [*cuts, len(stream)]:
        received += decoder.feed(stream[start:cut])
        start = cut
    assert received == messages


def test_oversized_length_rejected() -> None:
    with pytest.raises(FramingError, match="exceeds the limit"):
        FrameDecoder().feed(struct.pack("!I", MAX_FRAME_SIZE + 1))


def test_non_map_frame_rejected() -> None:
    payload = msgpack.packb([1, 2])
    with pytest.raises(FramingError, match="contains a list, expected a map"):
        FrameDecoder().feed(struct.pack("!I", len(payload)) + payload)


def test_garbage_frame_rejected() -> None:
    with pytest.raises(FramingError, match="invalid msgpack"):
        FrameDecoder().feed(struct.pack("!I", 2) + b"\xc1\xc1")

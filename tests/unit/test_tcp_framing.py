"""RFC 4571 framing of ICE over TCP: frames split and merged across reads."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.tcp_framing import MAX_FRAME_SIZE, FrameDecoder, TcpFramingError, frame


def test_frame_prefixes_length() -> None:
    assert frame(b"abc") == b"\x00\x03abc"
    assert frame(b"") == b"\x00\x00"
    assert frame(bytes(MAX_FRAME_SIZE))[:2] == b"\xff\xff"


def test_frame_too_large() -> None:
    with pytest.raises(ValueError) as raised:
        frame(bytes(MAX_FRAME_SIZE + 1))

    assert str(raised.value) == (
        "invalid RFC 4571 frame payload: 65536 bytes, the maximum is 65535"
    )


def test_decode_merged_frames() -> None:
    decoder = FrameDecoder()

    packets = decoder.feed(frame(b"stun") + frame(b"dtls record") + frame(b"x"))

    assert packets == [b"stun", b"dtls record", b"x"]
    assert decoder.buffered == 0


def test_decode_split_frame() -> None:
    decoder = FrameDecoder()
    data = frame(b"rtp packet")

    assert decoder.feed(data[:1]) == []
    assert decoder.buffered == 1
    assert decoder.feed(data[1:5]) == []
    assert decoder.feed(data[5:]) == [b"rtp packet"]
    assert decoder.buffered == 0


def test_decode_frame_and_part() -> None:
    decoder = FrameDecoder()
    data = frame(b"first") + frame(b"second")

    assert decoder.feed(data[:10]) == [b"first"]
    assert decoder.buffered == 3
    assert decoder.feed(data[10:]) == [b"second"]


def test_zero_length_frame_skipped() -> None:
    decoder = FrameDecoder()

    packets = decoder.feed(b"\x00\x00" + frame(b"a") + b"\x00\x00\x00\x00")

    assert packets == [b"a"]
    assert decoder.buffered == 0


def test_frame_above_limit() -> None:
    decoder = FrameDecoder(max_frame_size=2048)
    decoder.feed(frame(bytes(2048)))

    with pytest.raises(TcpFramingError) as raised:
        decoder.feed(b"\x08\x01")

    assert str(raised.value) == "invalid RFC 4571 frame length 2049: the maximum is 2048 bytes"


def test_buffer_bounded_by_limit() -> None:
    decoder = FrameDecoder(max_frame_size=100)

    decoder.feed(b"\x00\x64" + bytes(99))

    assert decoder.buffered == 101


@pytest.mark.parametrize("size", [0, MAX_FRAME_SIZE + 1])
def test_invalid_max_frame_size(size: int) -> None:
    with pytest.raises(ValueError) as raised:
        FrameDecoder(max_frame_size=size)

    assert str(raised.value) == f"invalid max_frame_size {size}: expected 1 to 65535"


@given(
    packets=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_split_yields_packets(packets: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(packet) for packet in packets)
    positions = sorted({cut % (len(stream) + 1) for cut in cuts})
    bounds = [0, *positions, len(stream)]
    decoder = FrameDecoder()

    received: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        received += decoder.feed(stream[start:end])

    assert received == [packet for packet in packets if packet]
    assert decoder.buffered == 0

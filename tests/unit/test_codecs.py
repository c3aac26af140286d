"""Key-frame detection and payload descriptors, on payloads from real encoders.

VP8 and H.264 payloads come from aiortc's encoders and packetizers. VP9 and AV1 frames come
from PyAV's libvpx-vp9 and SVT-AV1 encoders and are packetized by the small helpers below,
because aiortc has no packetizer for them.
"""

import fractions
import random
from collections.abc import Iterator

import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.codecs import (
    Vp8PayloadDescriptor,
    Vp9PayloadDescriptor,
    av1_is_key_frame,
    h264_is_key_frame,
    is_key_frame,
    key_frame_detector,
    vp8_is_key_frame,
    vp9_is_key_frame,
)
from workers.rtp import RtpPacket

WIDTH = 320
HEIGHT = 240
FRAME_COUNT = 3
MAX_FRAGMENT = 1000


def _frames() -> Iterator[av.VideoFrame]:
    # Noise makes the frames large, so each one spans many packets.
    rng = random.Random(1)
    for index in range(FRAME_COUNT):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane in frame.planes:
            plane.update(rng.randbytes(plane.buffer_size))
        frame.pts = index
        frame.time_base = fractions.Fraction(1, 30)
        yield frame


def _aiortc_payloads(mime_type: str) -> list[list[bytes]]:
    encoder = get_encoder(
        RTCRtpCodecParameters(mimeType=mime_type, clockRate=90000, payloadType=96)
    )
    frames = []
    for index, frame in enumerate(_frames()):
        payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
        frames.append(payloads)
    return frames


def _encode(codec_name: str, options: dict[str, str]) -> list[tuple[bytes, bool]]:
    context = av.CodecContext.create(codec_name, "w")
    context.width = WIDTH
    context.height = HEIGHT
    context.pix_fmt = "yuv420p"
    context.time_base = fractions.Fraction(1, 30)
    context.options = options
    packets = []
    for frame in _frames():
        packets.extend(context.encode(frame))
    packets.extend(context.encode(None))
    return [(bytes(packet), packet.is_keyframe) for packet in packets]


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + MAX_FRAGMENT] for i in range(0, len(data), MAX_FRAGMENT)]


def _packetize_vp9(frame: bytes, key: bool, picture_id: int) -> list[bytes]:
    # RFC 9628 §4.2 in non-flexible mode without layer indices. The key frame's first packet
    # carries a scalability structure with one resolution, as libwebrtc sends it.
    chunks = _chunks(frame)
    payloads = []
    for index, chunk in enumerate(chunks):
        first = 0x80  # I
        if not key:
            first |= 0x40  # P
        if index == 0:
            first |= 0x08  # B
        if index == len(chunks) - 1:
            first |= 0x04  # E
        descriptor = bytes((first, 0x80 | picture_id >> 8, picture_id & 0xFF))
        if key and index == 0:
            descriptor = bytes((descriptor[0] | 0x02,)) + descriptor[1:]
            descriptor += bytes((0x10,)) + WIDTH.to_bytes(2, "big") + HEIGHT.to_bytes(2, "big")
        payloads.append(descriptor + chunk)
    return payloads


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _obus(temporal_unit: bytes) -> list[bytes]:
    # Low overhead bitstream format: every OBU has obu_has_size_field set.
    obus = []
    offset = 0
    while offset < len(temporal_unit):
        header = temporal_unit[offset]
        header_size = 2 if header & 0x04 else 1
        size = 0
        shift = 0
        position = offset + header_size
        while True:
            byte = temporal_unit[position]
            size |= (byte & 0x7F) << shift
            shift += 7
            position += 1
            if not byte & 0x80:
                break
        obus.append(temporal_unit[offset : position + size])
        offset = position + size
    return obus


def _packetize_av1(temporal_unit: bytes, key: bool, set_n_bit: bool) -> list[bytes]:
    # One OBU element per packet (W=1), fragmented with the Z and Y bits. Temporal
    # delimiters (OBU type 2) are not sent over RTP.
    payloads = []
    for obu in _obus(temporal_unit):
        if (obu[0] >> 3) & 0x0F == 2:
            continue
        chunks = _chunks(obu)
        for index, chunk in enumerate(chunks):
            header = 0x10  # W=1
            if index > 0:
                header |= 0x80  # Z
            if index < len(chunks) - 1:
                header |= 0x40  # Y
            if key and set_n_bit and not payloads:
                header |= 0x08  # N
            payloads.append(bytes((header,)) + chunk)
    return payloads


@pytest.fixture(scope="module")
def vp8_frames() -> list[list[bytes]]:
    return _aiortc_payloads("video/VP8")


@pytest.fixture(scope="module")
def h264_frames() -> list[list[bytes]]:
    return _aiortc_payloads("video/H264")


@pytest.fixture(scope="module")
def vp9_frames() -> list[tuple[bytes, bool]]:
    return _encode("libvpx-vp9", {"lag-in-frames": "0", "deadline": "realtime", "cpu-used": "8"})


@pytest.fixture(scope="module")
def av1_frames() -> list[tuple[bytes, bool]]:
    return _encode("libsvtav1", {"preset": "12"})


def test_vp8_key_frame_first_packet(vp8_frames: list[list[bytes]]) -> None:
    key_frame = vp8_frames[0]
    assert len(key_frame) > 1
    assert vp8_is_key_frame(key_frame[0]) is True
    assert [vp8_is_key_frame(payload) for payload in key_frame[1:]] == [False] * (
        len(key_frame) - 1
    )


def test_vp8_inter_frames(vp8_frames: list[list[bytes]]) -> None:
    for frame in vp8_frames[1:]:
        assert [vp8_is_key_frame(payload) for payload in frame] == [False] * len(frame)


def test_vp8_descriptor_from_encoder(vp8_frames: list[list[bytes]]) -> None:
    first = Vp8PayloadDescriptor.parse(vp8_frames[0][0])
    second = Vp8PayloadDescriptor.parse(vp8_frames[1][0])
    assert first.start_of_partition is True
    assert first.partition_index == 0
    assert first.two_byte_picture_id is True
    assert first.picture_id is not None
    assert second.picture_id == (first.picture_id + 1) & 0x7FFF
    assert first.size == 4
    assert Vp8PayloadDescriptor.parse(vp8_frames[0][1]).start_of_partition is False


def test_vp8_descriptor_all_fields() -> None:
    # X, N, S; then I L T K; 7-bit picture ID 5; TL0PICIDX 200; TID 2, Y, KEYIDX 3.
    payload = bytes.fromhex("b0 f0 05 c8 a3") + b"\x00\x00\x00\x9d\x01\x2a"
    descriptor = Vp8PayloadDescriptor.parse(payload)
    assert descriptor == Vp8PayloadDescriptor(
        non_reference=True,
        start_of_partition=True,
        partition_index=0,
        picture_id=5,
        two_byte_picture_id=False,
        tl0_pic_idx=200,
        tid=2,
        layer_sync=True,
        key_idx=3,
        size=5,
        is_key_frame=True,
    )


def test_vp8_inverse_key_bit() -> None:
    assert vp8_is_key_frame(bytes.fromhex("1000")) is True
    assert vp8_is_key_frame(bytes.fromhex("1001")) is False
    # Partition 1 start is not a frame start.
    assert vp8_is_key_frame(bytes.fromhex("1100")) is False


def test_vp8_with_offsets() -> None:
    data = b"\xff" * 12 + bytes.fromhex("1000") + b"\xff"
    assert vp8_is_key_frame(data, 12, 14) is True
    assert vp8_is_key_frame(data, 12, 13) is False


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "VP8 payload is empty"),
        (bytes.fromhex("90"), "VP8 extension byte is truncated: needs byte 2, payload ends at 1"),
        (bytes.fromhex("9080"), "VP8 picture ID is truncated: needs byte 3, payload ends at 2"),
        (
            bytes.fromhex("90 80 80"),
            "VP8 15-bit picture ID is truncated: needs byte 4, payload ends at 3",
        ),
        (bytes.fromhex("9040"), "VP8 TL0PICIDX is truncated: needs byte 3, payload ends at 2"),
        (bytes.fromhex("9020"), "VP8 TID/KEYIDX is truncated: needs byte 3, payload ends at 2"),
    ],
)
def test_vp8_truncated_descriptor(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError) as error:
        Vp8PayloadDescriptor.parse(payload)
    assert str(error.value) == message
    assert vp8_is_key_frame(payload) is False


def test_h264_key_frame_packets(h264_frames: list[list[bytes]]) -> None:
    key_frame = h264_frames[0]
    # aiortc sends SPS and PPS in a STAP-A, then the IDR as FU-A fragments.
    assert key_frame[0][0] & 0x1F == 24
    assert h264_is_key_frame(key_frame[0]) is True
    assert key_frame[1][0] & 0x1F == 28
    assert h264_is_key_frame(key_frame[1]) is True
    assert [h264_is_key_frame(payload) for payload in key_frame[2:]] == [False] * (
        len(key_frame) - 2
    )


def test_h264_inter_frames(h264_frames: list[list[bytes]]) -> None:
    for frame in h264_frames[1:]:
        assert frame[0][0] & 0x1F == 28
        assert [h264_is_key_frame(payload) for payload in frame] == [False] * len(frame)


def test_h264_single_nal_units() -> None:
    assert h264_is_key_frame(bytes.fromhex("67 42 c0 1e")) is True  # SPS
    assert h264_is_key_frame(bytes.fromhex("65 88 84 00")) is True  # first IDR slice
    assert h264_is_key_frame(bytes.fromhex("68 ce 3c 80")) is False  # PPS
    assert h264_is_key_frame(bytes.fromhex("41 9a 00 00")) is False  # non-IDR slice


def test_h264_later_idr_slice_not_key() -> None:
    # first_mb_in_slice != 0: the top bit of the slice header's first byte is clear.
    assert h264_is_key_frame(bytes.fromhex("6501")) is False
    assert h264_is_key_frame(bytes.fromhex("7c 85 01")) is False
    assert h264_is_key_frame(bytes.fromhex("18 00 02 65 01")) is False


def test_h264_key_frame_slices(h264_frames: list[list[bytes]]) -> None:
    # With sliced threads, x264 splits a frame into one slice per thread, each sent as FU-A
    # fragments. Only the first slice's start is a key-frame start.
    slice_starts = [p for p in h264_frames[0] if p[0] & 0x1F == 28 and p[1] & 0x80]
    detected = [h264_is_key_frame(payload) for payload in slice_starts]
    assert detected == [True] + [False] * (len(slice_starts) - 1)


def test_h264_stap_a() -> None:
    sei_and_sps = bytes.fromhex("18 00 02 06 01 00 03 67 42 c0")
    assert h264_is_key_frame(sei_and_sps) is True
    pps_and_idr = bytes.fromhex("18 00 02 68 ce 00 03 65 88 84")
    assert h264_is_key_frame(pps_and_idr) is True
    pps_only = bytes.fromhex("18 00 02 68 ce")
    assert h264_is_key_frame(pps_only) is False
    # A NAL size past the end stops the walk without reading out of bounds.
    assert h264_is_key_frame(bytes.fromhex("18 00 ff 06")) is False


def test_h264_fu_a() -> None:
    assert h264_is_key_frame(bytes.fromhex("7c 85 88")) is True  # start of IDR
    assert h264_is_key_frame(bytes.fromhex("7c 05 88")) is False  # middle of IDR
    assert h264_is_key_frame(bytes.fromhex("7c 87 00")) is True  # start of SPS
    assert h264_is_key_frame(bytes.fromhex("7c")) is False


def test_vp9_frames_from_encoder(vp9_frames: list[tuple[bytes, bool]]) -> None:
    assert [key for _, key in vp9_frames] == [True, False, False]
    for picture_id, (frame, key) in enumerate(vp9_frames):
        payloads = _packetize_vp9(frame, key, picture_id)
        assert len(payloads) > 1
        detected = [vp9_is_key_frame(payload) for payload in payloads]
        assert detected == [key] + [False] * (len(payloads) - 1)


def test_vp9_descriptor_from_encoder(vp9_frames: list[tuple[bytes, bool]]) -> None:
    frame, key = vp9_frames[0]
    first, second = _packetize_vp9(frame, key, 300)[:2]
    descriptor = Vp9PayloadDescriptor.parse(first)
    assert descriptor.picture_id == 300
    assert descriptor.two_byte_picture_id is True
    assert descriptor.has_scalability_structure is True
    assert descriptor.size == 8
    assert first[descriptor.size :] == frame[:MAX_FRAGMENT]
    assert Vp9PayloadDescriptor.parse(second).size == 3


def test_vp9_layer_indices() -> None:
    # I P L B; 7-bit picture ID 9; TID 1, U, SID 1, D; TL0PICIDX 17.
    descriptor = Vp9PayloadDescriptor.parse(bytes.fromhex("a8 09 33 11"))
    assert descriptor.tid == 1
    assert descriptor.switching_up is True
    assert descriptor.sid == 1
    assert descriptor.inter_layer_dependency is True
    assert descriptor.tl0_pic_idx == 17
    assert descriptor.is_key_frame is False
    assert descriptor.size == 4


def test_vp9_spatial_layer_zero_key() -> None:
    # L B with TID 0, SID 0: not inter-predicted, start of frame.
    assert vp9_is_key_frame(bytes.fromhex("28 00 00")) is True
    # SID 1 of a key picture is not where a receiver can start.
    assert vp9_is_key_frame(bytes.fromhex("28 02 00")) is False
    # B unset: not the first packet of the frame.
    assert vp9_is_key_frame(bytes.fromhex("00")) is False
    assert vp9_is_key_frame(bytes.fromhex("08")) is True


def test_vp9_flexible_mode_reference_indices() -> None:
    # I P L F B; picture ID 1; layer byte; two P_DIFF bytes (N set on the first).
    descriptor = Vp9PayloadDescriptor.parse(bytes.fromhex("f8 01 00 03 04 ff"))
    assert descriptor.flexible is True
    assert descriptor.tl0_pic_idx is None
    assert descriptor.size == 5


def test_vp9_scalability_structure_with_picture_group() -> None:
    # V only; N_S=0, Y, G; one resolution; N_G=1; picture group with 2 references.
    payload = bytes.fromhex("0a 18 01 40 00 f0 01 08 01 02 aa")
    descriptor = Vp9PayloadDescriptor.parse(payload)
    assert descriptor.size == 10
    assert payload[descriptor.size :] == b"\xaa"


def test_vp9_truncated() -> None:
    with pytest.raises(ValueError) as error:
        Vp9PayloadDescriptor.parse(bytes.fromhex("a001"))
    assert str(error.value) == "VP9 layer indices is truncated: needs byte 3, payload ends at 2"
    assert vp9_is_key_frame(bytes.fromhex("a801")) is False
    assert vp9_is_key_frame(b"") is False


def test_av1_n_bit(av1_frames: list[tuple[bytes, bool]]) -> None:
    assert [key for _, key in av1_frames[:2]] == [True, False]
    for temporal_unit, key in av1_frames:
        payloads = _packetize_av1(temporal_unit, key, set_n_bit=True)
        detected = [av1_is_key_frame(payload) for payload in payloads]
        assert detected == [key] + [False] * (len(payloads) - 1)


def test_av1_sequence_header_without_n_bit(av1_frames: list[tuple[bytes, bool]]) -> None:
    temporal_unit, key = av1_frames[0]
    payloads = _packetize_av1(temporal_unit, key, set_n_bit=False)
    assert payloads[0][0] & 0x08 == 0
    assert (payloads[0][1] >> 3) & 0x0F == 1
    assert av1_is_key_frame(payloads[0]) is True
    assert [av1_is_key_frame(payload) for payload in payloads[1:]] == [False] * (len(payloads) - 1)


def test_av1_aggregated_elements(av1_frames: list[tuple[bytes, bool]]) -> None:
    # W=0: every element has a LEB128 length. The sequence header is the second element.
    sequence_header = next(obu for obu in _obus(av1_frames[0][0]) if (obu[0] >> 3) & 0x0F == 1)
    metadata = bytes.fromhex("2a00")  # OBU type 5 (metadata), empty
    payload = b"\x00" + _leb128(len(metadata)) + metadata + _leb128(len(sequence_header))
    payload += sequence_header
    assert av1_is_key_frame(payload) is True
    assert av1_is_key_frame(b"\x00" + _leb128(len(metadata)) + metadata) is False


def test_av1_continuation_not_read() -> None:
    # Z=1, W=1: the only element continues an OBU, so its first byte is not an OBU header.
    assert av1_is_key_frame(bytes.fromhex("90 0a 0b")) is False
    assert av1_is_key_frame(bytes.fromhex("10 0a 0b")) is True


def test_av1_truncated_length() -> None:
    assert av1_is_key_frame(bytes.fromhex("00ff")) is False
    assert av1_is_key_frame(b"") is False


def test_dispatch_by_mime_type(vp8_frames: list[list[bytes]]) -> None:
    assert key_frame_detector("video/VP8") is vp8_is_key_frame
    assert key_frame_detector("video/h264") is h264_is_key_frame
    assert key_frame_detector("audio/opus") is None
    packet = RtpPacket.parse(RtpPacket(96, 1, 2, 3, payload=vp8_frames[0][0]).serialize())
    assert is_key_frame("video/VP8", packet) is True
    assert is_key_frame("audio/opus", packet) is False


def _vp8_parse_key(payload: bytes) -> bool:
    try:
        return Vp8PayloadDescriptor.parse(payload).is_key_frame
    except ValueError:
        return False


def _vp9_parse_key(payload: bytes) -> bool:
    try:
        return Vp9PayloadDescriptor.parse(payload).is_key_frame
    except ValueError:
        return False


@settings(max_examples=500)
@given(st.binary(max_size=12))
def test_vp8_fast_path_matches_parse(payload: bytes) -> None:
    assert vp8_is_key_frame(payload) == _vp8_parse_key(payload)


@settings(max_examples=500)
@given(st.binary(max_size=12))
def test_vp9_fast_path_matches_parse(payload: bytes) -> None:
    assert vp9_is_key_frame(payload) == _vp9_parse_key(payload)


@settings(max_examples=300)
@given(st.binary(max_size=16))
def test_detectors_accept_any_bytes(payload: bytes) -> None:
    for detector in (vp8_is_key_frame, vp9_is_key_frame, h264_is_key_frame, av1_is_key_frame):
        assert detector(payload) in (True, False)

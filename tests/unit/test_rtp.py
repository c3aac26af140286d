"""RTP parsing, serialization, per-consumer rewrites and RTX, on byte strings."""

import struct

import pytest
from aiortc import rtp as aiortc_rtp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.rtp import (
    ONE_BYTE_PROFILE,
    TWO_BYTE_PROFILE,
    URI_ABS_CAPTURE_TIME,
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_DEPENDENCY_DESCRIPTOR,
    URI_MID,
    URI_PLAYOUT_DELAY,
    URI_RID,
    URI_RRID,
    URI_TOFFSET,
    URI_TRANSPORT_CC,
    URI_VIDEO_ORIENTATION,
    OutgoingHeaderExtensions,
    RtpPacket,
    abs_send_time,
    build_extension_block,
    build_outgoing_extension_block,
    encode_abs_send_time,
    extension_ids_by_uri,
    find_extension,
    map_extension_ids,
    read_abs_send_time,
    read_audio_level,
    read_mid,
    read_rid,
    read_transport_sequence_number,
    remap_extensions,
    rewrite_header,
    rewrite_packet,
    rtx_decapsulate,
    rtx_encapsulate,
    set_extension_value,
    set_marker,
    set_payload_type,
    set_sequence_number,
    set_ssrc,
    set_timestamp,
)

# Marker set, PT 96, seq 0x1234, ts 12345, SSRC 0xdeadbeef. One-byte extensions: ID 1 = "0"
# (1 byte), ID 4 = 01 02 03 (3 bytes), two zero padding bytes.
ONE_BYTE_PACKET = (
    bytes.fromhex("90e01234 00003039 deadbeef bede0002 10304201 02030000") + b"payload"
)

# Two-byte extensions: ID 1 with an empty value, ID 20 = aa bb, two padding bytes.
TWO_BYTE_PACKET = bytes.fromhex("90600001 00000002 00000003 10000002 01001402 aabb0000 0102")

# Two CSRCs and 3 bytes of padding after a 2-byte payload.
CSRC_PADDING_PACKET = bytes.fromhex("a2600001 00000064 00000005 11111111 22222222 61620000 03")


def test_parse_header_fields() -> None:
    packet = RtpPacket.parse(ONE_BYTE_PACKET)
    assert packet.version == 2
    assert packet.marker is True
    assert packet.payload_type == 96
    assert packet.sequence_number == 0x1234
    assert packet.timestamp == 12345
    assert packet.ssrc == 0xDEADBEEF
    assert packet.csrcs == ()
    assert packet.padding is False
    assert packet.padding_size == 0


def test_parse_one_byte_extensions() -> None:
    packet = RtpPacket.parse(ONE_BYTE_PACKET)
    assert packet.extension_profile == ONE_BYTE_PROFILE
    assert packet.extensions == {1: b"0", 4: b"\x01\x02\x03"}
    assert packet.payload_offset == 24
    assert packet.payload == b"payload"


def test_round_trip_one_byte() -> None:
    assert RtpPacket.parse(ONE_BYTE_PACKET).serialize() == ONE_BYTE_PACKET
    assert bytes(RtpPacket.parse(ONE_BYTE_PACKET)) == ONE_BYTE_PACKET


def test_parse_two_byte_extensions() -> None:
    packet = RtpPacket.parse(TWO_BYTE_PACKET)
    assert packet.extension_profile == TWO_BYTE_PROFILE
    assert packet.extensions == {1: b"", 20: b"\xaa\xbb"}
    assert packet.payload == b"\x01\x02"


def test_round_trip_two_byte() -> None:
    assert RtpPacket.parse(TWO_BYTE_PACKET).serialize() == TWO_BYTE_PACKET


def test_two_byte_profile_app_bits_accepted() -> None:
    data = bytearray(TWO_BYTE_PACKET)
    data[13] = 0x05  # profile 0x1005
    packet = RtpPacket.parse(bytes(data))
    assert packet.extension_profile == 0x1005
    assert packet.extensions == {1: b"", 20: b"\xaa\xbb"}


def test_round_trip_csrcs_and_padding() -> None:
    packet = RtpPacket.parse(CSRC_PADDING_PACKET)
    assert packet.csrcs == (0x11111111, 0x22222222)
    assert packet.padding is True
    assert packet.padding_size == 3
    assert packet.payload == b"ab"
    assert packet.serialize() == CSRC_PADDING_PACKET


def test_padding_only_packet() -> None:
    data = bytes.fromhex("a0600001 00000064 00000005") + bytes(199) + b"\xc8"
    packet = RtpPacket.parse(data)
    assert packet.payload_size == 0
    assert packet.padding_size == 200
    assert packet.serialize() == data


def test_one_byte_padding_between_elements() -> None:
    data = bytes.fromhex("90600001 00000000 00000001 bede0002 00103000 20610000")
    assert RtpPacket.parse(data).extensions == {1: b"0", 2: b"a"}


def test_one_byte_reserved_id_stops_parsing() -> None:
    # RFC 8285 §4.2: elements after ID 15 are ignored, even a truncated one.
    data = bytes.fromhex("90600001 00000000 00000001 bede0002 1030f03f 00000000")
    assert RtpPacket.parse(data).extensions == {1: b"0"}


def test_unknown_profile_skipped() -> None:
    data = bytes.fromhex("90600001 00000000 00000001 abcd0001 10301030") + b"x"
    packet = RtpPacket.parse(data)
    assert packet.extension_profile == 0xABCD
    assert packet.extensions == {}
    assert packet.payload == b"x"


def test_constructed_packet_serialize() -> None:
    packet = RtpPacket(
        96,
        0x1234,
        12345,
        0xDEADBEEF,
        marker=True,
        extensions={1: b"0", 4: b"\x01\x02\x03"},
        payload=b"payload",
    )
    assert packet.serialize() == ONE_BYTE_PACKET


def test_constructed_packet_padding() -> None:
    packet = RtpPacket(96, 1, 100, 5, csrcs=(0x11111111, 0x22222222), payload=b"ab", padding_size=3)
    assert packet.serialize() == CSRC_PADDING_PACKET


def test_payload_setter() -> None:
    packet = RtpPacket.parse(ONE_BYTE_PACKET)
    packet.payload = b"new"
    assert packet.serialize() == ONE_BYTE_PACKET[:24] + b"new"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x60\x00", "RTP packet is 3 bytes, shorter than the 12-byte fixed header"),
        (bytes.fromhex("40600001 00000000 00000001"), "RTP version 1 is invalid, expected 2"),
        (
            bytes.fromhex("83600001 00000000 00000001 00000002"),
            "RTP CSRC list is truncated: CSRC count 3 needs 24 bytes, packet has 16",
        ),
        (
            bytes.fromhex("90600001 00000000 00000001 bede"),
            "RTP header extension is truncated: its 4-byte header at offset 12 does not fit "
            "in 14 bytes",
        ),
        (
            bytes.fromhex("90600001 00000000 00000001 bede0002 10300000"),
            "RTP header extension is truncated: length 2 words ends at byte 24, packet has 20",
        ),
        (
            bytes.fromhex("90600001 00000000 00000001 bede0001 13300000"),
            "RTP header extension element 1 is truncated: 4 bytes at offset 17, the block "
            "ends at 20",
        ),
        (
            bytes.fromhex("90600001 00000000 00000001 10000001 01053000"),
            "RTP header extension element 1 is truncated: 5 bytes at offset 18, the block "
            "ends at 20",
        ),
        (
            bytes.fromhex("90600001 00000000 00000001 10000001 00000007"),
            "RTP header extension element 7 is truncated: its length byte at offset 20 is "
            "past the block end 20",
        ),
        (
            bytes.fromhex("a0600001 00000000 00000001 616200"),
            "RTP padding size 0 is invalid: payload and padding have 3 bytes",
        ),
        (
            bytes.fromhex("a0600001 00000000 00000001 616205"),
            "RTP padding size 5 is invalid: payload and padding have 3 bytes",
        ),
    ],
)
def test_malformed_packet_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as error:
        RtpPacket.parse(data)
    assert str(error.value) == message


def test_build_block_one_byte() -> None:
    block = build_extension_block({1: b"0", 4: b"\x01\x02\x03"})
    assert block == bytes.fromhex("bede0002 10304201 02030000")


def test_build_block_two_byte_for_long_value() -> None:
    block = build_extension_block({1: b"0", 2: bytes(17)})
    assert block[:2] == b"\x10\x00"
    assert block == bytes.fromhex("10000006 01013002 11") + bytes(17) + bytes(2)


def test_build_block_two_byte_for_high_id() -> None:
    assert build_extension_block([(15, b"a")]) == bytes.fromhex("10000001 0f016100")


def test_build_block_two_byte_for_empty_value() -> None:
    assert build_extension_block({3: b""}) == bytes.fromhex("10000001 03000000")


def test_build_block_empty() -> None:
    assert build_extension_block({}) == b""


def test_build_block_invalid_id() -> None:
    with pytest.raises(ValueError) as error:
        build_extension_block({256: b"a"})
    assert str(error.value) == "RTP header extension ID 256 is invalid, expected 1..255"


def test_build_block_value_too_long() -> None:
    with pytest.raises(ValueError) as error:
        build_extension_block({3: bytes(256)})
    assert str(error.value) == "RTP header extension 3 value is 256 bytes, the maximum is 255"


def test_serialize_invalid_padding() -> None:
    with pytest.raises(ValueError) as error:
        RtpPacket(padding_size=256).serialize()
    assert str(error.value) == "RTP padding size 256 is invalid, expected 1..255"


def test_set_header_fields_in_place() -> None:
    data = bytearray(ONE_BYTE_PACKET)
    set_payload_type(data, 111)
    set_sequence_number(data, 65535)
    set_timestamp(data, 0xFFFFFFFF)
    set_ssrc(data, 0x01020304)
    packet = RtpPacket.parse(bytes(data))
    assert packet.payload_type == 111
    assert packet.marker is True
    assert packet.sequence_number == 65535
    assert packet.timestamp == 0xFFFFFFFF
    assert packet.ssrc == 0x01020304
    assert bytes(data[12:]) == ONE_BYTE_PACKET[12:]


def test_set_marker_in_place() -> None:
    data = bytearray(ONE_BYTE_PACKET)
    set_marker(data, False)
    assert data[1] == 0x60
    set_marker(data, True)
    assert data[1] == 0xE0


def test_rewrite_header_keeps_marker() -> None:
    data = bytearray(ONE_BYTE_PACKET)
    rewrite_header(data, 100, 0, 7, 9)
    assert bytes(data[:12]) == bytes.fromhex("90e40000 00000007 00000009")
    assert bytes(data[12:]) == ONE_BYTE_PACKET[12:]


def test_find_extension_one_byte() -> None:
    assert find_extension(ONE_BYTE_PACKET, 4) == (19, 3)
    assert find_extension(ONE_BYTE_PACKET, 1) == (17, 1)
    assert find_extension(ONE_BYTE_PACKET, 2) is None


def test_find_extension_two_byte() -> None:
    assert find_extension(TWO_BYTE_PACKET, 20) == (20, 2)
    assert find_extension(TWO_BYTE_PACKET, 1) == (18, 0)


def test_find_extension_without_block() -> None:
    assert find_extension(CSRC_PADDING_PACKET, 1) is None


def test_set_extension_value_same_length() -> None:
    data = bytearray(ONE_BYTE_PACKET)
    assert set_extension_value(data, 4, b"\xaa\xbb\xcc") is True
    assert RtpPacket.parse(bytes(data)).extensions[4] == b"\xaa\xbb\xcc"


def test_set_extension_value_length_mismatch() -> None:
    data = bytearray(ONE_BYTE_PACKET)
    assert set_extension_value(data, 4, b"\xaa") is False
    assert set_extension_value(data, 9, b"\xaa") is False
    assert bytes(data) == ONE_BYTE_PACKET


def test_abs_send_time_fixed_point() -> None:
    assert abs_send_time(1.5) == 0x060000
    assert abs_send_time(0.0) == 0
    # Only the low 6 bits of the seconds are kept: 64.25 s wraps to 0.25 s.
    assert abs_send_time(64.25) == 0x010000
    assert abs_send_time(63.999999) == 0xFFFFFF


def test_encode_abs_send_time() -> None:
    assert encode_abs_send_time(1.5) == b"\x06\x00\x00"
    assert read_abs_send_time(b"\x06\x00\x00") == 0x060000


def test_outgoing_extensions_one_byte() -> None:
    template = OutgoingHeaderExtensions(
        {6: b"\x85"}, mid_id=1, abs_send_time_id=4, transport_cc_id=5
    )
    block = template.build(mid=b"3", now=1.5, transport_sequence_number=0xABCD)
    assert block == bytes.fromhex("bede0003 60851033 42060000 51abcd00")


def test_outgoing_extensions_skip_placeholders() -> None:
    # Incoming values under the generated IDs are replaced, never copied.
    template = OutgoingHeaderExtensions(
        {1: b"old", 4: b"\x00\x00\x01", 6: b"\x85"}, mid_id=1, abs_send_time_id=4
    )
    assert template.build(mid=b"7") == build_extension_block({6: b"\x85", 1: b"7"})


def test_outgoing_extensions_not_negotiated() -> None:
    template = OutgoingHeaderExtensions({}, mid_id=0, abs_send_time_id=0, transport_cc_id=5)
    assert template.build(mid=b"3", now=1.0, transport_sequence_number=1) == bytes.fromhex(
        "bede0001 51000100"
    )


def test_outgoing_extensions_empty() -> None:
    assert OutgoingHeaderExtensions({}, mid_id=1).build() == b""


def test_outgoing_extensions_two_byte_for_long_dd() -> None:
    descriptor = bytes(range(20))
    template = OutgoingHeaderExtensions({7: descriptor}, mid_id=1, transport_cc_id=5)
    block = template.build(mid=b"10", transport_sequence_number=2)
    assert block == build_extension_block({7: descriptor, 1: b"10", 5: b"\x00\x02"})
    assert block[:2] == b"\x10\x00"
    assert RtpPacket.parse(bytes.fromhex("90600001 00000000 00000001") + block).extensions == {
        7: descriptor,
        1: b"10",
        5: b"\x00\x02",
    }


def test_outgoing_extensions_long_mid() -> None:
    mid = b"m" * 17
    block = OutgoingHeaderExtensions({6: b"\x01"}, mid_id=1).build(mid=mid)
    assert block == build_extension_block({6: b"\x01", 1: mid})


def test_outgoing_extensions_invalid_id() -> None:
    with pytest.raises(ValueError) as error:
        OutgoingHeaderExtensions({}, mid_id=15)
    assert str(error.value) == (
        "generated header extension ID 15 is invalid, expected 1..14, or 0 for none"
    )


def test_build_outgoing_block_function() -> None:
    block = build_outgoing_extension_block(
        {6: b"\x85"},
        mid_id=1,
        mid=b"3",
        abs_send_time_id=4,
        now=1.5,
        transport_cc_id=5,
        transport_sequence_number=0xABCD,
    )
    assert block == bytes.fromhex("bede0003 60851033 42060000 51abcd00")


def test_rewrite_packet_new_header() -> None:
    packet = RtpPacket.parse(ONE_BYTE_PACKET)
    block = build_extension_block({1: b"9"})
    data = rewrite_packet(
        packet,
        payload_type=100,
        sequence_number=0,
        timestamp=0xFFFFFFFF,
        ssrc=7,
        extension_block=block,
    )
    assert isinstance(data, bytes)
    assert data == bytes.fromhex("90e40000 ffffffff 00000007") + block + b"payload"


def test_rewrite_packet_keeps_csrcs_and_padding() -> None:
    packet = RtpPacket.parse(CSRC_PADDING_PACKET)
    data = rewrite_packet(
        packet, payload_type=97, sequence_number=2, timestamp=3, ssrc=4, extension_block=b""
    )
    assert data == bytes.fromhex("a2610002 00000003 00000004 11111111 22222222 61620000 03")


def test_rewrite_packet_marker_override() -> None:
    packet = RtpPacket.parse(CSRC_PADDING_PACKET)
    data = rewrite_packet(
        packet,
        payload_type=97,
        sequence_number=2,
        timestamp=3,
        ssrc=4,
        extension_block=b"",
        marker=True,
    )
    assert data[1] == 0xE1


def test_rewrite_constructed_packet_adds_padding() -> None:
    packet = RtpPacket(96, 1, 100, 5, payload=b"ab", padding_size=2)
    data = rewrite_packet(
        packet, payload_type=96, sequence_number=1, timestamp=100, ssrc=5, extension_block=b""
    )
    assert data == bytes.fromhex("a0600001 00000064 00000005 61620002")


def test_rtx_decapsulate() -> None:
    # RTX packet: PT 97, seq 7, SSRC 0xbbbb, OSN 65535, original payload "abc".
    rtx = RtpPacket.parse(
        bytes.fromhex("90610007 00000064 0000bbbb bede0001 10300000 ffff") + b"abc"
    )
    packet = rtx_decapsulate(rtx, 96, 0xAAAA)
    assert packet.payload_type == 96
    assert packet.ssrc == 0xAAAA
    assert packet.sequence_number == 65535
    assert packet.timestamp == 100
    assert packet.payload == b"abc"
    assert packet.extensions == {1: b"0"}
    assert packet.buffer is rtx.buffer
    assert (
        packet.serialize() == bytes.fromhex("9060ffff 00000064 0000aaaa bede0001 10300000") + b"abc"
    )


def test_rtx_decapsulate_too_short() -> None:
    rtx = RtpPacket.parse(bytes.fromhex("80610007 00000064 0000bbbb ff"))
    with pytest.raises(ValueError) as error:
        rtx_decapsulate(rtx, 96, 0xAAAA)
    assert str(error.value) == (
        "RTX payload is 1 bytes, too short for the 2-byte original sequence number"
    )


def test_rtx_encapsulate_round_trip() -> None:
    original = RtpPacket.parse(ONE_BYTE_PACKET)
    rtx = rtx_encapsulate(original, 97, 0xBBBB, 0)
    data = rtx.serialize()
    assert (
        data
        == bytes.fromhex("90e10000 00003039 0000bbbb bede0002 10304201 02030000 1234") + b"payload"
    )
    restored = rtx_decapsulate(RtpPacket.parse(data), 96, 0xDEADBEEF)
    assert restored.serialize() == ONE_BYTE_PACKET


def test_read_audio_level() -> None:
    assert read_audio_level(b"\x85") == (True, 5)
    assert read_audio_level(b"\x7f") == (False, 127)


def test_read_audio_level_empty() -> None:
    with pytest.raises(ValueError) as error:
        read_audio_level(b"")
    assert str(error.value) == "ssrc-audio-level value is empty, expected 1 byte"


def test_read_mid_and_rid() -> None:
    assert read_mid(b"0") == "0"
    assert read_rid(b"r1") == "r1"


def test_read_mid_invalid() -> None:
    with pytest.raises(ValueError) as error:
        read_mid(b"\xff")
    assert str(error.value) == "MID value b'\\xff' is not ASCII"
    with pytest.raises(ValueError) as error:
        read_rid(b"")
    assert str(error.value) == "RID value is empty"


def test_read_transport_sequence_number() -> None:
    assert read_transport_sequence_number(b"\xff\xfe") == 65534
    with pytest.raises(ValueError) as error:
        read_transport_sequence_number(b"\x01")
    assert str(error.value) == "transport-wide sequence number value is 1 bytes, expected 2"


def test_read_abs_send_time_wrong_size() -> None:
    with pytest.raises(ValueError) as error:
        read_abs_send_time(b"\x01\x02")
    assert str(error.value) == "abs-send-time value is 2 bytes, expected 3"


ROUTER_CAPABILITY_EXTENSIONS = [
    {"kind": "audio", "uri": URI_MID, "preferredId": 1},
    {"kind": "video", "uri": URI_MID, "preferredId": 1},
    {"kind": "video", "uri": URI_RID, "preferredId": 2},
    {"kind": "video", "uri": URI_RRID, "preferredId": 3},
    {"kind": "video", "uri": URI_ABS_SEND_TIME, "preferredId": 4},
    {"kind": "video", "uri": URI_TRANSPORT_CC, "preferredId": 5},
    {"kind": "audio", "uri": URI_AUDIO_LEVEL, "preferredId": 6},
    {"kind": "video", "uri": URI_DEPENDENCY_DESCRIPTOR, "preferredId": 7},
    {"kind": "video", "uri": URI_VIDEO_ORIENTATION, "preferredId": 8},
    {"kind": "video", "uri": URI_ABS_CAPTURE_TIME, "preferredId": 9},
    {"kind": "video", "uri": URI_PLAYOUT_DELAY, "preferredId": 10},
]


def test_map_extension_ids_keeps_forwarded() -> None:
    # Chrome-like producer IDs that differ from the router's.
    producer = [
        {"uri": URI_MID, "id": 4},
        {"uri": URI_RID, "id": 10},
        {"uri": URI_RRID, "id": 11},
        {"uri": URI_ABS_SEND_TIME, "id": 2},
        {"uri": URI_TRANSPORT_CC, "id": 3},
        {"uri": URI_VIDEO_ORIENTATION, "id": 13},
        {"uri": URI_PLAYOUT_DELAY, "id": 12},
        {"uri": URI_TOFFSET, "id": 14},
        {"uri": URI_DEPENDENCY_DESCRIPTOR, "id": 9},
    ]
    router_ids = extension_ids_by_uri(ROUTER_CAPABILITY_EXTENSIONS, id_key="preferredId")
    mapping = map_extension_ids(extension_ids_by_uri(producer), router_ids)
    assert mapping == {4: 1, 2: 4, 3: 5, 13: 8, 12: 10, 9: 7}


def test_remap_extensions_drops_unmapped() -> None:
    extensions = {4: b"0", 10: b"r0", 13: b"\x01", 14: b"\x00\x00\x01"}
    assert remap_extensions(extensions, {4: 1, 13: 8}) == {1: b"0", 8: b"\x01"}


def _aiortc_map() -> aiortc_rtp.HeaderExtensionsMap:
    extension_map = aiortc_rtp.HeaderExtensionsMap()
    extension_map.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri=URI_MID),
                RTCRtpHeaderExtensionParameters(id=4, uri=URI_ABS_SEND_TIME),
                RTCRtpHeaderExtensionParameters(id=5, uri=URI_TRANSPORT_CC),
                RTCRtpHeaderExtensionParameters(id=6, uri=URI_AUDIO_LEVEL),
            ]
        )
    )
    return extension_map


def test_parse_aiortc_packet() -> None:
    packet = aiortc_rtp.RtpPacket(
        payload_type=111, marker=1, sequence_number=65535, timestamp=960, ssrc=1234
    )
    packet.extensions.mid = "audio"
    packet.extensions.abs_send_time = 0x123456
    packet.extensions.transport_sequence_number = 42
    packet.extensions.audio_level = (True, 30)
    packet.payload = b"\x01" * 40
    parsed = RtpPacket.parse(packet.serialize(_aiortc_map()))
    assert parsed.sequence_number == 65535
    assert read_mid(parsed.extensions[1]) == "audio"
    assert read_abs_send_time(parsed.extensions[4]) == 0x123456
    assert read_transport_sequence_number(parsed.extensions[5]) == 42
    assert read_audio_level(parsed.extensions[6]) == (True, 30)
    assert parsed.payload == b"\x01" * 40


def test_aiortc_parses_outgoing_packet() -> None:
    packet = RtpPacket.parse(ONE_BYTE_PACKET)
    block = OutgoingHeaderExtensions(
        {6: b"\x9e"}, mid_id=1, abs_send_time_id=4, transport_cc_id=5
    ).build(mid=b"video", now=2.0, transport_sequence_number=7)
    data = rewrite_packet(
        packet, payload_type=96, sequence_number=1, timestamp=2, ssrc=3, extension_block=block
    )
    parsed = aiortc_rtp.RtpPacket.parse(data, _aiortc_map())
    assert parsed.extensions.mid == "video"
    assert parsed.extensions.abs_send_time == 0x080000
    assert parsed.extensions.transport_sequence_number == 7
    assert parsed.extensions.audio_level == (True, 30)
    assert parsed.payload == b"payload"


def test_parse_accepts_struct_packed_header() -> None:
    data = struct.pack("!BBHII", 0x80, 0x7F, 0, 0, 0)
    packet = RtpPacket.parse(data)
    assert packet.payload_type == 127
    assert packet.marker is False
    assert packet.payload == b""


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_parse_random_bytes_raises_value_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(b"\x90" + data)
    except ValueError:
        return
    assert packet.payload_offset <= packet.payload_end <= len(packet.buffer)


@settings(max_examples=300)
@given(
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 65535),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    extensions=st.dictionaries(st.integers(1, 255), st.binary(max_size=20), max_size=5),
    payload=st.binary(max_size=40),
    padding_size=st.integers(0, 255),
)
def test_serialize_parse_round_trip(
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    marker: bool,
    csrcs: list[int],
    extensions: dict[int, bytes],
    payload: bytes,
    padding_size: int,
) -> None:
    packet = RtpPacket(
        payload_type,
        sequence_number,
        timestamp,
        ssrc,
        marker=marker,
        csrcs=tuple(csrcs),
        extensions=extensions,
        payload=payload,
        padding_size=padding_size,
    )
    data = packet.serialize()
    parsed = RtpPacket.parse(data)
    assert parsed.payload_type == payload_type
    assert parsed.sequence_number == sequence_number
    assert parsed.timestamp == timestamp
    assert parsed.ssrc == ssrc
    assert parsed.marker == marker
    assert parsed.csrcs == tuple(csrcs)
    assert parsed.extensions == extensions
    assert parsed.payload == payload
    assert parsed.padding_size == padding_size
    assert parsed.serialize() == data

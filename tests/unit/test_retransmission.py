"""Retransmission buffer: storage limits, NACK handling and RTX packets, in virtual time."""

import pytest

from workers.retransmission import (
    AUDIO_MAX_AGE,
    DEFAULT_RTT,
    VIDEO_MAX_AGE,
    RetransmissionBuffer,
)
from workers.rtcp import GenericNack
from workers.rtp import RtpPacket, rtx_decapsulate

MEDIA_PT = 96
MEDIA_SSRC = 0x1234
RTX_PT = 97
RTX_SSRC = 0x5678

# Media packet 65535: marker, PT 96, timestamp 0x11223344, SSRC 0x1234, MID "0" as
# one-byte extension 1, payload aa bb cc.
PACKET_65535 = bytes.fromhex("90e0ffff 11223344 00001234 bede0001 10300000 aabbcc")
# Its RTX copy as the first packet of an RTX stream starting at 1000: PT 97, RTX sequence
# number 1000, SSRC 0x5678, same timestamp, marker and extension, payload = OSN ffff + aa bb cc.
RTX_65535 = bytes.fromhex("90e103e8 11223344 00005678 bede0001 10300000 ffffaabbcc")


def _packet(seq: int, payload: bytes = b"\xaa\xbb\xcc") -> bytes:
    packet = RtpPacket(
        MEDIA_PT,
        seq,
        0x11223344,
        MEDIA_SSRC,
        marker=True,
        extensions={1: b"0"},
        payload=payload,
    )
    return packet.serialize()


def _store_range(buffer: RetransmissionBuffer, now: float, first: int, count: int) -> None:
    for offset in range(count):
        seq = (first + offset) & 0xFFFF
        assert buffer.store(now, seq, _packet(seq)) is True


def _rtx_buffer(first_rtx_seq: int = 1000) -> RetransmissionBuffer:
    return RetransmissionBuffer(
        "video", rtx_payload_type=RTX_PT, rtx_ssrc=RTX_SSRC, rtx_sequence_number=first_rtx_seq
    )


def test_fixture_matches_builder() -> None:
    assert _packet(65535) == PACKET_65535


def test_resend_original_without_rtx() -> None:
    buffer = RetransmissionBuffer("video")
    _store_range(buffer, 0.0, 65530, 10)
    assert buffer.on_nack(0.5, [65535, 1]) == [_packet(65535), _packet(1)]
    assert buffer.nack_count == 1
    assert buffer.nack_packet_count == 2
    assert buffer.packets_retransmitted == 2
    assert buffer.packets_repaired == 2
    assert buffer.bytes_retransmitted == 2 * len(_packet(1))


def test_rtx_packet_bytes() -> None:
    buffer = _rtx_buffer()
    buffer.store(0.0, 65535, PACKET_65535)
    assert buffer.on_nack(0.1, [65535]) == [RTX_65535]
    assert buffer.rtx_sequence_number == 1001


def test_rtx_across_wrap() -> None:
    buffer = _rtx_buffer(first_rtx_seq=65535)
    _store_range(buffer, 0.0, 65533, 6)
    nack = GenericNack.parse(bytes.fromhex("81cd0003 00000001 00001234 fffe0003"))
    resends = buffer.on_nack(0.1, nack.sequence_numbers())
    assert len(resends) == 3

    packets = [RtpPacket.parse(data) for data in resends]
    # RTX sequence numbers run on their own and wrap too.
    assert [packet.sequence_number for packet in packets] == [65535, 0, 1]
    assert {packet.payload_type for packet in packets} == {RTX_PT}
    assert {packet.ssrc for packet in packets} == {RTX_SSRC}
    assert [packet.payload[:2] for packet in packets] == [b"\xff\xfe", b"\xff\xff", b"\x00\x00"]
    originals = [rtx_decapsulate(packet, MEDIA_PT, MEDIA_SSRC) for packet in packets]
    assert [bytes(original) for original in originals] == [
        _packet(65534),
        _packet(65535),
        _packet(0),
    ]


def test_nack_for_unstored_packet() -> None:
    buffer = RetransmissionBuffer("video")
    _store_range(buffer, 0.0, 65530, 10)
    # 65529 was never stored, 4 not yet sent, 50000 far away.
    assert buffer.on_nack(0.1, [65529, 4, 50000]) == []
    assert buffer.skip_counters["not_stored"] == 3
    assert buffer.packets_retransmitted == 0


def test_nack_before_any_packet() -> None:
    buffer = RetransmissionBuffer("audio")
    assert buffer.on_nack(0.0, [1, 2]) == []
    assert buffer.skip_counters["not_stored"] == 2


def test_count_limit_evicts_oldest() -> None:
    buffer = RetransmissionBuffer("video", max_packets=4)
    _store_range(buffer, 0.0, 65534, 6)
    # Only 0..3 remain: 65534 and 65535 were overwritten by 0 and 1.
    assert buffer.on_nack(0.1, [65534, 65535, 0]) == [_packet(0)]
    assert buffer.skip_counters["not_stored"] == 2
    assert len(buffer) == 4


def test_too_old_packet_skipped() -> None:
    video = RetransmissionBuffer("video")
    video.store(0.0, 65535, _packet(65535))
    video.store(0.0, 0, _packet(0))
    assert video.on_nack(VIDEO_MAX_AGE + 0.01, [65535, 0]) == []
    assert video.skip_counters["too_old"] == 2

    audio = RetransmissionBuffer("audio")
    audio.store(0.0, 65535, _packet(65535))
    audio.store(0.5, 0, _packet(0))
    assert audio.on_nack(AUDIO_MAX_AGE - 0.01, [65535]) == [_packet(65535)]
    assert audio.on_nack(AUDIO_MAX_AGE + 0.01, [65535, 0]) == [_packet(0)]
    assert audio.skip_counters["too_old"] == 1


def test_configured_max_age() -> None:
    buffer = RetransmissionBuffer("video", max_age=0.5)
    buffer.store(0.0, 65535, _packet(65535))
    buffer.store(0.2, 0, _packet(0))
    assert buffer.on_nack(0.6, [65535, 0]) == [_packet(0)]
    assert buffer.skip_counters["too_old"] == 1


def test_expired_packets_released() -> None:
    buffer = RetransmissionBuffer("video")
    _store_range(buffer, 0.0, 65530, 10)
    assert len(buffer) == 10
    buffer.store(2.5, 4, _packet(4))
    assert len(buffer) == 1
    assert buffer.on_nack(2.5, [65535, 4]) == [_packet(4)]


def test_resend_once_per_rtt() -> None:
    buffer = RetransmissionBuffer("video")
    _store_range(buffer, 0.0, 65535, 2)
    assert buffer.on_nack(1.0, [65535, 0]) == [_packet(65535), _packet(0)]
    assert buffer.on_nack(1.0 + DEFAULT_RTT / 2, [65535, 0]) == []
    assert buffer.skip_counters["recently_resent"] == 2
    assert buffer.on_nack(1.0 + DEFAULT_RTT + 0.001, [0]) == [_packet(0)]
    assert buffer.packets_retransmitted == 3
    assert buffer.packets_repaired == 2

    buffer.set_rtt(0.3)
    assert buffer.rtt == 0.3
    assert buffer.on_nack(1.3, [0]) == []
    assert buffer.on_nack(1.402, [0]) == [_packet(0)]
    buffer.set_rtt(0)
    assert buffer.rtt == DEFAULT_RTT


def test_rate_limit_per_nack() -> None:
    buffer = RetransmissionBuffer("video", max_resends_per_nack=3)
    _store_range(buffer, 0.0, 65534, 5)
    first = buffer.on_nack(0.1, [65534, 65535, 0, 1, 2])
    assert first == [_packet(65534), _packet(65535), _packet(0)]
    assert buffer.skip_counters["rate_limited"] == 2
    # The requests left over were not marked as resent, so the next NACK gets them.
    second = buffer.on_nack(0.1, [65534, 65535, 0, 1, 2])
    assert second == [_packet(1), _packet(2)]
    assert buffer.skip_counters["recently_resent"] == 3


def test_duplicate_store_rejected() -> None:
    buffer = RetransmissionBuffer("video")
    assert buffer.store(0.0, 65535, _packet(65535)) is True
    assert buffer.store(0.0, 0, _packet(0)) is True
    assert buffer.store(0.01, 65535, _packet(65535)) is False
    assert buffer.store(0.01, 0, _packet(0)) is False
    assert len(buffer) == 2


def test_out_of_order_store() -> None:
    buffer = RetransmissionBuffer("video")
    buffer.store(0.0, 2, _packet(2))
    buffer.store(0.0, 65535, _packet(65535))
    buffer.store(0.0, 1, _packet(1))
    assert buffer.on_nack(0.1, [65535, 0, 1, 2]) == [_packet(65535), _packet(1), _packet(2)]
    assert buffer.skip_counters["not_stored"] == 1


def test_jump_past_capacity_clears() -> None:
    buffer = RetransmissionBuffer("video", max_packets=100)
    _store_range(buffer, 0.0, 65530, 10)
    buffer.store(0.0, 4534, _packet(4534))
    assert len(buffer) == 1
    assert buffer.on_nack(0.1, [65535, 0, 4534]) == [_packet(4534)]


def test_clear_drops_packets() -> None:
    buffer = _rtx_buffer()
    _store_range(buffer, 0.0, 65535, 3)
    buffer.clear()
    assert len(buffer) == 0
    assert buffer.on_nack(0.1, [65535, 0, 1]) == []
    assert buffer.store(0.2, 0, _packet(0)) is True
    assert len(buffer.on_nack(0.3, [65535, 0])) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "data"}, "kind 'data' is invalid, expected 'audio' or 'video'"),
        ({"max_packets": 0}, "max_packets 0 is invalid, expected >= 1"),
        ({"max_age": 0.0}, "max_age 0.0 is invalid, expected > 0 seconds"),
        ({"max_resends_per_nack": 0}, "max_resends_per_nack 0 is invalid, expected >= 1"),
        ({"rtx_payload_type": 97}, "rtx_payload_type 97 and rtx_ssrc None must be given together"),
        (
            {"rtx_payload_type": 128, "rtx_ssrc": 1},
            "rtx_payload_type 128 is invalid, expected 0..127",
        ),
        (
            {"rtx_payload_type": 97, "rtx_ssrc": -1},
            "rtx_ssrc -1 is invalid, expected 0..4294967295",
        ),
        (
            {"rtx_payload_type": 97, "rtx_ssrc": 1, "rtx_sequence_number": 65536},
            "rtx_sequence_number 65536 is invalid, expected 0..65535",
        ),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"kind": "video", **kwargs}
    with pytest.raises(ValueError) as error:
        RetransmissionBuffer(**arguments)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_random_rtx_sequence_number() -> None:
    buffer = RetransmissionBuffer("video", rtx_payload_type=RTX_PT, rtx_ssrc=RTX_SSRC)
    assert 0 <= buffer.rtx_sequence_number < 0x8000

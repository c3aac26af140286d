"""RTCP codecs and the compound reader, on byte strings."""

import pytest
from aiortc import rtp as aiortc_rtp
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.rtcp import (
    Bye,
    Dlrr,
    ExtendedReport,
    Fir,
    GenericNack,
    Pli,
    ReceiverReferenceTime,
    ReceiverReport,
    Remb,
    ReportBlock,
    SdesChunk,
    SenderReport,
    SourceDescription,
    TransportCcFeedback,
    UnknownPacket,
    UnknownXrBlock,
    build_compound,
    build_sender_report,
    compact_ntp,
    ntp_from_seconds,
    read_compound,
    seconds_from_ntp,
)

PLI = bytes.fromhex("81ce0002 00000001 00000002")
FIR = bytes.fromhex("84ce0006 00000001 00000000 0000aaaa 05000000 0000bbbb ff000000")
NACK_ACROSS_WRAP = bytes.fromhex("81cd0003 00000001 00000002 ffff0003")
# REMB of 1,000,000 bit/s: exponent 2, mantissa 250000 (0x3d090), one SSRC.
REMB = bytes.fromhex("8fce0005 00000001 00000000 52454d42 010bd090 0000aaaa")
# transport-cc with a 5-byte chunk area and RTCP padding (P bit, 3 padding bytes), as
# libwebrtc sends it. Reference time -1, feedback packet count 7.
TRANSPORT_CC = bytes.fromhex("afcd0006 00000001 00000002 fffe0003 ffffff07 20030102 03000003")
XR = bytes.fromhex(
    "80cf0008 00000001 04000002 01020304 05060708 05000003 00000002 11111111 00000abc"
)
BYE = bytes.fromhex("81cb0003 00000001 04627965 21000000")
SDES = bytes.fromhex("81ca0003 00000001 01056162 63646500")
APP = bytes.fromhex("80cc0003 00000001 6e616d65 01020304")


def _aiortc_sender_report(report_count: int = 1) -> bytes:
    reports = [
        aiortc_rtp.RtcpReceiverInfo(
            ssrc=0xAAAA,
            fraction_lost=12,
            packets_lost=-3,
            highest_sequence=0x1FFFF,
            jitter=90,
            lsr=0x12345678,
            dlsr=65536,
        )
    ] * report_count
    packet = aiortc_rtp.RtcpSrPacket(
        ssrc=0x1111,
        sender_info=aiortc_rtp.RtcpSenderInfo(
            ntp_timestamp=0xE1234567_89ABCDEF,
            rtp_timestamp=3000,
            packet_count=10,
            octet_count=12000,
        ),
        reports=reports,
    )
    return bytes(packet)


def test_sender_report_fields() -> None:
    report = SenderReport.parse(_aiortc_sender_report())
    assert report.ssrc == 0x1111
    assert report.ntp_timestamp == 0xE1234567_89ABCDEF
    assert report.rtp_timestamp == 3000
    assert report.packet_count == 10
    assert report.octet_count == 12000
    assert report.reports == [ReportBlock(0xAAAA, 12, -3, 0x1FFFF, 90, 0x12345678, 65536)]


def test_sender_report_round_trip() -> None:
    for count in (0, 1, 3):
        data = _aiortc_sender_report(count)
        assert bytes(SenderReport.parse(data)) == data


def test_sender_report_profile_extension() -> None:
    data = bytearray(_aiortc_sender_report(0) + b"\x01\x02\x03\x04")
    data[3] += 1
    report = SenderReport.parse(bytes(data))
    assert report.profile_extension == b"\x01\x02\x03\x04"
    assert bytes(report) == bytes(data)


def test_receiver_report_round_trip() -> None:
    packet = aiortc_rtp.RtcpRrPacket(
        ssrc=0x2222,
        reports=[
            aiortc_rtp.RtcpReceiverInfo(
                ssrc=1,
                fraction_lost=255,
                packets_lost=8388607,
                highest_sequence=5,
                jitter=0,
                lsr=0,
                dlsr=0,
            ),
            aiortc_rtp.RtcpReceiverInfo(
                ssrc=2,
                fraction_lost=0,
                packets_lost=-8388608,
                highest_sequence=6,
                jitter=1,
                lsr=2,
                dlsr=3,
            ),
        ],
    )
    data = bytes(packet)
    report = ReceiverReport.parse(data)
    assert report.ssrc == 0x2222
    assert [block.packets_lost for block in report.reports] == [8388607, -8388608]
    assert bytes(report) == data


def test_report_block_clamps_loss() -> None:
    block = ReportBlock(1, packets_lost=10_000_000)
    assert ReportBlock.parse(bytes(block)).packets_lost == 0x7FFFFF


def test_receiver_report_count_overruns() -> None:
    data = bytes.fromhex("82c90007 00000001") + bytes(24)
    with pytest.raises(ValueError) as error:
        ReceiverReport.parse(data)
    assert str(error.value) == "RTCP report count 2 needs 52 bytes, body has 28"


def test_sdes_cname_round_trip() -> None:
    sdes = SourceDescription.parse(SDES)
    assert sdes.chunks == [SdesChunk(1, [(1, b"abcde")])]
    assert sdes.chunks[0].cname == "abcde"
    assert bytes(sdes) == SDES
    assert bytes(SourceDescription.for_cname(1, "abcde")) == SDES


def test_sdes_aligned_item_gets_null_word() -> None:
    # A chunk that ends on a 32-bit boundary needs a whole word of nulls.
    data = bytes(SourceDescription.for_cname(1, "ab"))
    assert data == bytes.fromhex("81ca0003 00000001 01026162 00000000")
    assert SourceDescription.parse(data).chunks[0].cname == "ab"


def test_sdes_parses_aiortc_chunk() -> None:
    # aiortc ends each chunk with two null bytes and pads only the packet end, which RFC 3550
    # §6.5 allows for a single chunk, so only one chunk is compared.
    packet = aiortc_rtp.RtcpSdesPacket(
        chunks=[aiortc_rtp.RtcpSourceInfo(ssrc=7, items=[(1, b"{cname}"), (2, b"name")])]
    )
    result = read_compound(bytes(packet))
    assert result.errors == []
    assert result.packets == [SourceDescription([SdesChunk(7, [(1, b"{cname}"), (2, b"name")])])]


def test_aiortc_parses_sdes() -> None:
    sdes = SourceDescription([SdesChunk(7, [(1, b"{cname}")])])
    (parsed,) = aiortc_rtp.RtcpPacket.parse(bytes(sdes))
    assert isinstance(parsed, aiortc_rtp.RtcpSdesPacket)
    assert [(chunk.ssrc, chunk.items) for chunk in parsed.chunks] == [(7, [(1, b"{cname}")])]


def test_sdes_two_chunks_round_trip() -> None:
    sdes = SourceDescription(
        [SdesChunk(7, [(1, b"{cname}")]), SdesChunk(8, [(1, b"x"), (2, b"n")])]
    )
    data = bytes(sdes)
    assert data == bytes.fromhex(
        "82ca0007 00000007 01077b63 6e616d65 7d000000 00000008 01017802 016e0000"
    )
    assert SourceDescription.parse(data) == sdes


def test_sdes_chunk_without_cname() -> None:
    assert SdesChunk(1, [(2, b"name")]).cname is None


def test_sdes_missing_terminator() -> None:
    data = bytes.fromhex("81ca0002 00000001 01026162")
    with pytest.raises(ValueError) as error:
        SourceDescription.parse(data)
    assert str(error.value) == "RTCP SDES chunk 0 has no terminating null item"


def test_bye_round_trip() -> None:
    bye = Bye.parse(BYE)
    assert bye == Bye([1], b"bye!")
    assert bytes(bye) == BYE
    assert bytes(Bye([1, 2])) == bytes.fromhex("82cb0002 00000001 00000002")


def test_nack_expands_across_wrap() -> None:
    nack = GenericNack.parse(NACK_ACROSS_WRAP)
    assert nack.sender_ssrc == 1
    assert nack.media_ssrc == 2
    assert nack.items == [(65535, 0x0003)]
    assert nack.sequence_numbers() == [65535, 0, 1]
    assert bytes(nack) == NACK_ACROSS_WRAP


def test_nack_build_across_wrap() -> None:
    nack = GenericNack.from_sequence_numbers(1, 2, [65535, 65536, 65537])
    assert bytes(nack) == NACK_ACROSS_WRAP
    nack16 = GenericNack.from_sequence_numbers(1, 2, [65535, 0, 1])
    assert bytes(nack16) == NACK_ACROSS_WRAP


def test_nack_build_many_items() -> None:
    lost = [10, 11, 26, 27, 100]
    nack = GenericNack.from_sequence_numbers(1, 2, lost)
    assert nack.items == [(10, 0x8001), (27, 0), (100, 0)]
    assert nack.sequence_numbers() == lost


def test_nack_build_skips_duplicates() -> None:
    nack = GenericNack.from_sequence_numbers(1, 2, [5, 5, 6, 6])
    assert nack.items == [(5, 0x0001)]


def test_nack_matches_aiortc() -> None:
    lost = [1, 2, 3, 20, 36, 37]
    theirs = aiortc_rtp.RtcpRtpfbPacket(fmt=1, ssrc=1, media_ssrc=2, lost=lost)
    assert bytes(GenericNack.from_sequence_numbers(1, 2, lost)) == bytes(theirs)
    assert GenericNack.parse(bytes(theirs)).sequence_numbers() == lost


def test_nack_body_not_aligned() -> None:
    with pytest.raises(ValueError) as error:
        GenericNack._from_body(1, bytes(10))
    assert str(error.value) == "RTCP NACK body is 10 bytes, not a multiple of 4"


def test_transport_cc_header() -> None:
    feedback = TransportCcFeedback.parse(TRANSPORT_CC)
    assert feedback.sender_ssrc == 1
    assert feedback.media_ssrc == 2
    assert feedback.base_sequence_number == 0xFFFE
    assert feedback.packet_status_count == 3
    assert feedback.reference_time == -1
    assert feedback.feedback_packet_count == 7
    assert feedback.packet_chunks == bytes.fromhex("20030102 03")


def test_transport_cc_round_trip_with_padding() -> None:
    assert bytes(TransportCcFeedback.parse(TRANSPORT_CC)) == TRANSPORT_CC


def test_pli_round_trip() -> None:
    pli = Pli.parse(PLI)
    assert pli == Pli(1, 2)
    assert bytes(pli) == PLI
    assert bytes(aiortc_rtp.RtcpPsfbPacket(fmt=1, ssrc=1, media_ssrc=2)) == PLI


def test_fir_round_trip() -> None:
    fir = Fir.parse(FIR)
    assert fir.sender_ssrc == 1
    assert fir.media_ssrc == 0
    assert fir.entries == [(0xAAAA, 5), (0xBBBB, 255)]
    assert bytes(fir) == FIR


def test_fir_sequence_number_wraps_to_byte() -> None:
    assert Fir.parse(bytes(Fir(1, [(2, 256)]))).entries == [(2, 0)]


def test_fir_fci_not_aligned() -> None:
    data = bytes.fromhex("84ce0003 00000001 00000000 0000aaaa")
    with pytest.raises(ValueError) as error:
        Fir.parse(data)
    assert str(error.value) == "RTCP FIR FCI is 4 bytes, not a multiple of 8"


def test_remb_round_trip() -> None:
    remb = Remb.parse(REMB)
    assert remb == Remb(1, 1_000_000, [0xAAAA])
    assert bytes(remb) == REMB


def test_remb_matches_aiortc() -> None:
    fci = aiortc_rtp.pack_remb_fci(123_456_789, [5, 6])
    theirs = bytes(aiortc_rtp.RtcpPsfbPacket(fmt=15, ssrc=1, media_ssrc=0, fci=fci))
    remb = Remb.parse(theirs)
    assert remb.ssrcs == [5, 6]
    assert remb.bitrate == aiortc_rtp.unpack_remb_fci(fci)[0]
    assert bytes(remb) == theirs


def test_remb_small_bitrate() -> None:
    assert Remb.parse(bytes(Remb(1, 300, []))).bitrate == 300


def test_remb_wrong_identifier() -> None:
    data = bytes.fromhex("8fce0004 00000001 00000000 52454d43 00000000")
    with pytest.raises(ValueError) as error:
        Remb.parse(data)
    assert str(error.value) == "RTCP AFB identifier b'REMC' is not b'REMB'"


def test_extended_report_round_trip() -> None:
    report = ExtendedReport.parse(XR)
    assert report.ssrc == 1
    assert report.blocks == [
        ReceiverReferenceTime(0x0102030405060708),
        Dlrr([(2, 0x11111111, 0xABC)]),
    ]
    assert bytes(report) == XR


def test_extended_report_unknown_block_kept() -> None:
    data = bytes.fromhex("80cf0004 00000001 07010002 aabbccdd eeff0011")
    report = ExtendedReport.parse(data)
    assert report.blocks == [UnknownXrBlock(7, 1, bytes.fromhex("aabbccdd eeff0011"))]
    assert bytes(report) == data


def test_extended_report_block_overruns() -> None:
    data = bytes.fromhex("80cf0003 00000001 04000002 01020304")
    with pytest.raises(ValueError) as error:
        ExtendedReport.parse(data)
    assert str(error.value) == ("RTCP XR block type 4 length 2 words overruns the 12-byte body")


def test_compound_skips_unknown_type() -> None:
    sender_report = _aiortc_sender_report()
    result = read_compound(sender_report + APP + PLI)
    assert result.errors == []
    assert [type(packet) for packet in result.packets] == [SenderReport, UnknownPacket, Pli]
    assert result.packets[1] == UnknownPacket(204, 0, bytes.fromhex("00000001 6e616d65 01020304"))
    assert build_compound(result.packets) == sender_report + APP + PLI


def test_compound_unknown_feedback_format() -> None:
    # PSFB FMT 2 (SLI) is not decoded.
    sli = bytes.fromhex("82ce0003 00000001 00000002 00000000")
    result = read_compound(sli + PLI)
    assert result.packets == [UnknownPacket(206, 2, sli[4:]), Pli(1, 2)]


def test_compound_all_types_round_trip() -> None:
    data = _aiortc_sender_report() + SDES + BYE + NACK_ACROSS_WRAP + TRANSPORT_CC + PLI + FIR
    data += REMB + XR
    result = read_compound(data)
    assert result.errors == []
    assert len(result.packets) == 9
    assert build_compound(result.packets) == data


def test_compound_invalid_body_reported() -> None:
    short_pli = bytes.fromhex("81ce0001 00000001")
    result = read_compound(PLI + short_pli + FIR)
    assert result.errors == [
        "RTCP packet type 206 count/FMT 1 at offset 12: RTCP PLI SSRCs is truncated: "
        "needs 8 bytes, body has 4"
    ]
    assert [type(packet) for packet in result.packets] == [Pli, Fir]


def test_compound_truncated_length_stops() -> None:
    result = read_compound(PLI + FIR[:-4])
    assert result.errors == [
        "RTCP packet type 206 at offset 12 is truncated: length field gives 28 bytes, 24 left"
    ]
    assert result.packets == [Pli(1, 2)]


def test_compound_truncated_header_stops() -> None:
    result = read_compound(PLI + b"\x81\xce")
    assert result.errors == ["RTCP header at offset 12 is truncated: 2 bytes left"]
    assert result.packets == [Pli(1, 2)]


def test_compound_bad_version_stops() -> None:
    result = read_compound(b"\x41\xce\x00\x02" + PLI[4:] + PLI)
    assert result.errors == ["RTCP version 1 at offset 0 is invalid, expected 2"]
    assert result.packets == []


def test_compound_bad_padding_reported() -> None:
    padded = bytes.fromhex("a1ce0003 00000001 00000002 0000000d")
    result = read_compound(padded + PLI)
    assert result.errors == [
        "RTCP packet type 206 count/FMT 1 at offset 0: RTCP padding size 13 is invalid for "
        "a 12-byte body"
    ]
    assert result.packets == [Pli(1, 2)]


def test_compound_padding_stripped() -> None:
    padded = bytes.fromhex("a1ce0003 00000001 00000002 00000004")
    assert read_compound(padded).packets == [Pli(1, 2)]


def test_compound_empty() -> None:
    result = read_compound(b"")
    assert result.packets == []
    assert result.errors == []


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        (Pli.parse, b"\x81\xce", "RTCP PSFB is 2 bytes, shorter than the 4-byte header"),
        (Pli.parse, PLI[:8], "RTCP PSFB length field gives 12 bytes, packet has 8"),
        (Pli.parse, FIR, "PSFB FMT 4 is not PLI (1)"),
        (Fir.parse, PLI, "PSFB FMT 1 is not FIR (4)"),
        (SenderReport.parse, PLI, "RTCP packet type 206 is not SR (200)"),
        (GenericNack.parse, TRANSPORT_CC, "RTPFB FMT 15 is not generic NACK (1)"),
        (Pli.parse, b"\xc1" + PLI[1:], "RTCP version 3 is invalid, expected 2"),
        (
            Bye.parse,
            bytes.fromhex("81cb0002 00000001 09620000"),
            "RTCP BYE reason length 9 overruns the 8-byte body",
        ),
    ],
)
def test_parse_error(parse: object, data: bytes, message: str) -> None:
    assert callable(parse)
    with pytest.raises(ValueError) as error:
        parse(data)
    assert str(error.value) == message


def test_build_sender_report_with_cname() -> None:
    data = build_sender_report(0x1111, 0xE1234567_89ABCDEF, 3000, 10, 12000, cname="abcde")
    assert data == _aiortc_sender_report(0) + bytes(SourceDescription.for_cname(0x1111, "abcde"))
    result = read_compound(data)
    assert isinstance(result.packets[1], SourceDescription)
    assert result.packets[1].chunks[0].cname == "abcde"


def test_build_sender_report_without_cname() -> None:
    assert build_sender_report(0x1111, 0xE1234567_89ABCDEF, 3000, 10, 12000) == (
        _aiortc_sender_report(0)
    )


def test_build_receiver_report() -> None:
    data = bytes(ReceiverReport(5, [ReportBlock(6, 1, 2, 3, 4, 5, 6)]))
    assert data == bytes.fromhex(
        "81c90007 00000005 00000006 01000002 00000003 00000004 00000005 00000006"
    )


def test_count_out_of_range() -> None:
    with pytest.raises(ValueError) as error:
        bytes(Bye(list(range(32))))
    assert str(error.value) == "RTCP count or FMT 32 is invalid, expected 0..31"


def test_ntp_conversion() -> None:
    ntp = ntp_from_seconds(1_700_000_000.5)
    assert ntp == (1_700_000_000 + 2_208_988_800) << 32 | 0x80000000
    assert seconds_from_ntp(ntp) == 1_700_000_000.5
    assert compact_ntp(ntp) == ((1_700_000_000 + 2_208_988_800) & 0xFFFF) << 16 | 0x8000


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_read_compound_random_bytes(data: bytes) -> None:
    # Version 2 in the first byte so the walk gets past the first header more often.
    result = read_compound(bytes([0x80 | (data[0] & 0x3F)]) + data[1:] if data else data)
    assert len(result.errors) <= len(data) // 4 + 1


_KNOWN_PACKETS = st.sampled_from(
    [_aiortc_sender_report(2), SDES, BYE, NACK_ACROSS_WRAP, TRANSPORT_CC, PLI, FIR, REMB, XR, APP]
)


@given(st.lists(_KNOWN_PACKETS, max_size=8))
def test_compound_round_trip_any_order(packets: list[bytes]) -> None:
    data = b"".join(packets)
    result = read_compound(data)
    assert result.errors == []
    assert len(result.packets) == len(packets)
    assert build_compound(result.packets) == data

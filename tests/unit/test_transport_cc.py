"""Transport-cc feedback: generator output bit by bit, the parser, and round trips.

Times are virtual seconds. Most tests start at 64 s, which is reference time 1000
(0x0003e8) in 64 ms units, so receive deltas count from 64.000 s.

Header layout of every expected packet (draft-holmer-rmcat-transport-wide-cc-extensions-01
§3.1): V=2, P, FMT=15 | PT=205 | length in words - 1 | sender SSRC | media SSRC | base
sequence number | packet status count | reference time (24 bits) | feedback packet count.
Bodies that are not a multiple of 4 bytes end in RTCP padding: zeros and a count byte, with
the P bit set (first byte 0xaf instead of 0x8f).
"""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from workers.rtcp import TransportCcFeedback, read_compound
from workers.transport_cc import (
    EARLY_FEEDBACK_PACKETS,
    TransportCcFeedbackGenerator,
    TransportFeedback,
)

MEDIA_SSRC = 0x11223344
START = 64.0


def _generate(arrivals: list[tuple[int, float]], poll_at: float) -> list[bytes]:
    generator = TransportCcFeedbackGenerator()
    for seq, arrival in arrivals:
        generator.on_packet(arrival, seq, MEDIA_SSRC)
    return generator.poll(poll_at)


def test_run_length_chunk() -> None:
    # Five packets 1 ms apart: all "received, small delta".
    packets = _generate([(100 + i, START + i * 0.001) for i in range(5)], START + 0.2)
    expected = bytes.fromhex(
        "afcd0006"  # V=2 P=1 FMT=15, PT=205, length 6 (28 bytes)
        "00000000"  # sender SSRC 0
        "11223344"  # media SSRC
        "0064 0005"  # base sequence number 100, 5 statuses
        "0003e8 00"  # reference time 1000 (64.000 s), feedback packet count 0
        "2005"  # run length chunk: T=0, symbol 01 (small delta), run 5
        "00 04 04 04 04"  # deltas in 250 µs ticks: 0, then 1 ms each
        "01"  # one byte of RTCP padding
    )
    assert packets == [expected]


def test_one_bit_vector_with_losses() -> None:
    # 14 packets 2 ms apart, 203 and 207 lost.
    arrivals = [
        (seq, START + (seq - 200) * 0.002) for seq in range(200, 214) if seq not in (203, 207)
    ]
    packets = _generate(arrivals, START + 0.2)
    expected = bytes.fromhex(
        "afcd0008"  # P=1, length 8 (36 bytes)
        "00000000 11223344"
        "00c8 000e"  # base 200, 14 statuses
        "0003e8 00"
        "bbbf"  # T=1 S=0, symbols 1110 1110 1111 11: 203 and 207 not received
        "00 08 08 10 08 08 10 08 08 08 08 08"  # 2 ms = 8 ticks, 4 ms across a loss
        "00 02"  # two bytes of padding
    )
    assert packets == [expected]


def test_two_bit_vector_with_large_delta() -> None:
    # The third packet arrives 100 ms after the second: 400 ticks need a large delta.
    arrivals = [(300, START), (301, START + 0.001), (302, START + 0.101), (303, START + 0.102)]
    packets = _generate(arrivals, START + 0.2)
    expected = bytes.fromhex(
        "afcd0006 00000000 11223344"
        "012c 0004"  # base 300, 4 statuses
        "0003e8 00"
        "d640"  # T=1 S=1, symbols 01 01 10 01 then 00 00 00 as padding
        "00 04 0190 04"  # 0, 1 ms, 100 ms as a 2-byte delta, 1 ms
        "01"
    )
    assert packets == [expected]


def test_negative_delta_out_of_order() -> None:
    # 401 arrives 5 ms before 400: packets are reported in sequence order, so 401 gets a
    # negative delta, which needs the large form.
    packets = _generate([(401, START + 0.005), (400, START + 0.010)], START + 0.2)
    expected = bytes.fromhex(
        "afcd0006 00000000 11223344"
        "0190 0002"  # base 400, 2 statuses
        "0003e8 00"
        "d800"  # T=1 S=1, symbols 01 10, padding symbols
        "28 ffec"  # 10 ms = 40 ticks, then -5 ms = -20 ticks
        "000003"  # three bytes of padding
    )
    assert packets == [expected]


def test_sequence_number_wrap() -> None:
    arrivals = [(seq, START + i * 0.001) for i, seq in enumerate((65534, 65535, 0, 1))]
    packets = _generate(arrivals, START + 0.2)
    expected = bytes.fromhex(
        "afcd0006 00000000 11223344"
        "fffe 0004"  # base 65534, 4 statuses: 65534, 65535, 0, 1
        "0003e8 00"
        "2004"  # run of 4 small deltas
        "00 04 04 04"
        "0002"
    )
    assert packets == [expected]
    results = TransportFeedback.parse(packets[0]).packet_results()
    assert [seq for seq, _ in results] == [65534, 65535, 0, 1]


def test_long_loss_gap() -> None:
    # 8999 packets lost between 0 and 9000: one 1-bit vector, then runs of "not received"
    # of the maximum 8191 and of the remaining 795, then the last packet.
    packets = _generate([(0, START), (9000, START + 0.010)], START + 0.2)
    expected = bytes.fromhex(
        "afcd0007 00000000 11223344"  # length 7 (32 bytes)
        "0000 2329"  # base 0, 9001 statuses
        "0003e8 00"
        "a000"  # T=1 S=0: received, then 13 lost
        "1fff"  # run length: symbol 00, run 8191
        "031b"  # run length: symbol 00, run 795
        "2001"  # run length: symbol 01, run 1
        "00 28"  # 0, then 10 ms = 40 ticks
        "0002"
    )
    assert packets == [expected]


def test_reference_time_wrap() -> None:
    # Reference time 0xffffff starts at 0xffffff * 64 ms; the next 64 ms wrap it to 0.
    wrap_start = 0xFFFFFF * 0.064
    generator = TransportCcFeedbackGenerator(interval=0.02)
    generator.on_packet(wrap_start + 0.001, 1, MEDIA_SSRC)
    first = generator.poll(wrap_start + 0.03)
    generator.on_packet(wrap_start + 0.064 + 0.002, 2, MEDIA_SSRC)
    second = generator.poll(wrap_start + 0.1)
    assert first == [
        bytes.fromhex(
            "afcd0005 00000000 11223344"
            "0001 0001"
            "ffffff 00"  # reference time 0xffffff, feedback packet count 0
            "2001 04"  # run of one small delta: 1 ms after the reference
            "01"
        )
    ]
    assert second == [
        bytes.fromhex(
            "afcd0005 00000000 11223344"
            "0002 0001"
            "000000 01"  # reference time wrapped to 0, feedback packet count 1
            "2001 08"  # 2 ms after the reference
            "01"
        )
    ]
    assert TransportFeedback.parse(first[0]).reference_time == -1
    assert TransportFeedback.parse(second[0]).reference_time == 0


def test_parse_libwebrtc_padding() -> None:
    # The fixture of the RTCP header tests: libwebrtc-style padding, reference time -1.
    data = bytes.fromhex("afcd0006 00000001 00000002 fffe0003 ffffff07 20030102 03000003")
    feedback = TransportFeedback.parse(data)
    assert feedback == TransportFeedback(1, 2, 0xFFFE, -1, 7, [1, 2, 3])
    assert feedback.packet_results() == [
        (0xFFFE, -64_000 + 250),
        (0xFFFF, -64_000 + 750),
        (0, -64_000 + 1500),
    ]
    assert bytes(feedback) == data


def test_parse_zero_padding_without_p_bit() -> None:
    # Some senders pad the body with zeros and leave the P bit clear.
    data = bytes.fromhex("8fcd0005 00000001 00000002 00050001 00000100 20010400")
    feedback = TransportFeedback.parse(data)
    assert feedback.deltas == [4]
    assert feedback.feedback_packet_count == 0
    assert feedback.reference_time == 1


def test_parse_from_compound() -> None:
    packets = _generate([(7, START), (9, START + 0.001)], START + 0.2)
    result = read_compound(packets[0])
    assert result.errors == []
    (packet,) = result.packets
    assert isinstance(packet, TransportCcFeedback)
    feedback = TransportFeedback.from_rtcp(packet)
    assert feedback.deltas == [0, None, 4]
    assert feedback.packet_results() == [(7, 64_000_000), (8, None), (9, 64_001_000)]


@pytest.mark.parametrize(
    ("status_count", "chunks", "message"),
    [
        (
            3,
            "2001 00",
            "transport-cc packet chunks are truncated: 1 of 3 statuses decoded at offset 2",
        ),
        (
            1,
            "6001",
            "transport-cc run length chunk 0x6001 at offset 0 has the reserved status symbol 3",
        ),
        (
            2,
            "f000",
            "transport-cc status vector chunk 0xf000 at offset 0 has the reserved status "
            "symbol 3 at position 0",
        ),
        (2, "2002 04", "transport-cc receive delta of packet 1 is truncated at offset 3"),
        (
            1,
            "2001 04 00000000",
            "transport-cc feedback has 4 bytes after the last receive delta, expected at most "
            "3 bytes of zero padding",
        ),
    ],
)
def test_parse_errors(status_count: int, chunks: str, message: str) -> None:
    packet = TransportCcFeedback(1, 2, 1, status_count, 0, 0, bytes.fromhex(chunks))
    with pytest.raises(ValueError) as error:
        TransportFeedback.parse(bytes(packet))
    assert str(error.value) == message


def test_encode_rejects_out_of_range_delta() -> None:
    feedback = TransportFeedback(0, 0, 0, 0, 0, [0x8000])
    with pytest.raises(ValueError) as error:
        bytes(feedback)
    assert (
        str(error.value)
        == "transport-cc receive delta 32768 ticks is invalid, expected -32768..32767"
    )


def test_encode_rejects_status_count_overflow() -> None:
    feedback = TransportFeedback(0, 0, 0, 0, 0, [None] * 0x10000)
    with pytest.raises(ValueError) as error:
        bytes(feedback)
    assert str(error.value) == (
        "transport-cc packet status count 65536 is invalid, the maximum is 65535"
    )


_DELTAS = st.lists(
    st.one_of(
        st.none(),
        st.integers(0, 255),
        st.integers(-0x8000, 0x7FFF),
    ),
    max_size=300,
)


@given(
    deltas=_DELTAS, base=st.integers(0, 0xFFFF), reference=st.integers(-(1 << 23), (1 << 23) - 1)
)
def test_codec_round_trip(deltas: list[int | None], base: int, reference: int) -> None:
    feedback = TransportFeedback(5, 6, base, reference, 200, deltas)
    data = bytes(feedback)
    assert len(data) % 4 == 0
    assert TransportFeedback.parse(data) == feedback
    assert bytes(TransportFeedback.parse(data)) == data


def test_generator_round_trip() -> None:
    # Losses, a reordered pair and a 100 ms stall, across the 65535 -> 0 wrap.
    arrivals: list[tuple[int, float]] = []
    time = START + 0.0123
    for index in range(120):
        seq = (65500 + index) & 0xFFFF
        time += 0.1 if index == 60 else 0.0015
        if index % 17 == 5:
            continue
        arrivals.append((seq, time))
    # Swap two arrival times so that 65511 arrives before 65510.
    (seq_a, time_a), (seq_b, time_b) = arrivals[10], arrivals[11]
    arrivals[10], arrivals[11] = (seq_a, time_b), (seq_b, time_a)
    generator = TransportCcFeedbackGenerator()
    for seq, arrival in sorted(arrivals, key=lambda item: item[1]):
        generator.on_packet(arrival, seq, MEDIA_SSRC)
    (packet,) = generator.poll(time + 0.1)

    reported = {seq: arrival for seq, arrival in TransportFeedback.parse(packet).packet_results()}
    assert len(reported) == 120
    for seq, arrival in arrivals:
        received_at = reported.pop(seq)
        assert received_at is not None
        # Deltas are truncated to 250 µs ticks without accumulating the error.
        assert 0 <= round(arrival * 1e6) - received_at < 250
    assert all(arrival is None for arrival in reported.values())


def test_timing_and_packet_count() -> None:
    generator = TransportCcFeedbackGenerator()
    assert generator.next_timeout() is None
    assert generator.poll(START) == []
    generator.on_packet(START, 1, MEDIA_SSRC)
    assert generator.next_timeout() == pytest.approx(START + 0.1)
    assert generator.poll(START + 0.099) == []
    counts = []
    for round_index in range(257):
        now = START + round_index
        generator.on_packet(now, round_index + 1, MEDIA_SSRC)
        (packet,) = generator.poll(now + 0.1)
        counts.append(TransportFeedback.parse(packet).feedback_packet_count)
    assert counts[:3] == [0, 1, 2]
    assert counts[255:] == [255, 0]


def test_nothing_pending_means_no_feedback() -> None:
    generator = TransportCcFeedbackGenerator()
    generator.on_packet(START, 1, MEDIA_SSRC)
    assert len(generator.poll(START + 0.1)) == 1
    assert generator.next_timeout() is None
    assert generator.poll(START + 0.2) == []
    # A duplicate of a reported packet does not start a round.
    assert generator.on_packet(START + 0.25, 1, MEDIA_SSRC) is False
    assert generator.next_timeout() is None


def test_late_packet_reported_again() -> None:
    generator = TransportCcFeedbackGenerator()
    generator.on_packet(START, 10, MEDIA_SSRC)
    generator.on_packet(START + 0.002, 12, MEDIA_SSRC)
    (first,) = generator.poll(START + 0.1)
    assert TransportFeedback.parse(first).deltas == [0, None, 8]

    # 11 arrives after being reported lost: the next round starts at 11 and reports 12
    # again, 2 ms before 11.
    generator.on_packet(START + 0.150, 11, MEDIA_SSRC)
    (second,) = generator.poll(START + 0.250)
    feedback = TransportFeedback.parse(second)
    assert feedback.base_sequence_number == 11
    assert feedback.reference_time == 1002  # 64.128 s
    assert feedback.deltas == [88, -592]  # 64.150 s, then 64.002 s
    assert feedback.feedback_packet_count == 1


def test_very_late_packet_ignored() -> None:
    generator = TransportCcFeedbackGenerator()
    generator.on_packet(START, 10, MEDIA_SSRC)
    generator.on_packet(START + 0.001, 12, MEDIA_SSRC)
    generator.poll(START + 0.1)
    # A new round 600 ms later drops the reported arrivals, so 11 can no longer be
    # reported next to them and is ignored.
    generator.on_packet(START + 0.6, 13, MEDIA_SSRC)
    generator.on_packet(START + 0.61, 11, MEDIA_SSRC)
    (packet,) = generator.poll(START + 0.7)
    feedback = TransportFeedback.parse(packet)
    assert feedback.base_sequence_number == 13
    assert feedback.reference_time == 1009  # 64.576 s
    assert feedback.deltas == [96]  # 24 ms later, in 250 µs ticks


def test_early_feedback_when_many_pending() -> None:
    generator = TransportCcFeedbackGenerator()
    due = [generator.on_packet(START + seq * 1e-4, seq, MEDIA_SSRC) for seq in range(260)]
    assert due.index(True) == EARLY_FEEDBACK_PACKETS - 1
    now = START + 0.026
    assert now < (generator.next_timeout() or 0)
    (packet,) = generator.poll(now)
    assert TransportFeedback.parse(packet).packet_status_count == 260


def test_splits_at_max_packet_size() -> None:
    # Alternating losses and 70 ms gaps: every packet costs a 2-bit symbol and a 2-byte delta.
    generator = TransportCcFeedbackGenerator()
    time = START
    for seq in range(0, 2000, 2):
        time += 0.07
        generator.on_packet(time, seq, MEDIA_SSRC)
    packets = generator.poll(time + 0.1)
    assert len(packets) > 1
    assert all(len(packet) <= 1200 for packet in packets)
    assert len(packets[0]) > 1100

    next_seq = 0
    received = 0
    for count, packet in enumerate(packets):
        feedback = TransportFeedback.parse(packet)
        assert feedback.feedback_packet_count == count
        assert feedback.base_sequence_number == next_seq
        next_seq += feedback.packet_status_count
        received += sum(1 for delta in feedback.deltas if delta is not None)
    assert next_seq == 1999
    assert received == 1000


def test_media_ssrc_is_latest() -> None:
    generator = TransportCcFeedbackGenerator(sender_ssrc=0xABCD)
    generator.on_packet(START, 1, 0x1111)
    generator.on_packet(START + 0.001, 2, 0x2222)
    (packet,) = generator.poll(START + 0.1)
    feedback = TransportFeedback.parse(packet)
    assert feedback.sender_ssrc == 0xABCD
    assert feedback.media_ssrc == 0x2222


@pytest.mark.parametrize(
    ("bitrate", "interval"),
    [(108_800, 0.1), (1_000_000, 0.05), (10_000, 0.25), (0, 0.25)],
)
def test_interval_from_bitrate(bitrate: int, interval: float) -> None:
    generator = TransportCcFeedbackGenerator()
    generator.set_incoming_bitrate(bitrate)
    assert generator.interval == pytest.approx(interval)


def test_invalid_settings() -> None:
    with pytest.raises(ValueError) as error:
        TransportCcFeedbackGenerator(interval=0)
    assert str(error.value) == "transport-cc feedback interval 0 s is invalid, expected > 0"
    with pytest.raises(ValueError) as error:
        TransportCcFeedbackGenerator(max_packet_size=20)
    assert str(error.value) == "transport-cc max_packet_size 20 is invalid, expected >= 28 bytes"


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from([1, 1, 1, 2, 3, 9000]),
            st.sampled_from([0.0, 0.0005, 0.001, 0.07, 2.5]),
        ),
        min_size=1,
        max_size=200,
    ),
    max_packet_size=st.sampled_from([40, 64, 100, 1200]),
)
@example(steps=[(9000, 0.001)] * 5, max_packet_size=1200)
def test_split_packets_cover_round(steps: list[tuple[int, float]], max_packet_size: int) -> None:
    # Whatever the gaps and delays, every packet respects the size limit and the packets
    # of one round report each sequence number once, with the right received set. A round
    # covers at most the newest 2**15 sequence numbers.
    generator = TransportCcFeedbackGenerator(max_packet_size=max_packet_size)
    seq = 0
    time = START
    received = []
    for gap, delay in steps:
        seq += gap
        time += delay
        generator.on_packet(time, seq & 0xFFFF, MEDIA_SSRC)
        received.append(seq)
    packets = generator.poll(time + 0.1)
    assert all(len(packet) <= max_packet_size for packet in packets)

    reported = []
    for packet in packets:
        reported.extend(TransportFeedback.parse(packet).packet_results())
    first = max(received[0], seq - (1 << 15) + 1)
    assert [number for number, _ in reported] == [n & 0xFFFF for n in range(first, seq + 1)]
    assert [number for number, arrival in reported if arrival is not None] == [
        number & 0xFFFF for number in received if number >= first
    ]

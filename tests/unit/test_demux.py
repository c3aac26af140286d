"""First-byte classification of datagrams (RFC 7983) in mediasoup's order, and drop counters."""

import pytest

from workers.demux import MAX_DATAGRAM_SIZE, DropCounters, classify

COOKIE = bytes.fromhex("2112a442")


def stun(first: int, length: int = 20) -> bytes:
    return bytes((first, 0x01, 0, 0)) + COOKIE + bytes(length - 8)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", None),
        # STUN: first byte 0..2, magic cookie, at least 20 bytes.
        (stun(0x00), "stun"),
        (stun(0x01), "stun"),
        (stun(0x02), "stun"),
        (stun(0x03), None),
        (stun(0x00)[:19], None),
        (bytes(4) + b"\x21\x12\xa4\x43" + bytes(12), None),
        # RTCP: 128..191 and packet type 192..223, at least 4 bytes.
        (bytes((0x80, 200, 0, 6)), "rtcp"),
        (bytes((0x81, 192)) + bytes(30), "rtcp"),
        (bytes((0xBF, 223)) + bytes(30), "rtcp"),
        (bytes((0x80, 200, 0)), None),
        # RTP: 128..191, any other second byte, at least 12 bytes.
        (bytes((0x80, 111)) + bytes(10), "rtp"),
        (bytes((0x90, 0xE0)) + bytes(10), "rtp"),
        (bytes((0x80, 191)) + bytes(10), "rtp"),
        (bytes((0x80, 224)) + bytes(10), "rtp"),
        (bytes((0xBF, 96)) + bytes(10), "rtp"),
        (bytes((0x80, 111)) + bytes(9), None),
        # Version 3 and version 1 fall outside 128..191.
        (bytes((0xC0, 111)) + bytes(10), None),
        (bytes((0x7F, 111)) + bytes(10), None),
        # DTLS: 20..63, at least 13 bytes (one record header).
        (bytes((22, 0xFE, 0xFD)) + bytes(10), "dtls"),
        (bytes((20,)) + bytes(12), "dtls"),
        (bytes((63,)) + bytes(12), "dtls"),
        (bytes((23,)) + bytes(11), None),
        (bytes((19,)) + bytes(12), None),
        (bytes((64,)) + bytes(12), None),
        # Bytes outside the accepted ranges: 3..19, 64..127 and 192..255.
        (bytes((0x10,)) + bytes(30), None),
        (bytes((0x40,)) + bytes(30), None),
        (bytes((0xFF,)) + bytes(30), None),
    ],
)
def test_classify_first_byte(data: bytes, kind: str | None) -> None:
    assert classify(data) == kind


def test_max_datagram_size() -> None:
    assert MAX_DATAGRAM_SIZE == 2048


def test_drop_counters() -> None:
    drops = DropCounters()

    drops.add("too_large")
    drops.add("unknown", 3)
    drops.add("too_large")

    assert drops["too_large"] == 2
    assert drops["unvalidated_tuple"] == 0
    assert drops.total() == 5
    assert drops.as_dict() == {"too_large": 2, "unknown": 3}


def test_drop_counters_copy() -> None:
    drops = DropCounters()
    drops.add("malformed_stun")

    exported = drops.as_dict()
    exported["malformed_stun"] = 100

    assert drops["malformed_stun"] == 1

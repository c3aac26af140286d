"""STUN codec: RFC 5769 test vectors, round trips, and cross-checks against aioice's codec."""

import pytest
from aioice import stun as aioice_stun

from workers.stun import (
    AttributeType,
    StunClass,
    StunMessage,
    StunMethod,
    binding_success_response,
    compute_fingerprint,
    error_response,
)

# RFC 5769 §2.1 to §2.3 test vectors. The padding of USERNAME and SOFTWARE is 0x20, which
# also checks that padding bytes are skipped without being read.
RFC5769_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"
RFC5769_TRANSACTION_ID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "80220010" + "5354554e20746573" + "7420636c69656e74"
    "00240004" + "6e0001ff"
    "80290008" + "932ff9b151263b36"
    "00060009" + "6576746a3a68367659202020"
    "00080014" + "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004" + "e57a3bcf"
)
RFC5769_RESPONSE_IPV4 = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b" + "7465737420766563746f7220"
    "00200008" + "0001a147e112a643"
    "00080014" + "2b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004" + "c07d4c96"
)
RFC5769_RESPONSE_IPV6 = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b" + "7465737420766563746f7220"
    "00200014" + "0002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014" + "a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004" + "c8fb0b4c"
)

TRANSACTION_ID = bytes(range(1, 13))
PASSWORD = "0123456789abcdefghijklmnopqrstuv"


def build(
    attributes: dict[int, object],
    *,
    message_class: StunClass = StunClass.REQUEST,
    method: int = StunMethod.BINDING,
    key: str | None = PASSWORD,
    fingerprint: bool = True,
) -> bytes:
    message = StunMessage(method, message_class, TRANSACTION_ID, dict(attributes))
    integrity_key = key.encode() if key is not None else None
    return message.serialize(integrity_key=integrity_key, fingerprint=fingerprint)


def header(message_type: int, length: int) -> bytes:
    return (
        message_type.to_bytes(2, "big")
        + length.to_bytes(2, "big")
        + bytes.fromhex("2112a442")
        + TRANSACTION_ID
    )


def test_rfc5769_request_parse() -> None:
    message = StunMessage.parse(RFC5769_REQUEST)

    assert message.method == StunMethod.BINDING
    assert message.message_class == StunClass.REQUEST
    assert message.transaction_id == RFC5769_TRANSACTION_ID
    assert message.attributes[AttributeType.SOFTWARE] == "STUN test client"
    assert message.priority == 0x6E0001FF
    assert message.attributes[AttributeType.ICE_CONTROLLED] == 0x932FF9B151263B36
    assert message.username == "evtj:h6vY"
    assert message.attributes[AttributeType.FINGERPRINT] == 0xE57A3BCF
    assert message.use_candidate is False
    assert message.nomination is None


def test_rfc5769_request_integrity() -> None:
    message = StunMessage.parse(RFC5769_REQUEST)

    assert message.check_integrity(RFC5769_PASSWORD.encode()) is True
    assert message.check_integrity(b"VOkJxbRl1RmTxUk/WvJxBu") is False


def test_rfc5769_ipv4_response() -> None:
    message = StunMessage.parse(RFC5769_RESPONSE_IPV4)

    assert message.message_class == StunClass.SUCCESS_RESPONSE
    assert message.xor_mapped_address == ("192.0.2.1", 32853)
    assert message.attributes[AttributeType.SOFTWARE] == "test vector"
    assert message.check_integrity(RFC5769_PASSWORD.encode()) is True


def test_rfc5769_ipv6_response() -> None:
    message = StunMessage.parse(RFC5769_RESPONSE_IPV6)

    assert message.xor_mapped_address == ("2001:db8:1234:5678:11:2233:4455:6677", 32853)
    assert message.check_integrity(RFC5769_PASSWORD.encode()) is True


@pytest.mark.parametrize(
    ("address", "vector", "start", "end"),
    [
        (("192.0.2.1", 32853), RFC5769_RESPONSE_IPV4, 36, 48),
        (("2001:db8:1234:5678:11:2233:4455:6677", 32853), RFC5769_RESPONSE_IPV6, 36, 60),
    ],
)
def test_xor_mapped_address_encoding(
    address: tuple[str, int], vector: bytes, start: int, end: int
) -> None:
    message = StunMessage(
        StunMethod.BINDING,
        StunClass.SUCCESS_RESPONSE,
        RFC5769_TRANSACTION_ID,
        {AttributeType.XOR_MAPPED_ADDRESS: address},
    )

    assert bytes(message)[20:] == vector[start:end]


@pytest.mark.parametrize(
    ("message_class", "method", "message_type"),
    [
        (StunClass.REQUEST, StunMethod.BINDING, 0x0001),
        (StunClass.INDICATION, StunMethod.BINDING, 0x0011),
        (StunClass.SUCCESS_RESPONSE, StunMethod.BINDING, 0x0101),
        (StunClass.ERROR_RESPONSE, StunMethod.BINDING, 0x0111),
        (StunClass.REQUEST, 0x003, 0x0003),
        (StunClass.ERROR_RESPONSE, 0x00A, 0x011A),
        (StunClass.REQUEST, 0xFFF, 0x3EEF),
    ],
)
def test_message_type_bits(message_class: StunClass, method: int, message_type: int) -> None:
    data = bytes(StunMessage(method, message_class, TRANSACTION_ID))

    assert data == header(message_type, 0)
    parsed = StunMessage.parse(data)
    assert parsed.method == method
    assert parsed.message_class == message_class


def test_round_trip_all_attributes() -> None:
    attributes: dict[int, object] = {
        AttributeType.USERNAME: "abcd:efgh",
        AttributeType.PRIORITY: 1853817087,
        AttributeType.ICE_CONTROLLING: 0x0102030405060708,
        AttributeType.USE_CANDIDATE: None,
        AttributeType.NOMINATION: 7,
        AttributeType.SOFTWARE: "pysfu",
        0xC057: b"\x00\x01\x00\x0a",
        0x7FFF: b"odd",
    }
    data = build(attributes)

    parsed = StunMessage.parse(data)

    for attribute_type, value in attributes.items():
        assert parsed.attributes[attribute_type] == value
    assert parsed.check_integrity(PASSWORD.encode()) is True
    assert bytes(parsed) == data


def test_unknown_attribute_skipped_by_padded_length() -> None:
    body = (
        bytes.fromhex("c0570005")
        + b"\x01\x02\x03\x04\x05\xff\xff\xff"
        # PRIORITY follows the 3 padding bytes.
        + bytes.fromhex("00240004")
        + (99).to_bytes(4, "big")
    )

    parsed = StunMessage.parse(header(0x0001, len(body)) + body)

    assert parsed.attributes[0xC057] == b"\x01\x02\x03\x04\x05"
    assert parsed.priority == 99


def test_nomination_legacy_code() -> None:
    parsed = StunMessage.parse(build({AttributeType.NOMINATION_LEGACY: 3}))

    assert parsed.nomination == 3
    assert AttributeType.NOMINATION not in parsed.attributes


def test_attributes_after_integrity_ignored() -> None:
    # RFC 5389 §15.4: only FINGERPRINT may follow MESSAGE-INTEGRITY, others are not covered.
    signed = build({AttributeType.PRIORITY: 1}, fingerprint=False)
    body = signed[20:] + bytes.fromhex("00250000") + bytes.fromhex("80280004") + bytes(4)
    data = bytearray(header(0x0001, len(body)) + body)
    data[-4:] = compute_fingerprint(data[:-8]).to_bytes(4, "big")

    parsed = StunMessage.parse(bytes(data))

    assert parsed.use_candidate is False
    assert parsed.check_integrity(PASSWORD.encode()) is True


def test_integrity_missing_fails_check() -> None:
    parsed = StunMessage.parse(build({AttributeType.PRIORITY: 1}, key=None))

    assert parsed.check_integrity(PASSWORD.encode()) is False


def test_integrity_detects_tampering() -> None:
    data = bytearray(build({AttributeType.PRIORITY: 1}, fingerprint=False))
    data[27] ^= 0x01

    parsed = StunMessage.parse(bytes(data))

    assert parsed.priority == 0
    assert parsed.check_integrity(PASSWORD.encode()) is False


def valid_request() -> bytes:
    return build({AttributeType.PRIORITY: 1}, key=None, fingerprint=False)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x00\x01\x00\x00", "invalid STUN message: 4 bytes, expected at least 20"),
        (
            b"\x40\x01\x00\x00" + bytes(16),
            "invalid STUN message type 0x4001: the two top bits must be zero",
        ),
        (
            b"\x00\x01\x00\x00\x21\x12\xa4\x43" + TRANSACTION_ID,
            "invalid STUN magic cookie 0x2112a443, expected 0x2112a442",
        ),
        (
            header(0x0001, 6) + bytes(6),
            "invalid STUN message length field 6: not a multiple of 4",
        ),
        (
            header(0x0001, 8) + bytes(4),
            "invalid STUN message length field 8: the datagram carries 4 bytes of attributes",
        ),
        (
            header(0x0001, 8) + bytes.fromhex("00240008") + bytes(4),
            "invalid PRIORITY attribute: length 8 exceeds the 4 bytes left in the message",
        ),
        (
            header(0x0001, 8) + bytes.fromhex("00240003") + bytes(4),
            "invalid PRIORITY attribute: length 3, expected 4",
        ),
        (
            header(0x0001, 8) + bytes.fromhex("00250004") + bytes(4),
            "invalid USE-CANDIDATE attribute: length 4, expected 0",
        ),
        (
            header(0x0001, 8) + bytes.fromhex("80290004") + bytes(4),
            "invalid ICE-CONTROLLED attribute: length 4, expected 8",
        ),
        (
            header(0x0001, 24) + bytes.fromhex("00080010") + bytes(20),
            "invalid MESSAGE-INTEGRITY attribute: length 16, expected 20",
        ),
        (
            header(0x0101, 12) + bytes.fromhex("00200008") + b"\x00\x03" + bytes(6),
            "invalid XOR-MAPPED-ADDRESS attribute: family 0x03",
        ),
        (
            header(0x0101, 12) + bytes.fromhex("00200008") + b"\x00\x02" + bytes(6),
            "invalid XOR-MAPPED-ADDRESS attribute: length 8, expected 20",
        ),
        (
            header(0x0111, 8) + bytes.fromhex("00090002") + bytes(4),
            "invalid ERROR-CODE attribute: length 2, expected at least 4",
        ),
        (
            header(0x0001, 16) + (bytes.fromhex("00240004") + bytes(4)) * 2,
            "invalid STUN message: duplicate PRIORITY",
        ),
        (
            header(0x0001, 8) + bytes.fromhex("00060002") + b"\xff\xfe\x00\x00",
            "invalid USERNAME attribute: not UTF-8 (invalid start byte)",
        ),
        (
            header(0x0001, 520) + bytes.fromhex("00060204") + b"a" * 516,
            "invalid USERNAME attribute: length 516 exceeds 512 bytes",
        ),
    ],
)
def test_parse_rejects_malformed(data: bytes, error: str) -> None:
    with pytest.raises(ValueError) as raised:
        StunMessage.parse(data)

    assert str(raised.value) == error


def test_parse_rejects_attribute_after_fingerprint() -> None:
    signed = build({AttributeType.PRIORITY: 1}, key=None)
    body = signed[20:] + bytes.fromhex("00250000")

    with pytest.raises(ValueError) as raised:
        StunMessage.parse(header(0x0001, len(body)) + body)

    assert str(raised.value) == (
        "invalid STUN message: USE-CANDIDATE attribute after FINGERPRINT, "
        "which must be the last attribute"
    )


def test_parse_rejects_bad_fingerprint() -> None:
    data = bytearray(build({AttributeType.PRIORITY: 1}, key=None))
    expected = int.from_bytes(data[-4:], "big")
    data[-1] ^= 0xFF

    with pytest.raises(ValueError) as raised:
        StunMessage.parse(bytes(data))

    received = expected ^ 0xFF
    assert str(raised.value) == f"invalid FINGERPRINT 0x{received:08x}, computed 0x{expected:08x}"


def test_serialize_rejects_bad_error_code() -> None:
    message = StunMessage(
        StunMethod.BINDING,
        StunClass.ERROR_RESPONSE,
        TRANSACTION_ID,
        {AttributeType.ERROR_CODE: (200, "OK")},
    )

    with pytest.raises(ValueError) as raised:
        bytes(message)

    assert str(raised.value) == "invalid ERROR-CODE 200: expected 300 to 699"


def test_serialize_rejects_short_transaction_id() -> None:
    message = StunMessage(StunMethod.BINDING, StunClass.REQUEST, b"\x01" * 11)

    with pytest.raises(ValueError) as raised:
        bytes(message)

    assert str(raised.value) == "invalid STUN transaction id: 11 bytes, expected 12"


# Cross-checks with aioice, an independent STUN implementation.


def aioice_request() -> aioice_stun.Message:
    request = aioice_stun.Message(
        aioice_stun.Method.BINDING, aioice_stun.Class.REQUEST, transaction_id=TRANSACTION_ID
    )
    request.attributes["USERNAME"] = "abcd:efgh"
    request.attributes["PRIORITY"] = 1853817087
    request.attributes["ICE-CONTROLLING"] = 42
    request.attributes["USE-CANDIDATE"] = None
    request.add_message_integrity(PASSWORD.encode())
    return request


def test_aioice_request_parses() -> None:
    parsed = StunMessage.parse(bytes(aioice_request()))

    assert parsed.username == "abcd:efgh"
    assert parsed.priority == 1853817087
    assert parsed.attributes[AttributeType.ICE_CONTROLLING] == 42
    assert parsed.use_candidate is True
    assert parsed.check_integrity(PASSWORD.encode()) is True


def test_request_bytes_match_aioice() -> None:
    data = build(
        {
            AttributeType.USERNAME: "abcd:efgh",
            AttributeType.PRIORITY: 1853817087,
            AttributeType.ICE_CONTROLLING: 42,
            AttributeType.USE_CANDIDATE: None,
        }
    )

    assert data == bytes(aioice_request())


def test_nomination_request_verifies_in_aioice() -> None:
    data = build({AttributeType.USERNAME: "abcd:efgh", AttributeType.NOMINATION_LEGACY: 5})

    parsed = aioice_stun.parse_message(data)

    assert parsed.attributes["USERNAME"] == "abcd:efgh"
    assert parsed.check_message_integrity(PASSWORD.encode()) is True


@pytest.mark.parametrize(
    "address", [("203.0.113.7", 50000), ("2001:db8::1", 1), ("fe80::1:2", 65535)]
)
def test_success_response_verifies_in_aioice(address: tuple[str, int]) -> None:
    request = StunMessage.parse(bytes(aioice_request()))

    data = binding_success_response(request, address, PASSWORD)

    parsed = aioice_stun.parse_message(data)
    assert parsed.message_method == aioice_stun.Method.BINDING
    assert parsed.message_class == aioice_stun.Class.RESPONSE
    assert parsed.transaction_id == TRANSACTION_ID
    assert parsed.attributes["XOR-MAPPED-ADDRESS"] == address
    assert parsed.check_message_integrity(PASSWORD.encode()) is True
    assert parsed.check_message_integrity(b"another password") is False
    assert list(parsed.attributes) == ["XOR-MAPPED-ADDRESS", "MESSAGE-INTEGRITY", "FINGERPRINT"]


def test_error_response_unsigned() -> None:
    request = StunMessage.parse(bytes(aioice_request()))

    data = error_response(request, 401, "invalid USERNAME or MESSAGE-INTEGRITY")

    parsed = aioice_stun.parse_message(data)
    assert parsed.message_class == aioice_stun.Class.ERROR
    assert parsed.transaction_id == TRANSACTION_ID
    assert parsed.attributes["ERROR-CODE"] == (401, "invalid USERNAME or MESSAGE-INTEGRITY")
    assert list(parsed.attributes) == ["ERROR-CODE", "FINGERPRINT"]
    assert StunMessage.parse(data).error_code == (401, "invalid USERNAME or MESSAGE-INTEGRITY")


def test_error_response_signed() -> None:
    request = StunMessage.parse(bytes(aioice_request()))

    data = error_response(request, 487, "role conflict", PASSWORD)

    parsed = aioice_stun.parse_message(data)
    assert parsed.attributes["ERROR-CODE"] == (487, "role conflict")
    assert parsed.check_message_integrity(PASSWORD.encode()) is True

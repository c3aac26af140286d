"""STUN message codec for the ICE-lite server (RFC 5389, RFC 8489, RFC 8445 attributes).

Attributes are decoded through a table keyed by attribute type, so supporting another attribute
is one row in `ATTRIBUTES`. Unknown attributes are kept as raw bytes. MESSAGE-INTEGRITY and
FINGERPRINT are computed over the exact bytes that carried them, so a parsed message keeps its
raw form.
"""

import binascii
import hmac
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

MAGIC_COOKIE = 0x2112A442
MAGIC_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
HEADER_LENGTH = 20
TRANSACTION_ID_LENGTH = 12

# RFC 5389 §15.5: the CRC-32 of the message is XOR'ed with this value.
FINGERPRINT_XOR = 0x5354554E
INTEGRITY_LENGTH = 20

_HEADER = struct.Struct("!HHI12s")
_ATTRIBUTE_HEADER = struct.Struct("!HH")
_UINT32 = struct.Struct("!I")
_UINT64 = struct.Struct("!Q")

# RFC 5389 §15.3: USERNAME contains fewer than 513 bytes. §15.10: SOFTWARE contains fewer than
# 128 characters, which is at most 763 bytes of UTF-8.
MAX_USERNAME_LENGTH = 512
MAX_SOFTWARE_LENGTH = 763
MAX_REASON_LENGTH = 763


class StunClass(IntEnum):
    """The two class bits C1 C0 of the message type (RFC 5389 §6)."""

    REQUEST = 0
    INDICATION = 1
    SUCCESS_RESPONSE = 2
    ERROR_RESPONSE = 3


class StunMethod(IntEnum):
    BINDING = 0x001


class AttributeType(IntEnum):
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    XOR_MAPPED_ADDRESS = 0x0020
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    # ICE renomination: the NOMINATION value may arrive under either code, and both are read
    # the same way.
    NOMINATION = 0x0030
    NOMINATION_LEGACY = 0xC001
    SOFTWARE = 0x8022
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A


def _padding(length: int) -> int:
    return -length % 4


def _attribute_name(attribute_type: int) -> str:
    try:
        return AttributeType(attribute_type).name.replace("_", "-")
    except ValueError:
        return f"0x{attribute_type:04x}"


# Attribute codecs. A decoder takes (value, transaction id) and raises ValueError naming the
# attribute. An encoder takes (Python value, transaction id) and returns the unpadded value.


def _check_length(name: str, value: bytes, expected: int) -> None:
    if len(value) != expected:
        raise ValueError(f"invalid {name} attribute: length {len(value)}, expected {expected}")


def _decode_text(name: str, max_length: int) -> Callable[[bytes, bytes], str]:
    def decode(value: bytes, transaction_id: bytes) -> str:
        if len(value) > max_length:
            raise ValueError(
                f"invalid {name} attribute: length {len(value)} exceeds {max_length} bytes"
            )
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"invalid {name} attribute: not UTF-8 ({error.reason})") from None

    return decode


def _encode_text(value: str, transaction_id: bytes) -> bytes:
    return value.encode("utf-8")


def _decode_uint32(name: str) -> Callable[[bytes, bytes], int]:
    def decode(value: bytes, transaction_id: bytes) -> int:
        _check_length(name, value, 4)
        number: int = _UINT32.unpack(value)[0]
        return number

    return decode


def _encode_uint32(value: int, transaction_id: bytes) -> bytes:
    return _UINT32.pack(value)


def _decode_uint64(name: str) -> Callable[[bytes, bytes], int]:
    def decode(value: bytes, transaction_id: bytes) -> int:
        _check_length(name, value, 8)
        number: int = _UINT64.unpack(value)[0]
        return number

    return decode


def _encode_uint64(value: int, transaction_id: bytes) -> bytes:
    return _UINT64.pack(value)


def _decode_flag(value: bytes, transaction_id: bytes) -> None:
    _check_length("USE-CANDIDATE", value, 0)


def _encode_flag(value: None, transaction_id: bytes) -> bytes:
    return b""


def _decode_integrity(value: bytes, transaction_id: bytes) -> bytes:
    _check_length("MESSAGE-INTEGRITY", value, INTEGRITY_LENGTH)
    return value


def _encode_raw(value: bytes, transaction_id: bytes) -> bytes:
    return value


def _xor_pad(transaction_id: bytes, length: int) -> int:
    # RFC 5389 §15.2: the port is XOR'ed with the top 16 bits of the magic cookie, an IPv4
    # address with the cookie, an IPv6 address with the cookie followed by the transaction id.
    return int.from_bytes((MAGIC_COOKIE_BYTES + transaction_id)[:length], "big")


def _decode_xor_address(value: bytes, transaction_id: bytes) -> tuple[str, int]:
    if len(value) < 4:
        raise ValueError(f"invalid XOR-MAPPED-ADDRESS attribute: length {len(value)}, expected 8")
    family = value[1]
    if family == 0x01:
        _check_length("XOR-MAPPED-ADDRESS", value, 8)
        address_bytes = value[4:]
    elif family == 0x02:
        _check_length("XOR-MAPPED-ADDRESS", value, 20)
        address_bytes = value[4:]
    else:
        raise ValueError(f"invalid XOR-MAPPED-ADDRESS attribute: family 0x{family:02x}")
    port = int.from_bytes(value[2:4], "big") ^ (MAGIC_COOKIE >> 16)
    length = len(address_bytes)
    address = int.from_bytes(address_bytes, "big") ^ _xor_pad(transaction_id, length)
    return str(ipaddress.ip_address(address.to_bytes(length, "big"))), port


def _encode_xor_address(value: tuple[str, int], transaction_id: bytes) -> bytes:
    host, port = value
    packed = ipaddress.ip_address(host).packed
    family = 0x01 if len(packed) == 4 else 0x02
    address = int.from_bytes(packed, "big") ^ _xor_pad(transaction_id, len(packed))
    return (
        bytes((0, family))
        + (port ^ (MAGIC_COOKIE >> 16)).to_bytes(2, "big")
        + address.to_bytes(len(packed), "big")
    )


def _decode_error_code(value: bytes, transaction_id: bytes) -> tuple[int, str]:
    if len(value) < 4:
        raise ValueError(f"invalid ERROR-CODE attribute: length {len(value)}, expected at least 4")
    code = (value[2] & 0x07) * 100 + value[3]
    reason = _decode_text("ERROR-CODE", MAX_REASON_LENGTH)(value[4:], transaction_id)
    return code, reason


def _encode_error_code(value: tuple[int, str], transaction_id: bytes) -> bytes:
    code, reason = value
    # RFC 5389 §15.6: the class (hundreds digit) is 3 to 6 and the number is 0 to 99.
    if not 300 <= code <= 699:
        raise ValueError(f"invalid ERROR-CODE {code}: expected 300 to 699")
    return bytes((0, 0, code // 100, code % 100)) + reason.encode("utf-8")


@dataclass(frozen=True, slots=True)
class AttributeCodec:
    """Decoder and encoder of one attribute type, between its wire value and a Python value."""

    decode: Callable[[bytes, bytes], Any]
    encode: Callable[[Any, bytes], bytes]


ATTRIBUTES: dict[int, AttributeCodec] = {
    AttributeType.USERNAME: AttributeCodec(
        _decode_text("USERNAME", MAX_USERNAME_LENGTH), _encode_text
    ),
    AttributeType.MESSAGE_INTEGRITY: AttributeCodec(_decode_integrity, _encode_raw),
    AttributeType.ERROR_CODE: AttributeCodec(_decode_error_code, _encode_error_code),
    AttributeType.XOR_MAPPED_ADDRESS: AttributeCodec(_decode_xor_address, _encode_xor_address),
    AttributeType.PRIORITY: AttributeCodec(_decode_uint32("PRIORITY"), _encode_uint32),
    AttributeType.USE_CANDIDATE: AttributeCodec(_decode_flag, _encode_flag),
    AttributeType.NOMINATION: AttributeCodec(_decode_uint32("NOMINATION"), _encode_uint32),
    AttributeType.NOMINATION_LEGACY: AttributeCodec(_decode_uint32("NOMINATION"), _encode_uint32),
    AttributeType.SOFTWARE: AttributeCodec(
        _decode_text("SOFTWARE", MAX_SOFTWARE_LENGTH), _encode_text
    ),
    AttributeType.FINGERPRINT: AttributeCodec(_decode_uint32("FINGERPRINT"), _encode_uint32),
    AttributeType.ICE_CONTROLLED: AttributeCodec(_decode_uint64("ICE-CONTROLLED"), _encode_uint64),
    AttributeType.ICE_CONTROLLING: AttributeCodec(
        _decode_uint64("ICE-CONTROLLING"), _encode_uint64
    ),
}


def _with_length_field(data: bytes | bytearray, length: int) -> bytes:
    return bytes(data[:2]) + length.to_bytes(2, "big") + bytes(data[4:])


def compute_integrity(data: bytes | bytearray, key: bytes) -> bytes:
    """Compute MESSAGE-INTEGRITY for a message whose bytes end right before that attribute.

    RFC 5389 §15.4: the HMAC-SHA1 covers the message up to the attribute, with the header's
    length field set as if MESSAGE-INTEGRITY were the last attribute.
    """
    length = len(data) - HEADER_LENGTH + 4 + INTEGRITY_LENGTH
    return hmac.digest(key, _with_length_field(data, length), "sha1")


def compute_fingerprint(data: bytes | bytearray) -> int:
    """Compute FINGERPRINT for a message whose bytes end right before that attribute.

    RFC 5389 §15.5: CRC-32 of the message up to the attribute, with the length field covering
    the FINGERPRINT attribute, XOR'ed with 0x5354554e.
    """
    length = len(data) - HEADER_LENGTH + 8
    return binascii.crc32(_with_length_field(data, length)) ^ FINGERPRINT_XOR


def _message_type(method: int, message_class: int) -> int:
    # RFC 5389 §6: the class bits sit at positions 4 and 8, between the method bits.
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 0x1) << 4)
        | ((message_class & 0x2) << 7)
    )


@dataclass(slots=True)
class StunMessage:
    """One STUN message: method, class, transaction id and attributes in wire order.

    `attributes` maps an attribute type to its decoded value (see `ATTRIBUTES`), or to the raw
    bytes of an attribute type the table does not list.
    """

    method: int
    message_class: StunClass
    transaction_id: bytes
    attributes: dict[int, Any] = field(default_factory=dict)
    # The received bytes and where MESSAGE-INTEGRITY starts in them, for `check_integrity`.
    raw: bytes | None = field(default=None, repr=False, compare=False)
    integrity_offset: int | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> "StunMessage":
        """Parse and validate one STUN message, including its FINGERPRINT if present.

        Raises ValueError naming the invalid field. MESSAGE-INTEGRITY is checked separately by
        `check_integrity`, because the key depends on the USERNAME.
        """
        if len(data) < HEADER_LENGTH:
            raise ValueError(f"invalid STUN message: {len(data)} bytes, expected at least 20")
        message_type, length, cookie, transaction_id = _HEADER.unpack_from(data)
        if message_type & 0xC000:
            raise ValueError(
                f"invalid STUN message type 0x{message_type:04x}: the two top bits must be zero"
            )
        if cookie != MAGIC_COOKIE:
            raise ValueError(f"invalid STUN magic cookie 0x{cookie:08x}, expected 0x2112a442")
        if length % 4:
            raise ValueError(f"invalid STUN message length field {length}: not a multiple of 4")
        if length != len(data) - HEADER_LENGTH:
            raise ValueError(
                f"invalid STUN message length field {length}: "
                f"the datagram carries {len(data) - HEADER_LENGTH} bytes of attributes"
            )

        message = cls(
            method=(message_type & 0x000F)
            | ((message_type & 0x00E0) >> 1)
            | ((message_type & 0x3E00) >> 2),
            message_class=StunClass(((message_type >> 7) & 0x2) | ((message_type >> 4) & 0x1)),
            transaction_id=transaction_id,
            raw=bytes(data),
        )
        message._parse_attributes(data, transaction_id)
        return message

    def _parse_attributes(self, data: bytes, transaction_id: bytes) -> None:
        position = HEADER_LENGTH
        # The length checks in `parse` keep `position` 4-byte aligned and at least 4 bytes
        # short of the end whenever the loop runs.
        while position < len(data):
            attribute_type, length = _ATTRIBUTE_HEADER.unpack_from(data, position)
            name = _attribute_name(attribute_type)
            start = position + 4
            end = start + length
            if end > len(data):
                raise ValueError(
                    f"invalid {name} attribute: length {length} exceeds the "
                    f"{len(data) - start} bytes left in the message"
                )
            if AttributeType.FINGERPRINT in self.attributes:
                raise ValueError(
                    f"invalid STUN message: {name} attribute after FINGERPRINT, "
                    "which must be the last attribute"
                )
            self._store_attribute(attribute_type, data[start:end], transaction_id, position)
            position = end + _padding(length)

        if AttributeType.FINGERPRINT in self.attributes:
            fingerprint_offset = len(data) - 8
            expected = compute_fingerprint(data[:fingerprint_offset])
            received = self.attributes[AttributeType.FINGERPRINT]
            if received != expected:
                raise ValueError(f"invalid FINGERPRINT 0x{received:08x}, computed 0x{expected:08x}")

    def _store_attribute(
        self, attribute_type: int, value: bytes, transaction_id: bytes, position: int
    ) -> None:
        # RFC 5389 §15.4: attributes after MESSAGE-INTEGRITY other than FINGERPRINT are not
        # covered by the HMAC, so they are ignored.
        if self.integrity_offset is not None and attribute_type != AttributeType.FINGERPRINT:
            return

        codec = ATTRIBUTES.get(attribute_type)
        if codec is None:
            # Comprehension-optional or not, an unknown attribute is kept raw and skipped.
            # NOTE: RFC 5389 §7.3 requires a 420 response to unknown comprehension-required
            # attributes, but like mediasoup this codec ignores them.
            self.attributes.setdefault(attribute_type, value)
            return

        if attribute_type in self.attributes:
            raise ValueError(f"invalid STUN message: duplicate {_attribute_name(attribute_type)}")
        self.attributes[attribute_type] = codec.decode(value, transaction_id)
        if attribute_type == AttributeType.MESSAGE_INTEGRITY:
            self.integrity_offset = position

    def check_integrity(self, key: bytes) -> bool:
        """Return whether MESSAGE-INTEGRITY of a parsed message verifies with `key`.

        A message without MESSAGE-INTEGRITY, or one that was not parsed, fails the check. The
        comparison runs in constant time.
        """
        if self.raw is None or self.integrity_offset is None:
            return False
        expected = compute_integrity(self.raw[: self.integrity_offset], key)
        received: bytes = self.attributes[AttributeType.MESSAGE_INTEGRITY]
        return hmac.compare_digest(received, expected)

    def serialize(self, *, integrity_key: bytes | None = None, fingerprint: bool = False) -> bytes:
        """Encode the message, appending MESSAGE-INTEGRITY and FINGERPRINT when asked for.

        MESSAGE-INTEGRITY or FINGERPRINT values already in `attributes` are written as they are
        unless a new one is requested, in which case the stored one is dropped first.
        """
        attributes = dict(self.attributes)
        if integrity_key is not None or fingerprint:
            attributes.pop(AttributeType.FINGERPRINT, None)
        if integrity_key is not None:
            attributes.pop(AttributeType.MESSAGE_INTEGRITY, None)

        body = bytearray()
        for attribute_type, value in attributes.items():
            _append_attribute(body, attribute_type, value, self.transaction_id)
        data = bytearray(self._header(len(body))) + body

        if integrity_key is not None:
            integrity = compute_integrity(data, integrity_key)
            _append_attribute(data, AttributeType.MESSAGE_INTEGRITY, integrity, b"")
        if fingerprint:
            _append_attribute(data, AttributeType.FINGERPRINT, compute_fingerprint(data), b"")
        data[2:4] = (len(data) - HEADER_LENGTH).to_bytes(2, "big")
        return bytes(data)

    def __bytes__(self) -> bytes:
        return self.serialize()

    def _header(self, length: int) -> bytes:
        if len(self.transaction_id) != TRANSACTION_ID_LENGTH:
            raise ValueError(
                f"invalid STUN transaction id: {len(self.transaction_id)} bytes, expected 12"
            )
        message_type = _message_type(self.method, self.message_class)
        return _HEADER.pack(message_type, length, MAGIC_COOKIE, self.transaction_id)

    # Typed accessors for the attributes ICE uses.

    @property
    def username(self) -> str | None:
        value: str | None = self.attributes.get(AttributeType.USERNAME)
        return value

    @property
    def priority(self) -> int | None:
        value: int | None = self.attributes.get(AttributeType.PRIORITY)
        return value

    @property
    def use_candidate(self) -> bool:
        return AttributeType.USE_CANDIDATE in self.attributes

    @property
    def nomination(self) -> int | None:
        """The NOMINATION value, from 0x0030 or else from the legacy 0xC001 attribute."""
        value: int | None = self.attributes.get(
            AttributeType.NOMINATION, self.attributes.get(AttributeType.NOMINATION_LEGACY)
        )
        return value

    @property
    def error_code(self) -> tuple[int, str] | None:
        value: tuple[int, str] | None = self.attributes.get(AttributeType.ERROR_CODE)
        return value

    @property
    def xor_mapped_address(self) -> tuple[str, int] | None:
        value: tuple[str, int] | None = self.attributes.get(AttributeType.XOR_MAPPED_ADDRESS)
        return value


def _append_attribute(
    buffer: bytearray, attribute_type: int, value: Any, transaction_id: bytes
) -> None:
    codec = ATTRIBUTES.get(attribute_type)
    if codec is None:
        encoded = bytes(value)
    else:
        encoded = codec.encode(value, transaction_id)
    if len(encoded) > 0xFFFF:
        raise ValueError(
            f"invalid {_attribute_name(attribute_type)} attribute: {len(encoded)} bytes "
            "do not fit the 16-bit length field"
        )
    buffer += _ATTRIBUTE_HEADER.pack(attribute_type, len(encoded))
    buffer += encoded
    buffer += bytes(_padding(len(encoded)))


def binding_success_response(
    request: StunMessage, mapped_address: tuple[str, int], password: str
) -> bytes:
    """Encode the success response to a Binding request (RFC 5389 §7.3.1, RFC 8445 §7.3).

    It carries the request's transaction id, XOR-MAPPED-ADDRESS set to the request's source,
    MESSAGE-INTEGRITY keyed with `password`, and FINGERPRINT.
    """
    response = StunMessage(
        method=StunMethod.BINDING,
        message_class=StunClass.SUCCESS_RESPONSE,
        transaction_id=request.transaction_id,
        attributes={AttributeType.XOR_MAPPED_ADDRESS: mapped_address},
    )
    return response.serialize(integrity_key=password.encode("utf-8"), fingerprint=True)


def error_response(
    request: StunMessage, code: int, reason: str, password: str | None = None
) -> bytes:
    """Encode an error response with ERROR-CODE and FINGERPRINT.

    RFC 5389 §10.1.2: responses to a request that failed authentication (400, 401) carry no
    MESSAGE-INTEGRITY. Pass `password` once the request has authenticated (for 487), so the
    response is signed with the same key.
    """
    response = StunMessage(
        method=request.method,
        message_class=StunClass.ERROR_RESPONSE,
        transaction_id=request.transaction_id,
        attributes={AttributeType.ERROR_CODE: (code, reason)},
    )
    key = password.encode("utf-8") if password is not None else None
    return response.serialize(integrity_key=key, fingerprint=True)

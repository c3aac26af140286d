"""Sans-IO DTLS 1.2 session for DTLS-SRTP (RFC 5764) on pyOpenSSL memory BIOs.

A `DtlsSession` takes datagrams and the current time and returns datagrams to send. It checks
the peer certificate against the fingerprints signalled in `dtlsParameters` (RFC 8122 §5),
exports the SRTP master keys (RFC 5764 §4.2) and carries application data for SCTP.

Time: OpenSSL's DTLS retransmission timer reads the process's real clock, and pyOpenSSL offers
no way to give it another one. The session maps that timer onto the caller's `now`: after each
call into OpenSSL it reads the time left on the timer (`DTLSv1_get_timeout`) and stores
`now + time left` as the deadline that `poll_timeout()` returns. `handle_timeout(now)` does
nothing before that deadline. After it, the session lets OpenSSL retransmit
(`DTLSv1_handle_timeout`). If the real clock has not yet reached OpenSSL's own deadline (a fake
clock in a test that runs ahead), nothing is sent and the deadline moves to `now + time left`.
With the event loop's clock as `now`, the two deadlines differ only by the time between the
OpenSSL call and the read of that clock.
"""

import functools
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from sfu.errors import InvalidParameterError, InvalidStateError
from workers.certificate import FINGERPRINT_ALGORITHMS, Certificate, format_fingerprint
from workers.srtp import PROFILES, SrtpProfile

DtlsRole = Literal["client", "server"]
DtlsState = Literal["new", "connecting", "connected", "failed", "closed"]

# Largest datagram the session sends during the handshake. With IPv6 (40), UDP (8) and a TURN
# ChannelData header (4), 1200 bytes stay under the 1280-byte IPv6 minimum link MTU, so no path
# MTU discovery is needed.
MTU: Final = 1200

# The handshake fails when OpenSSL's next retransmission interval would exceed this many
# seconds. The interval starts at 1 s and doubles, so that happens after 1+2+4+8+16 = 31 s
# without progress (the limit that mediasoup's DtlsTransport.cpp applies).
MAX_RETRANSMISSION_INTERVAL: Final = 30.0

# RFC 6347 §4.1: a record carries at most 2^14 bytes of plaintext, and OpenSSL writes each
# `send_application_data` call as one record.
MAX_APPLICATION_DATA: Final = 16384

# RFC 5764 §4.2: the label of the TLS exporter (RFC 5705) that yields the SRTP master keys.
EXPORTER_LABEL: Final = b"EXTRACTOR-dtls_srtp"

# ECDHE-ECDSA suites only, AEAD first: the certificate is ECDSA P-256, so the peer can only
# pick a suite with ECDSA authentication, and ECDHE gives forward secrecy.
CIPHER_LIST: Final = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"
)

# RFC 6347 §4.1: wire version of DTLS 1.2 (pyOpenSSL has no constant for it).
_DTLS1_2_VERSION: Final = 0xFEFD

# RFC 6347 §4.1: content type (1), version (2), epoch (2), sequence number (6), length (2).
_RECORD_HEADER_LENGTH: Final = 13

# RFC 6347 §4.1: the content types that DTLS 1.2 defines (change_cipher_spec, alert,
# handshake, application_data). Record versions are DTLS 1.0 (0xFEFF, which ClientHello
# records often carry) and DTLS 1.2 (0xFEFD).
_CHANGE_CIPHER_SPEC: Final = 20
_ALERT: Final = 21
_HANDSHAKE: Final = 22
_APPLICATION_DATA: Final = 23
_CONTENT_TYPES: Final = frozenset({_CHANGE_CIPHER_SPEC, _ALERT, _HANDSHAKE, _APPLICATION_DATA})
_RECORD_VERSIONS: Final = frozenset({0xFEFF, 0xFEFD})

# RFC 6347 §4.2.2: the handshake header in DTLS is 12 bytes.
_HANDSHAKE_HEADER_LENGTH: Final = 12

_FINGERPRINT_VALUE = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2})*")

# Large enough for any record OpenSSL writes or reads (RFC 6347 §4.1: at most 2^14 bytes of
# plaintext plus expansion).
_READ_SIZE: Final = 65536


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """SRTP master keys exported after the handshake: key then salt for each direction.

    `profile` is the mediasoup `cryptoSuite` name (for example "AEAD_AES_128_GCM"). The key
    fields stay out of `repr` so that logging this object leaks no secret.
    """

    profile: str
    local_key_salt: bytes = field(repr=False)
    remote_key_salt: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class DtlsStateChange:
    """A change of session state, with the cause of a failure or close in `reason`."""

    state: DtlsState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DtlsApplicationData:
    """Application data (an SCTP packet) received from the peer."""

    data: bytes


DtlsEvent = DtlsStateChange | DtlsApplicationData


def _openssl_accepts(profile: SrtpProfile) -> bool:
    context = SSL.Context(SSL.DTLS_METHOD)
    try:
        context.set_tlsext_use_srtp(profile.openssl_name.encode())
    except SSL.Error:
        return False
    return True


# SRTP profiles that both OpenSSL and libsrtp support, in the order `use_srtp` offers them.
SRTP_PROFILES: Final = tuple(profile for profile in PROFILES.values() if _openssl_accepts(profile))


@functools.lru_cache(maxsize=8)
def _create_context(certificate: Certificate, profiles: tuple[SrtpProfile, ...]) -> SSL.Context:
    """Create the OpenSSL context shared by every session with this certificate and profiles."""
    context = SSL.Context(SSL.DTLS_METHOD)
    context.set_min_proto_version(_DTLS1_2_VERSION)
    context.set_max_proto_version(_DTLS1_2_VERSION)
    # Without OP_NO_QUERY_MTU OpenSSL queries the BIO for the path MTU, which a memory BIO
    # does not know, and would override the MTU the session sets.
    context.set_options(SSL.OP_NO_TICKET | SSL.OP_NO_QUERY_MTU)
    # The peer must present a certificate. Chain checks are skipped because WebRTC
    # certificates are self-signed, and the fingerprint check after the handshake
    # authenticates the peer instead.
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *_: True)
    context.use_certificate(certificate.x509)
    key = serialization.load_pem_private_key(certificate.private_key_pem, password=None)
    context.use_privatekey(key)  # type: ignore[arg-type]
    context.check_privatekey()
    context.set_cipher_list(CIPHER_LIST)
    context.set_tlsext_use_srtp(b":".join(p.openssl_name.encode() for p in profiles))
    return context


@dataclass(frozen=True, slots=True)
class DtlsRecord:
    """One DTLS 1.2 record (RFC 6347 §4.1). `fragment` is the payload, encrypted after epoch 0."""

    content_type: int
    version: int
    epoch: int
    sequence_number: int
    fragment: bytes

    @classmethod
    def parse_datagram(cls, datagram: bytes) -> list["DtlsRecord"]:
        """Parse every record of a datagram; raise ValueError naming the first invalid field."""
        if not datagram:
            raise ValueError("invalid DTLS datagram: empty")

        records = []
        offset = 0
        while offset < len(datagram):
            record = cls._parse_one(datagram, offset)
            records.append(record)
            offset += _RECORD_HEADER_LENGTH + len(record.fragment)
        return records

    @classmethod
    def _parse_one(cls, datagram: bytes, offset: int) -> "DtlsRecord":
        if len(datagram) - offset < _RECORD_HEADER_LENGTH:
            raise ValueError(
                f"invalid DTLS record header length {len(datagram) - offset}: "
                f"expected {_RECORD_HEADER_LENGTH} bytes"
            )
        content_type = datagram[offset]
        version = int.from_bytes(datagram[offset + 1 : offset + 3], "big")
        epoch = int.from_bytes(datagram[offset + 3 : offset + 5], "big")
        sequence_number = int.from_bytes(datagram[offset + 5 : offset + 11], "big")
        length = int.from_bytes(datagram[offset + 11 : offset + 13], "big")
        if content_type not in _CONTENT_TYPES:
            raise ValueError(f"invalid DTLS record content_type {content_type}")
        if version not in _RECORD_VERSIONS:
            raise ValueError(f"invalid DTLS record version 0x{version:04X}")

        start = offset + _RECORD_HEADER_LENGTH
        if start + length > len(datagram):
            raise ValueError(
                f"invalid DTLS record length {length}: only {len(datagram) - start} bytes follow"
            )
        record = cls(
            content_type, version, epoch, sequence_number, datagram[start : start + length]
        )
        if epoch == 0:
            record._check_plaintext()
        return record

    def _check_plaintext(self) -> None:
        """Check the payload of an unencrypted (epoch 0) record.

        OpenSSL fails a handshake on an epoch 0 record whose payload it cannot parse, so
        checking here lets the session drop such garbage instead.
        """
        if self.content_type == _APPLICATION_DATA:
            # Application data exists only after the handshake, so always in epoch 1 or later.
            raise ValueError("invalid DTLS record: application_data in epoch 0")
        if self.content_type == _ALERT and len(self.fragment) != 2:
            # RFC 5246 §7.2: level (1) and description (1).
            raise ValueError(f"invalid DTLS alert length {len(self.fragment)}: expected 2")
        if self.content_type == _CHANGE_CIPHER_SPEC and self.fragment != b"\x01":
            # RFC 5246 §7.1: a single byte of value 1.
            raise ValueError(f"invalid DTLS change_cipher_spec {self.fragment.hex()}: expected 01")
        if self.content_type == _HANDSHAKE:
            _check_handshake_fragment(self.fragment)

    def __bytes__(self) -> bytes:
        return (
            bytes([self.content_type])
            + self.version.to_bytes(2, "big")
            + self.epoch.to_bytes(2, "big")
            + self.sequence_number.to_bytes(6, "big")
            + len(self.fragment).to_bytes(2, "big")
            + self.fragment
        )


def _check_handshake_fragment(fragment: bytes) -> None:
    """Check the handshake header of one epoch 0 record (RFC 6347 §4.2.2).

    The header is msg_type (1), length (3), message_seq (2), fragment_offset (3) and
    fragment_length (3), followed by exactly fragment_length bytes.
    """
    if len(fragment) < _HANDSHAKE_HEADER_LENGTH:
        raise ValueError(
            f"invalid DTLS handshake header length {len(fragment)}: "
            f"expected {_HANDSHAKE_HEADER_LENGTH} bytes"
        )
    message_length = int.from_bytes(fragment[1:4], "big")
    fragment_offset = int.from_bytes(fragment[6:9], "big")
    fragment_length = int.from_bytes(fragment[9:12], "big")
    if _HANDSHAKE_HEADER_LENGTH + fragment_length != len(fragment):
        raise ValueError(
            f"invalid DTLS handshake fragment_length {fragment_length}: the record carries "
            f"{len(fragment) - _HANDSHAKE_HEADER_LENGTH} bytes"
        )
    if fragment_offset + fragment_length > message_length:
        raise ValueError(
            f"invalid DTLS handshake fragment_offset {fragment_offset}: the fragment ends "
            f"past the message length {message_length}"
        )


def pack_datagrams(records: Sequence[bytes], mtu: int = MTU) -> list[bytes]:
    """Pack whole records into datagrams of at most `mtu` bytes, keeping their order.

    RFC 6347 §4.1.1: a record never spans datagrams, but one datagram may carry several. A
    record longer than `mtu` (application data the caller made that large) goes alone.
    """
    datagrams: list[bytes] = []
    current = b""
    for record in records:
        if current and len(current) + len(record) > mtu:
            datagrams.append(current)
            current = b""
        current += record
    if current:
        datagrams.append(current)
    return datagrams


def _parse_remote_fingerprints(fingerprints: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Return (algorithm, uppercase value) pairs for the algorithms this module can compute.

    Raises InvalidParameterError when the list is empty, an entry lacks a string `algorithm`
    or `value`, a value is not colon-separated hex pairs, or no algorithm is supported.
    """
    if not fingerprints:
        raise InvalidParameterError("missing remote fingerprints: the list is empty")

    parsed = []
    for index, entry in enumerate(fingerprints):
        algorithm = entry.get("algorithm")
        value = entry.get("value")
        if not isinstance(algorithm, str):
            raise InvalidParameterError(f"invalid fingerprints[{index}].algorithm: {algorithm!r}")
        if not isinstance(value, str):
            raise InvalidParameterError(f"invalid fingerprints[{index}].value: {value!r}")
        normalised = value.strip().upper()
        if not _FINGERPRINT_VALUE.fullmatch(normalised):
            raise InvalidParameterError(
                f"invalid fingerprints[{index}].value {value!r}: expected hex pairs joined by ':'"
            )
        if algorithm.lower() in FINGERPRINT_ALGORITHMS:
            parsed.append((algorithm.lower(), normalised))

    if not parsed:
        names = ", ".join(entry.get("algorithm", "?") for entry in fingerprints)
        raise InvalidParameterError(
            f"unsupported fingerprint algorithms ({names}): expected one of "
            f"{', '.join(FINGERPRINT_ALGORITHMS)}"
        )
    return parsed


def _select_profiles(names: Sequence[str] | None) -> tuple[SrtpProfile, ...]:
    """Return the profiles to offer, by `cryptoSuite` name, or every supported one for None."""
    if names is None:
        return SRTP_PROFILES
    if not names:
        raise InvalidParameterError("invalid srtp_profiles: the list is empty")

    supported = {profile.name: profile for profile in SRTP_PROFILES}
    selected = []
    for name in names:
        profile = supported.get(name)
        if profile is None:
            raise InvalidParameterError(
                f"unsupported SRTP profile {name!r}: expected one of {', '.join(supported)}"
            )
        selected.append(profile)
    return tuple(selected)


def _describe(exc: SSL.Error) -> str:
    """Return OpenSSL's reason strings from an error, or its text when it carries none."""
    reasons = [
        entry[2]
        for entry in (exc.args[0] if exc.args and isinstance(exc.args[0], list) else [])
        if isinstance(entry, tuple) and len(entry) == 3
    ]
    return ", ".join(reasons) if reasons else str(exc)


class DtlsSession:
    """One DTLS association in a fixed role, driven by datagrams and a clock.

    Call `start(now)` once, feed every received DTLS datagram to `handle_datagram`, call
    `handle_timeout` when `poll_timeout()` is due, send every datagram these calls return,
    and read state changes and application data from `pop_events()`.

    `srtp_profiles` limits the offered `use_srtp` profiles by `cryptoSuite` name, strongest
    first; None offers every profile in `SRTP_PROFILES`.

    RFC 6347 §4.1.2.7 recommends discarding invalid records silently. `handle_datagram`
    drops and counts in `drop_counters` a datagram that arrives before `start()` or after a
    failure or close ("invalid_state") and one that `DtlsRecord.parse_datagram` rejects
    ("malformed_record"). OpenSSL then discards records that fail decryption without
    telling us, so those are not counted. A well-formed but unexpected handshake message
    still fails the handshake, as it does in OpenSSL and mediasoup.
    """

    def __init__(
        self,
        certificate: Certificate,
        role: DtlsRole,
        remote_fingerprints: Sequence[Mapping[str, Any]],
        srtp_profiles: Sequence[str] | None = None,
    ) -> None:
        if role not in ("client", "server"):
            raise InvalidParameterError(
                f"invalid DTLS role {role!r}: expected 'client' or 'server'"
            )

        self.role: DtlsRole = role
        self._remote_fingerprints = _parse_remote_fingerprints(remote_fingerprints)
        self._offered_profiles = _select_profiles(srtp_profiles)
        self._ssl = SSL.Connection(_create_context(certificate, self._offered_profiles), None)
        self._ssl.set_ciphertext_mtu(MTU)

        self._state: DtlsState = "new"
        self._handshake_done = False
        self._deadline: float | None = None
        self._retransmissions = 0
        self._events: list[DtlsEvent] = []
        self._srtp_keys: SrtpKeys | None = None
        self._srtp_profile: SrtpProfile | None = None
        self.remote_certificate_pem: bytes | None = None
        self.drop_counters: dict[str, int] = {
            "malformed_record": 0,
            "invalid_state": 0,
        }

    @property
    def state(self) -> DtlsState:
        """One of "new", "connecting", "connected", "failed" and "closed"."""
        return self._state

    @property
    def srtp_profile(self) -> str | None:
        """The negotiated `use_srtp` profile by its OpenSSL name, or None before connecting."""
        return self._srtp_profile.openssl_name if self._srtp_profile else None

    def start(self, now: float) -> list[bytes]:
        """Start the handshake. A client returns its ClientHello, and a server waits for one."""
        if self._state != "new":
            raise InvalidStateError(f"cannot start a DTLS session in state {self._state!r}")

        self._set_state("connecting")
        if self.role == "server":
            self._ssl.set_accept_state()
            return []

        self._ssl.set_connect_state()
        self._continue_handshake()
        return self._flush(now)

    def handle_datagram(self, now: float, data: bytes) -> list[bytes]:
        """Feed one received datagram and return the datagrams to send in response."""
        if self._state not in ("connecting", "connected"):
            self.drop_counters["invalid_state"] += 1
            return []
        try:
            DtlsRecord.parse_datagram(data)
        except ValueError:
            self.drop_counters["malformed_record"] += 1
            return []

        self._ssl.bio_write(data)
        if not self._handshake_done:
            self._continue_handshake()
        if self._state == "connected":
            self._read_application_data()
        return self._flush(now)

    def poll_timeout(self) -> float | None:
        """Return the time (on the caller's clock) at which to call `handle_timeout`, or None."""
        return self._deadline

    def handle_timeout(self, now: float) -> list[bytes]:
        """Retransmit the last handshake flight if the timer has expired (RFC 6347 §4.2.4)."""
        if self._state != "connecting" or self._deadline is None or now < self._deadline:
            return []

        try:
            retransmitted = self._ssl.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._fail(f"DTLS handshake failed: {_describe(exc)}")
            return self._flush(now)
        if retransmitted:
            self._retransmissions += 1

        # NOTE: no test reaches this limit, because OpenSSL's timer would need 31 s of real
        # time. It relies on OpenSSL doubling the interval after each retransmission.
        interval = self._ssl.DTLSv1_get_timeout()
        if interval is not None and interval > MAX_RETRANSMISSION_INTERVAL:
            self._read_outgoing()
            self._fail(
                f"DTLS handshake timed out: no response after {self._retransmissions} "
                "retransmissions"
            )
            return []
        return self._flush(now)

    def send_application_data(self, data: bytes) -> list[bytes]:
        """Encrypt `data` as one application data record and return it as one datagram.

        Raises InvalidStateError unless the session is connected, and InvalidParameterError
        for empty data or more than `MAX_APPLICATION_DATA` bytes. Keep SCTP packets small
        enough that the record fits `MTU`, because a larger record goes out as one datagram.
        """
        if self._state != "connected":
            raise InvalidStateError(
                f"cannot send DTLS application data in state {self._state!r}: "
                "wait for state 'connected'"
            )
        if not data or len(data) > MAX_APPLICATION_DATA:
            raise InvalidParameterError(
                f"invalid application data length {len(data)}: expected 1 to "
                f"{MAX_APPLICATION_DATA} bytes"
            )

        self._ssl.send(data)
        return self._read_outgoing()

    def srtp_keys(self) -> SrtpKeys:
        """Return the SRTP master keys, which exist only while the session is connected."""
        if self._srtp_keys is None or self._state != "connected":
            raise InvalidStateError(
                f"no SRTP keys in DTLS state {self._state!r}: keys exist only when 'connected'"
            )
        return self._srtp_keys

    def pop_events(self) -> list[DtlsEvent]:
        """Return the events since the last call, oldest first, and forget them."""
        events = self._events
        self._events = []
        return events

    def close(self) -> list[bytes]:
        """Close the session and return a close_notify alert if the handshake has completed.

        Idempotent: a second call, or a call after a failure, returns nothing.
        """
        if self._state in ("closed", "failed"):
            return []

        was_connected = self._state == "connected"
        self._set_closed("closed locally")
        if not was_connected:
            return []

        try:
            self._ssl.shutdown()
        except SSL.Error:
            return []
        return self._read_outgoing()

    # Handshake

    def _continue_handshake(self) -> None:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            return
        except SSL.Error as exc:
            self._fail(f"DTLS handshake failed: {_describe(exc)}")
            return

        self._handshake_done = True
        self._complete_handshake()

    def _complete_handshake(self) -> None:
        certificate = self._ssl.get_peer_certificate(as_cryptography=True)
        if certificate is None:
            self._reject("peer sent no certificate")
            return
        if not self._fingerprints_match(certificate):
            self._reject("peer certificate does not match the signalled fingerprint")
            return

        openssl_name = self._ssl.get_selected_srtp_profile().decode()
        profile = next((p for p in self._offered_profiles if p.openssl_name == openssl_name), None)
        if profile is None:
            self._reject(
                "no SRTP profile negotiated: the peer offered no use_srtp profile we support"
            )
            return

        self.remote_certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
        self._srtp_profile = profile
        self._srtp_keys = self._export_srtp_keys(profile)
        self._set_state("connected")

    def _fingerprints_match(self, certificate: Any) -> bool:
        """Check every signalled fingerprint that we can compute, in constant time."""
        for algorithm, expected in self._remote_fingerprints:
            actual = format_fingerprint(certificate.fingerprint(FINGERPRINT_ALGORITHMS[algorithm]))
            if not hmac.compare_digest(actual.encode("ascii"), expected.encode("ascii")):
                return False
        return True

    def _export_srtp_keys(self, profile: SrtpProfile) -> SrtpKeys:
        """Split the exporter output (RFC 5764 §4.2) into local and remote key plus salt.

        The layout is client key, server key, client salt, server salt. The local pair is the
        one of our own role.
        """
        key_length = profile.key_length
        salt_length = profile.salt_length
        material = self._ssl.export_keying_material(EXPORTER_LABEL, 2 * (key_length + salt_length))
        client_key = material[:key_length]
        server_key = material[key_length : 2 * key_length]
        client_salt = material[2 * key_length : 2 * key_length + salt_length]
        server_salt = material[2 * key_length + salt_length :]

        client = client_key + client_salt
        server = server_key + server_salt
        if self.role == "client":
            return SrtpKeys(profile.name, local_key_salt=client, remote_key_salt=server)
        return SrtpKeys(profile.name, local_key_salt=server, remote_key_salt=client)

    # Records after the handshake

    def _read_application_data(self) -> None:
        while self._state == "connected":
            try:
                data = self._ssl.recv(_READ_SIZE)
            except SSL.WantReadError:
                return
            except SSL.ZeroReturnError:
                self._handle_close_notify()
                return
            except SSL.Error as exc:
                self._set_closed(f"DTLS connection error: {_describe(exc)}")
                return
            self._events.append(DtlsApplicationData(data))

    def _handle_close_notify(self) -> None:
        # RFC 5246 §7.2.1: the receiver of a close_notify sends its own close_notify back.
        self._set_closed("close_notify received")
        try:
            self._ssl.shutdown()
        except SSL.Error:
            pass

    # State and output

    def _set_state(self, state: DtlsState, reason: str | None = None) -> None:
        self._state = state
        self._events.append(DtlsStateChange(state, reason))

    def _fail(self, reason: str) -> None:
        self._srtp_keys = None
        self._deadline = None
        self._set_state("failed", reason)

    def _reject(self, reason: str) -> None:
        # The handshake succeeded in OpenSSL but the peer is not the one signalled. Drop the
        # final flight that OpenSSL has already written, so that the peer never completes.
        self._read_outgoing()
        self._fail(reason)

    def _set_closed(self, reason: str) -> None:
        self._srtp_keys = None
        self._deadline = None
        self._set_state("closed", reason)

    def _flush(self, now: float) -> list[bytes]:
        """Return pending datagrams and move the retransmission deadline to OpenSSL's timer."""
        datagrams = self._read_outgoing()
        if self._state == "connecting":
            remaining = self._ssl.DTLSv1_get_timeout()
            self._deadline = None if remaining is None else now + remaining
        else:
            self._deadline = None
        return datagrams

    def _read_outgoing(self) -> list[bytes]:
        """Drain the outgoing memory BIO and cut its byte stream back into datagrams.

        A memory BIO concatenates everything OpenSSL writes, so the datagram boundaries are
        lost. Records stay whole, and OpenSSL sizes handshake records to fit `MTU`, so
        regrouping the records restores datagrams of at most `MTU` bytes.
        """
        chunks = []
        while True:
            try:
                chunks.append(self._ssl.bio_read(_READ_SIZE))
            except SSL.WantReadError:
                break
        if not chunks:
            return []

        stream = b"".join(chunks)
        try:
            records = DtlsRecord.parse_datagram(stream)
        except ValueError:
            # OpenSSL wrote something that is not a DTLS 1.2 record, so send it unchanged.
            return [stream]
        return pack_datagrams([bytes(record) for record in records])

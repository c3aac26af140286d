"""DTLS-SRTP sessions: two sessions over an in-memory network, records, timers, interop."""

import asyncio
import datetime
import hashlib
import hmac
import os
import time
from collections.abc import Callable

import pytest
from aiortc.rtcdtlstransport import (
    RTCCertificate,
    RTCDtlsFingerprint,
    RTCDtlsParameters,
    RTCDtlsTransport,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sfu.errors import InvalidParameterError, InvalidStateError
from workers.certificate import Certificate
from workers.dtls import (
    MTU,
    SRTP_PROFILES,
    DtlsApplicationData,
    DtlsRecord,
    DtlsSession,
    DtlsStateChange,
    SrtpKeys,
    pack_datagrams,
)
from workers.srtp import PROFILES, srtp_context_from_keys

RTP_PACKET = bytes.fromhex("80601234 00000064 deadbeef 0102030405060708")
RTCP_PACKET = bytes.fromhex("81c90007 deadbeef 12345678" + "00" * 20)

Drop = Callable[[str, bytes], bool]


@pytest.fixture(scope="module")
def client_certificate() -> Certificate:
    return Certificate.generate("client")


@pytest.fixture(scope="module")
def server_certificate() -> Certificate:
    return Certificate.generate("server")


def session_pair(
    client_certificate: Certificate,
    server_certificate: Certificate,
    client_profiles: list[str] | None = None,
) -> tuple[DtlsSession, DtlsSession]:
    client = DtlsSession(
        client_certificate, "client", server_certificate.fingerprints(), client_profiles
    )
    server = DtlsSession(server_certificate, "server", client_certificate.fingerprints())
    return client, server


def deliver(
    client: DtlsSession,
    server: DtlsSession,
    to_server: list[bytes],
    now: float = 0.0,
    drop: Drop | None = None,
) -> list[tuple[str, bytes]]:
    """Carry datagrams back and forth until both sides are quiet; return what was sent.

    `drop(direction, datagram)` returning True loses that datagram; direction is "c>s" or
    "s>c".
    """
    sent: list[tuple[str, bytes]] = []
    pending = [("c>s", datagram) for datagram in to_server]
    while pending:
        direction, datagram = pending.pop(0)
        sent.append((direction, datagram))
        if drop is not None and drop(direction, datagram):
            continue
        if direction == "c>s":
            pending += [("s>c", reply) for reply in server.handle_datagram(now, datagram)]
        else:
            pending += [("c>s", reply) for reply in client.handle_datagram(now, datagram)]
    return sent


def connect(client: DtlsSession, server: DtlsSession) -> list[tuple[str, bytes]]:
    server.start(0.0)
    return deliver(client, server, client.start(0.0))


def large_certificate() -> Certificate:
    """Return a P-521 certificate with 150 subject alternative names (about 4 KB of DER)."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "large")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName(f"host-{index:04d}.example.test") for index in range(150)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA512())
    )
    return Certificate(
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        x509=cert,
    )


def record(content_type: int, epoch: int, fragment: bytes, version: int = 0xFEFD) -> bytes:
    return bytes(DtlsRecord(content_type, version, epoch, 99, fragment))


# Handshake


def test_handshake_connects_both_roles(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)

    connect(client, server)

    assert client.state == "connected"
    assert server.state == "connected"
    assert client.pop_events() == [DtlsStateChange("connecting"), DtlsStateChange("connected")]
    assert server.pop_events() == [DtlsStateChange("connecting"), DtlsStateChange("connected")]
    assert client.poll_timeout() is None
    assert server.poll_timeout() is None


def test_handshake_flights(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)

    sent = connect(client, server)

    # ClientHello; ServerHello..ServerHelloDone; client Certificate..Finished; server
    # ChangeCipherSpec and Finished. The first record of each flight is a handshake record.
    assert [direction for direction, _ in sent] == ["c>s", "s>c", "c>s", "s>c"]
    first_records = [DtlsRecord.parse_datagram(datagram)[0] for _, datagram in sent]
    assert [r.content_type for r in first_records] == [22, 22, 22, 20]
    assert first_records[0].fragment[0] == 1  # msg_type client_hello


def test_srtp_keys_agree(client_certificate: Certificate, server_certificate: Certificate) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)

    client_keys = client.srtp_keys()
    server_keys = server.srtp_keys()

    assert client.srtp_profile == "SRTP_AEAD_AES_256_GCM"
    assert server.srtp_profile == "SRTP_AEAD_AES_256_GCM"
    assert client_keys.profile == "AEAD_AES_256_GCM"
    assert client_keys.local_key_salt == server_keys.remote_key_salt
    assert client_keys.remote_key_salt == server_keys.local_key_salt
    assert client_keys.local_key_salt != client_keys.remote_key_salt
    assert len(client_keys.local_key_salt) == 44


def test_offered_profiles_are_all_four() -> None:
    assert [profile.name for profile in SRTP_PROFILES] == list(PROFILES)
    assert [profile.openssl_name for profile in SRTP_PROFILES] == [
        "SRTP_AEAD_AES_256_GCM",
        "SRTP_AEAD_AES_128_GCM",
        "SRTP_AES128_CM_SHA1_80",
        "SRTP_AES128_CM_SHA1_32",
    ]


@pytest.mark.parametrize("profile", [profile.name for profile in SRTP_PROFILES])
def test_srtp_across_sessions_per_profile(
    client_certificate: Certificate, server_certificate: Certificate, profile: str
) -> None:
    client, server = session_pair(client_certificate, server_certificate, [profile])
    connect(client, server)
    client_srtp = srtp_context_from_keys(client.srtp_keys())
    server_srtp = srtp_context_from_keys(server.srtp_keys())

    assert client.srtp_profile == PROFILES[profile].openssl_name
    assert server.srtp_keys().profile == profile
    assert len(client.srtp_keys().local_key_salt) == PROFILES[profile].key_salt_length
    assert server_srtp.unprotect_rtp(client_srtp.protect_rtp(RTP_PACKET)) == RTP_PACKET
    assert client_srtp.unprotect_rtp(server_srtp.protect_rtp(RTP_PACKET)) == RTP_PACKET
    assert server_srtp.unprotect_rtcp(client_srtp.protect_rtcp(RTCP_PACKET)) == RTCP_PACKET


def test_keys_match_rfc5705_exporter(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    """Recompute the exporter from the master secret with the TLS 1.2 PRF (RFC 5246 §5)."""
    client, server = session_pair(
        client_certificate, server_certificate, ["AES_CM_128_HMAC_SHA1_80"]
    )
    connect(client, server)
    connection = client._ssl
    assert connection.get_cipher_name() == "ECDHE-ECDSA-AES128-GCM-SHA256"

    secret = connection.master_key()
    seed = b"EXTRACTOR-dtls_srtp" + connection.client_random() + connection.server_random()
    output = b""
    a = seed
    while len(output) < 60:
        a = hmac.digest(secret, a, hashlib.sha256)
        output += hmac.digest(secret, a + seed, hashlib.sha256)
    client_key, server_key = output[0:16], output[16:32]
    client_salt, server_salt = output[32:46], output[46:60]

    assert client.srtp_keys().local_key_salt == client_key + client_salt
    assert client.srtp_keys().remote_key_salt == server_key + server_salt
    assert server.srtp_keys().local_key_salt == server_key + server_salt


def test_remote_certificate_pem(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    assert client.remote_certificate_pem is None

    connect(client, server)

    assert client.remote_certificate_pem == server_certificate.certificate_pem
    assert server.remote_certificate_pem == client_certificate.certificate_pem


def test_srtp_keys_repr_hides_keys() -> None:
    keys = SrtpKeys("AEAD_AES_128_GCM", b"\x11" * 28, b"\x22" * 28)

    assert repr(keys) == "SrtpKeys(profile='AEAD_AES_128_GCM')"


def test_srtp_keys_before_connected_raises(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, _ = session_pair(client_certificate, server_certificate)

    with pytest.raises(InvalidStateError) as caught:
        client.srtp_keys()

    assert str(caught.value) == "no SRTP keys in DTLS state 'new': keys exist only when 'connected'"


def test_start_twice_raises(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, _ = session_pair(client_certificate, server_certificate)
    client.start(0.0)

    with pytest.raises(InvalidStateError) as caught:
        client.start(0.0)

    assert str(caught.value) == "cannot start a DTLS session in state 'connecting'"


# Fingerprints


def test_fingerprint_mismatch_fails_server(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    wrong = Certificate.generate("other").fingerprints()
    client = DtlsSession(client_certificate, "client", server_certificate.fingerprints())
    server = DtlsSession(server_certificate, "server", wrong)
    server.start(0.0)

    sent = deliver(client, server, client.start(0.0))

    assert server.state == "failed"
    assert server.pop_events()[-1] == DtlsStateChange(
        "failed", "peer certificate does not match the signalled fingerprint"
    )
    # The server withheld its Finished, so the client never completes.
    assert [direction for direction, _ in sent] == ["c>s", "s>c", "c>s"]
    assert client.state == "connecting"
    with pytest.raises(InvalidStateError):
        server.srtp_keys()
    assert server.remote_certificate_pem is None


def test_fingerprint_mismatch_fails_client(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    fingerprint = server_certificate.fingerprints()[2]
    value = fingerprint["value"]
    altered = value[:-1] + ("0" if value[-1] != "0" else "1")
    client = DtlsSession(client_certificate, "client", [{"algorithm": "sha-256", "value": altered}])
    server = DtlsSession(server_certificate, "server", client_certificate.fingerprints())

    connect(client, server)

    assert client.state == "failed"
    assert client.pop_events()[-1].reason == (  # type: ignore[union-attr]
        "peer certificate does not match the signalled fingerprint"
    )
    with pytest.raises(InvalidStateError) as caught:
        client.srtp_keys()
    assert str(caught.value) == (
        "no SRTP keys in DTLS state 'failed': keys exist only when 'connected'"
    )


def test_fingerprint_compared_case_insensitively(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    lowercase = [
        {"algorithm": "SHA-256", "value": entry["value"].lower()}
        for entry in server_certificate.fingerprints()
        if entry["algorithm"] == "sha-256"
    ]
    client = DtlsSession(client_certificate, "client", lowercase)
    server = DtlsSession(server_certificate, "server", client_certificate.fingerprints())

    connect(client, server)

    assert client.state == "connected"


def test_every_supported_fingerprint_must_match(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    other = Certificate.generate("other").fingerprints()
    mixed = [server_certificate.fingerprints()[2], other[4], {"algorithm": "md5", "value": "AB"}]
    client = DtlsSession(client_certificate, "client", mixed)
    server = DtlsSession(server_certificate, "server", client_certificate.fingerprints())

    connect(client, server)

    assert client.state == "failed"


@pytest.mark.parametrize(
    ("fingerprints", "message"),
    [
        ([], "missing remote fingerprints: the list is empty"),
        ([{"value": "AB"}], "invalid fingerprints[0].algorithm: None"),
        ([{"algorithm": "sha-256", "value": 5}], "invalid fingerprints[0].value: 5"),
        (
            [{"algorithm": "sha-256", "value": "AB:CD:"}],
            "invalid fingerprints[0].value 'AB:CD:': expected hex pairs joined by ':'",
        ),
        (
            [{"algorithm": "md5", "value": "AB:CD"}],
            "unsupported fingerprint algorithms (md5): expected one of "
            "sha-1, sha-224, sha-256, sha-384, sha-512",
        ),
    ],
)
def test_invalid_fingerprints_raise(
    client_certificate: Certificate, fingerprints: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        DtlsSession(client_certificate, "client", fingerprints)

    assert str(caught.value) == message


def test_invalid_role_raises(client_certificate: Certificate) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        DtlsSession(client_certificate, "auto", [])  # type: ignore[arg-type]

    assert str(caught.value) == "invalid DTLS role 'auto': expected 'client' or 'server'"


def test_unsupported_profile_raises(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        DtlsSession(
            client_certificate, "client", server_certificate.fingerprints(), ["NULL_HMAC_SHA1_80"]
        )

    assert str(caught.value) == (
        "unsupported SRTP profile 'NULL_HMAC_SHA1_80': expected one of AEAD_AES_256_GCM, "
        "AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32"
    )


# MTU


def test_handshake_datagrams_fit_mtu(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)

    sent = connect(client, server)

    assert all(len(datagram) <= MTU for _, datagram in sent)


def test_large_certificate_fragmented_under_mtu() -> None:
    client_certificate = large_certificate()
    server_certificate = large_certificate()
    assert len(server_certificate.x509.public_bytes(serialization.Encoding.DER)) > 3500
    client, server = session_pair(client_certificate, server_certificate)

    sent = connect(client, server)

    sizes = [len(datagram) for _, datagram in sent]
    assert client.state == "connected"
    assert server.state == "connected"
    assert max(sizes) <= MTU
    # Each certificate needs several datagrams, so both big flights were split.
    assert sum(1 for direction, _ in sent if direction == "s>c") >= 4
    assert sum(1 for direction, _ in sent if direction == "c>s") >= 4


def test_pack_datagrams_keeps_records_whole() -> None:
    records = [bytes([22]) * 500, bytes([22]) * 600, bytes([22]) * 300, bytes([23]) * 1300]

    datagrams = pack_datagrams(records, mtu=1200)

    assert datagrams == [records[0] + records[1], records[2], records[3]]


# Retransmission


def test_timeout_before_deadline_does_nothing(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, _ = session_pair(client_certificate, server_certificate)
    client.start(100.0)
    deadline = client.poll_timeout()

    assert deadline is not None
    assert 100.9 < deadline <= 101.0
    assert client.handle_timeout(100.5) == []
    assert client.poll_timeout() == deadline


def test_fake_clock_ahead_of_openssl_moves_deadline(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, _ = session_pair(client_certificate, server_certificate)
    client.start(0.0)

    # OpenSSL's own timer has not expired in real time, so nothing is resent and the
    # deadline moves to the fake now plus OpenSSL's time left.
    assert client.handle_timeout(5.0) == []
    deadline = client.poll_timeout()

    assert deadline is not None
    assert 5.9 < deadline <= 6.0
    assert client.state == "connecting"


def test_lost_first_flight_retransmitted(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    """Real wait: OpenSSL's retransmission timer reads the real clock (about 1 s here)."""
    client, server = session_pair(client_certificate, server_certificate)
    server.start(0.0)
    lost = client.start(0.0)
    started = time.monotonic()
    deadline = client.poll_timeout()
    assert deadline is not None

    time.sleep(max(0.0, deadline - (time.monotonic() - started)) + 0.02)
    resent = client.handle_timeout(deadline)

    assert len(resent) == 1
    assert DtlsRecord.parse_datagram(resent[0])[0].fragment == (
        DtlsRecord.parse_datagram(lost[0])[0].fragment
    )
    assert client.poll_timeout() is not None
    deliver(client, server, resent, now=deadline)
    assert client.state == "connected"
    assert server.state == "connected"


def test_lost_last_flight_recovered(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    """Real wait of about 1 s, as above. The server has no timer for its last flight."""
    client, server = session_pair(client_certificate, server_certificate)
    server.start(0.0)

    deliver(
        client,
        server,
        client.start(0.0),
        drop=lambda direction, datagram: direction == "s>c" and datagram[0] == 20,
    )
    # Measured after the client sent its last flight, so the sleep below outlasts its timer.
    started = time.monotonic()
    assert server.state == "connected"
    assert client.state == "connecting"
    deadline = client.poll_timeout()
    assert deadline is not None

    time.sleep(max(0.0, deadline - (time.monotonic() - started)) + 0.02)
    resent = client.handle_timeout(deadline)
    sent = deliver(client, server, resent, now=deadline)

    assert client.state == "connected"
    assert any(direction == "s>c" for direction, _ in sent)
    assert client.srtp_keys().local_key_salt == server.srtp_keys().remote_key_salt


# Application data and close


def test_application_data_both_ways(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)
    client.pop_events()
    server.pop_events()

    to_server = client.send_application_data(b"sctp packet from client")
    to_client = server.send_application_data(bytes(1200))

    assert len(to_server) == 1
    assert DtlsRecord.parse_datagram(to_server[0])[0].content_type == 23
    assert server.handle_datagram(1.0, to_server[0]) == []
    assert server.pop_events() == [DtlsApplicationData(b"sctp packet from client")]
    assert len(to_client) == 1
    client.handle_datagram(1.0, to_client[0])
    assert client.pop_events() == [DtlsApplicationData(bytes(1200))]


def test_application_data_before_connected_raises(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, _ = session_pair(client_certificate, server_certificate)
    client.start(0.0)

    with pytest.raises(InvalidStateError) as caught:
        client.send_application_data(b"early")

    assert str(caught.value) == (
        "cannot send DTLS application data in state 'connecting': wait for state 'connected'"
    )


@pytest.mark.parametrize("length", [0, 16385])
def test_application_data_length_checked(
    client_certificate: Certificate, server_certificate: Certificate, length: int
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)

    with pytest.raises(InvalidParameterError) as caught:
        client.send_application_data(bytes(length))

    assert str(caught.value) == (
        f"invalid application data length {length}: expected 1 to 16384 bytes"
    )


def test_close_notify_closes_peer(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)
    client.pop_events()
    server.pop_events()

    alert = client.close()
    reply = server.handle_datagram(1.0, alert[0])

    assert len(alert) == 1
    assert DtlsRecord.parse_datagram(alert[0])[0].content_type == 21
    assert client.state == "closed"
    assert client.pop_events() == [DtlsStateChange("closed", "closed locally")]
    assert server.state == "closed"
    assert server.pop_events() == [DtlsStateChange("closed", "close_notify received")]
    assert len(reply) == 1
    assert client.handle_datagram(1.0, reply[0]) == []
    assert client.drop_counters["invalid_state"] == 1
    with pytest.raises(InvalidStateError):
        server.srtp_keys()


def test_close_is_idempotent(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)
    client.pop_events()

    client.close()

    assert client.close() == []
    assert client.pop_events() == [DtlsStateChange("closed", "closed locally")]


def test_close_before_connected_sends_nothing(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, _ = session_pair(client_certificate, server_certificate)
    client.start(0.0)

    assert client.close() == []
    assert client.state == "closed"
    assert client.poll_timeout() is None
    assert client.handle_timeout(10.0) == []


def test_fatal_alert_fails_handshake(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    server.start(0.0)
    client.start(0.0)

    # A fatal handshake_failure alert (level 2, description 40) in epoch 0.
    server.handle_datagram(0.0, record(21, 0, b"\x02\x28"))

    assert server.state == "failed"
    assert server.pop_events()[-1] == DtlsStateChange(
        "failed", "DTLS handshake failed: tls alert handshake failure"
    )


# Garbage

GARBAGE = [
    pytest.param(b"", id="empty"),
    pytest.param(bytes([22, 0xFE, 0xFD]) + bytes(5), id="short header"),
    pytest.param(bytes([24]) + bytes(12), id="unknown content type"),
    pytest.param(record(22, 0, bytes(12), version=0x0303), id="TLS version"),
    pytest.param(bytes.fromhex("16 fefd 0000 000000000000 0063") + bytes(12), id="length past end"),
    pytest.param(record(23, 0, b"hello"), id="application data in epoch 0"),
    pytest.param(record(21, 0, b"\x02"), id="short alert"),
    pytest.param(record(20, 0, b"\x02"), id="bad change cipher spec"),
    pytest.param(
        record(22, 0, bytes.fromhex("01 000010 0000 000000 000010")),
        id="bad fragment length",
    ),
    pytest.param(
        record(22, 0, bytes.fromhex("01 000004 0000 000002 000004") + bytes(4)),
        id="fragment past message",
    ),
    pytest.param(record(22, 0, bytes(12)) + b"\x16", id="trailing byte"),
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_counted_during_handshake(
    client_certificate: Certificate, server_certificate: Certificate, garbage: bytes
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    server.start(0.0)
    hello = client.start(0.0)

    assert server.handle_datagram(0.0, garbage) == []
    assert server.drop_counters == {"malformed_record": 1, "invalid_state": 0}
    assert server.state == "connecting"
    deliver(client, server, hello)
    assert server.state == "connected"


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_counted_when_connected(
    client_certificate: Certificate, server_certificate: Certificate, garbage: bytes
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)
    server.pop_events()

    assert server.handle_datagram(1.0, garbage) == []
    assert server.drop_counters == {"malformed_record": 1, "invalid_state": 0}
    assert server.state == "connected"
    assert server.pop_events() == []


def test_undecryptable_record_ignored_when_connected(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)
    connect(client, server)
    server.pop_events()

    # Well-formed epoch 1 records whose payload fails authentication: OpenSSL drops them.
    assert server.handle_datagram(1.0, record(23, 1, os.urandom(60))) == []
    assert server.handle_datagram(1.0, record(21, 1, os.urandom(30))) == []

    assert server.state == "connected"
    assert server.pop_events() == []
    server.handle_datagram(1.0, client.send_application_data(b"still works")[0])
    assert server.pop_events() == [DtlsApplicationData(b"still works")]


def test_datagram_before_start_counted(
    client_certificate: Certificate, server_certificate: Certificate
) -> None:
    client, server = session_pair(client_certificate, server_certificate)

    assert server.handle_datagram(0.0, client.start(0.0)[0]) == []
    assert server.drop_counters == {"malformed_record": 0, "invalid_state": 1}
    assert server.state == "new"


# Record codec


def test_record_round_trip() -> None:
    datagram = bytes.fromhex(
        "16 fefd 0001 00000000002a 0003 aabbcc 17 fefd 0001 00000000002b 0001 dd"
    )

    records = DtlsRecord.parse_datagram(datagram)

    assert records == [
        DtlsRecord(22, 0xFEFD, 1, 42, bytes.fromhex("aabbcc")),
        DtlsRecord(23, 0xFEFD, 1, 43, bytes.fromhex("dd")),
    ]
    assert b"".join(bytes(r) for r in records) == datagram


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (b"", "invalid DTLS datagram: empty"),
        (bytes(5), "invalid DTLS record header length 5: expected 13 bytes"),
        (bytes([25]) + bytes(12), "invalid DTLS record content_type 25"),
        (bytes.fromhex("160303") + bytes(10), "invalid DTLS record version 0x0303"),
        (
            bytes.fromhex("16 fefd 0001 000000000000 0005") + bytes(2),
            "invalid DTLS record length 5: only 2 bytes follow",
        ),
        (
            bytes.fromhex("17 feff 0000 000000000000 0001 00"),
            "invalid DTLS record: application_data in epoch 0",
        ),
        (
            bytes.fromhex("15 fefd 0000 000000000000 0001 02"),
            "invalid DTLS alert length 1: expected 2",
        ),
        (
            bytes.fromhex("14 fefd 0000 000000000000 0001 00"),
            "invalid DTLS change_cipher_spec 00: expected 01",
        ),
        (
            bytes.fromhex("16 fefd 0000 000000000000 0002 0100"),
            "invalid DTLS handshake header length 2: expected 12 bytes",
        ),
        (
            bytes.fromhex("16 fefd 0000 000000000000 000c 01 000010 0000 000000 000010"),
            "invalid DTLS handshake fragment_length 16: the record carries 0 bytes",
        ),
        (
            bytes.fromhex("16 fefd 0000 000000000000 000d 01 000001 0000 000001 000001 00"),
            "invalid DTLS handshake fragment_offset 1: the fragment ends past the message length 1",
        ),
    ],
)
def test_record_parse_errors(datagram: bytes, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        DtlsRecord.parse_datagram(datagram)

    assert str(caught.value) == message


# Interop with aiortc


class LoopbackIceTransport:
    """The two methods and the role that aiortc's RTCDtlsTransport uses, wired to a session."""

    def __init__(self, session: DtlsSession, role: str) -> None:
        self.role = role
        self.session = session
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    async def _recv(self) -> bytes:
        return await self.inbox.get()

    async def _send(self, data: bytes) -> None:
        for reply in self.session.handle_datagram(self.loop.time(), data):
            self.inbox.put_nowait(reply)


@pytest.mark.parametrize("our_role", ["client", "server"])
async def test_aiortc_interop(our_role: str) -> None:
    ours_certificate = Certificate.generate("pysfu")
    theirs_certificate = RTCCertificate.generateCertificate()
    theirs_fingerprints = [
        {"algorithm": f.algorithm, "value": f.value} for f in theirs_certificate.getFingerprints()
    ]
    session = DtlsSession(ours_certificate, our_role, theirs_fingerprints)  # type: ignore[arg-type]
    # aiortc takes the DTLS server role when its ICE role is controlling.
    ice = LoopbackIceTransport(session, "controlling" if our_role == "client" else "controlled")
    theirs = RTCDtlsTransport(ice, [theirs_certificate])  # type: ignore[arg-type]
    received: list[bytes] = []

    class DataReceiver:
        async def _handle_data(self, data: bytes) -> None:
            received.append(data)

    theirs._register_data_receiver(DataReceiver())
    for datagram in session.start(ice.loop.time()):
        ice.inbox.put_nowait(datagram)
    parameters = RTCDtlsParameters(
        fingerprints=[
            RTCDtlsFingerprint(f["algorithm"], f["value"]) for f in ours_certificate.fingerprints()
        ]
    )
    await asyncio.wait_for(theirs.start(parameters), timeout=10)

    assert theirs.state == "connected"
    assert session.state == "connected"
    ours_srtp = srtp_context_from_keys(session.srtp_keys())
    assert theirs._rx_srtp.unprotect(ours_srtp.protect_rtp(RTP_PACKET)) == RTP_PACKET
    assert ours_srtp.unprotect_rtp(theirs._tx_srtp.protect(RTP_PACKET)) == RTP_PACKET

    for datagram in session.send_application_data(b"from pysfu"):
        ice.inbox.put_nowait(datagram)
    await theirs._send_data(b"from aiortc")
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.01)
    assert received == [b"from pysfu"]
    assert DtlsApplicationData(b"from aiortc") in session.pop_events()

    await theirs.stop()
    assert session.state == "closed"

"""SRTP contexts: round trips per profile, replay window, repeated transmission, failures."""

import pytest

from workers.dtls import SrtpKeys
from workers.srtp import (
    PROFILE_NAMES,
    PROFILES,
    SrtpContext,
    SrtpError,
    srtp_context_from_keys,
)

# RTP: V=2, PT 96, seq 0x1234, timestamp 100, SSRC 0xDEADBEEF, 8 payload bytes.
RTP_PACKET = bytes.fromhex("80601234 00000064 deadbeef 0102030405060708")

# RTCP receiver report: sender SSRC 0xDEADBEEF, one report block about SSRC 0x12345678.
RTCP_PACKET = bytes.fromhex(
    "81c90007 deadbeef 12345678 00000000 00001234 00000000 00000000 00000000"
)

# Bytes that protect adds: the authentication tag for RTP; E flag and index (4) plus tag for
# SRTCP. RFC 5764 §4.1.2 gives SRTCP an 80-bit tag in the SHA1_32 profile too.
RTP_OVERHEAD = {
    "AEAD_AES_256_GCM": 16,
    "AEAD_AES_128_GCM": 16,
    "AES_CM_128_HMAC_SHA1_80": 10,
    "AES_CM_128_HMAC_SHA1_32": 4,
}
RTCP_OVERHEAD = {
    "AEAD_AES_256_GCM": 20,
    "AEAD_AES_128_GCM": 20,
    "AES_CM_128_HMAC_SHA1_80": 14,
    "AES_CM_128_HMAC_SHA1_32": 14,
}


def rtp_packet(sequence_number: int) -> bytes:
    return RTP_PACKET[:2] + sequence_number.to_bytes(2, "big") + RTP_PACKET[4:]


def context_pair(profile: str) -> tuple[SrtpContext, SrtpContext]:
    """Return two contexts whose local and remote keys are swapped, as two peers have them."""
    length = PROFILES[profile].key_salt_length
    key_a = bytes(range(length))
    key_b = bytes(range(100, 100 + length))
    return SrtpContext(profile, key_a, key_b), SrtpContext(profile, key_b, key_a)


def test_profiles_cover_every_crypto_suite() -> None:
    assert list(PROFILES) == list(RTP_OVERHEAD)


def test_profile_names_map_openssl_to_crypto_suite() -> None:
    assert PROFILE_NAMES == {
        "SRTP_AEAD_AES_256_GCM": "AEAD_AES_256_GCM",
        "SRTP_AEAD_AES_128_GCM": "AEAD_AES_128_GCM",
        "SRTP_AES128_CM_SHA1_80": "AES_CM_128_HMAC_SHA1_80",
        "SRTP_AES128_CM_SHA1_32": "AES_CM_128_HMAC_SHA1_32",
    }


@pytest.mark.parametrize(
    ("profile", "key_length", "salt_length"),
    [
        ("AEAD_AES_256_GCM", 32, 12),
        ("AEAD_AES_128_GCM", 16, 12),
        ("AES_CM_128_HMAC_SHA1_80", 16, 14),
        ("AES_CM_128_HMAC_SHA1_32", 16, 14),
    ],
)
def test_profile_key_and_salt_lengths(profile: str, key_length: int, salt_length: int) -> None:
    assert PROFILES[profile].key_length == key_length
    assert PROFILES[profile].salt_length == salt_length


@pytest.mark.parametrize("profile", list(RTP_OVERHEAD))
def test_rtp_round_trip(profile: str) -> None:
    alice, bob = context_pair(profile)

    protected = alice.protect_rtp(RTP_PACKET)
    assert len(protected) == len(RTP_PACKET) + RTP_OVERHEAD[profile]
    assert protected[:12] == RTP_PACKET[:12]
    assert protected[12:20] != RTP_PACKET[12:]
    assert bob.unprotect_rtp(protected) == RTP_PACKET

    reply = bob.protect_rtp(rtp_packet(7))
    assert alice.unprotect_rtp(reply) == rtp_packet(7)


@pytest.mark.parametrize("profile", list(RTCP_OVERHEAD))
def test_rtcp_round_trip(profile: str) -> None:
    alice, bob = context_pair(profile)

    protected = alice.protect_rtcp(RTCP_PACKET)
    assert len(protected) == len(RTCP_PACKET) + RTCP_OVERHEAD[profile]
    assert bob.unprotect_rtcp(protected) == RTCP_PACKET

    reply = bob.protect_rtcp(RTCP_PACKET)
    assert alice.unprotect_rtcp(reply) == RTCP_PACKET


def test_same_profile_wrong_direction_fails() -> None:
    alice, _ = context_pair("AES_CM_128_HMAC_SHA1_80")

    with pytest.raises(SrtpError) as caught:
        alice.unprotect_rtp(alice.protect_rtp(RTP_PACKET))

    assert str(caught.value) == "SRTP unprotect failed: authentication failure"
    assert caught.value.reason == "authentication failure"
    assert caught.value.ssrc == 0xDEADBEEF


def test_replay_rejected() -> None:
    alice, bob = context_pair("AEAD_AES_128_GCM")
    protected = alice.protect_rtp(RTP_PACKET)
    bob.unprotect_rtp(protected)

    with pytest.raises(SrtpError) as caught:
        bob.unprotect_rtp(protected)

    assert str(caught.value) == "SRTP unprotect failed: replay check failed (bad index)"


def test_rtcp_replay_rejected() -> None:
    alice, bob = context_pair("AES_CM_128_HMAC_SHA1_80")
    protected = alice.protect_rtcp(RTCP_PACKET)
    bob.unprotect_rtcp(protected)

    with pytest.raises(SrtpError) as caught:
        bob.unprotect_rtcp(protected)

    assert str(caught.value) == "SRTCP unprotect failed: replay check failed (bad index)"
    assert caught.value.ssrc == 0xDEADBEEF


def test_repeated_transmission_allowed() -> None:
    alice, bob = context_pair("AES_CM_128_HMAC_SHA1_80")
    first = alice.protect_rtp(rtp_packet(10))
    alice.protect_rtp(rtp_packet(11))

    # Resending after a NACK with the original sequence number protects index 10 again.
    again = alice.protect_rtp(rtp_packet(10))

    assert again == first
    assert bob.unprotect_rtp(again) == rtp_packet(10)


def test_replay_window_is_1024_packets() -> None:
    alice, bob = context_pair("AES_CM_128_HMAC_SHA1_80")
    protected = {seq: alice.protect_rtp(rtp_packet(seq)) for seq in range(1, 2001)}
    bob.unprotect_rtp(protected[2000])

    # 1000 behind the highest index: inside the window (libsrtp's default is only 128).
    assert bob.unprotect_rtp(protected[1000]) == rtp_packet(1000)
    with pytest.raises(SrtpError) as caught:
        bob.unprotect_rtp(protected[900])

    assert caught.value.reason == "replay check failed (index too old)"


def test_consecutive_failures_counted_and_reset() -> None:
    alice, bob = context_pair("AEAD_AES_256_GCM")
    for seq in range(3):
        forged = bytearray(alice.protect_rtp(rtp_packet(seq)))
        forged[-1] ^= 0xFF
        with pytest.raises(SrtpError):
            bob.unprotect_rtp(bytes(forged))

    assert bob.consecutive_unprotect_failures == 3
    assert bob.consecutive_rtcp_unprotect_failures == 0

    bob.unprotect_rtp(alice.protect_rtp(rtp_packet(3)))

    assert bob.consecutive_unprotect_failures == 0


def test_rtcp_failures_counted_apart() -> None:
    alice, bob = context_pair("AEAD_AES_128_GCM")
    with pytest.raises(SrtpError):
        bob.unprotect_rtcp(RTCP_PACKET + bytes(20))
    bob.unprotect_rtp(alice.protect_rtp(RTP_PACKET))

    assert bob.consecutive_rtcp_unprotect_failures == 1
    assert bob.consecutive_unprotect_failures == 0

    bob.unprotect_rtcp(alice.protect_rtcp(RTCP_PACKET))

    assert bob.consecutive_rtcp_unprotect_failures == 0


def test_short_packet_raises_srtp_error() -> None:
    _, bob = context_pair("AES_CM_128_HMAC_SHA1_80")

    with pytest.raises(SrtpError) as caught:
        bob.unprotect_rtp(b"\x80\x60\x00")

    assert caught.value.ssrc is None
    assert bob.consecutive_unprotect_failures == 1


def test_oversized_packet_raises_srtp_error() -> None:
    alice, _ = context_pair("AES_CM_128_HMAC_SHA1_80")

    with pytest.raises(SrtpError) as caught:
        alice.protect_rtp(RTP_PACKET + bytes(1400))

    assert str(caught.value) == "SRTP protect failed: packet is too long"


def test_bytearray_and_memoryview_accepted() -> None:
    alice, bob = context_pair("AEAD_AES_128_GCM")

    protected = alice.protect_rtp(bytearray(RTP_PACKET))

    assert bob.unprotect_rtp(memoryview(protected)) == RTP_PACKET


def test_unknown_profile_raises() -> None:
    with pytest.raises(ValueError) as caught:
        SrtpContext("SRTP_AES128_CM_SHA1_80", bytes(30), bytes(30))

    assert str(caught.value) == (
        "invalid SRTP profile 'SRTP_AES128_CM_SHA1_80': expected one of AEAD_AES_256_GCM, "
        "AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32"
    )


def test_wrong_key_length_raises() -> None:
    with pytest.raises(ValueError) as caught:
        SrtpContext("AEAD_AES_256_GCM", bytes(44), bytes(30))

    assert str(caught.value) == (
        "invalid remote_key_salt length 30 for AEAD_AES_256_GCM: expected 44 bytes "
        "(32 key + 12 salt)"
    )


def test_context_from_keys() -> None:
    keys = SrtpKeys("AES_CM_128_HMAC_SHA1_32", bytes(range(30)), bytes(range(50, 80)))

    sender = srtp_context_from_keys(keys)
    receiver = SrtpContext("AES_CM_128_HMAC_SHA1_32", bytes(range(50, 80)), bytes(range(30)))

    assert sender.profile.name == "AES_CM_128_HMAC_SHA1_32"
    assert receiver.unprotect_rtp(sender.protect_rtp(RTP_PACKET)) == RTP_PACKET

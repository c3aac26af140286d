"""SRTP and SRTCP contexts over pylibsrtp, keyed from a DTLS-SRTP handshake.

One `SrtpContext` protects everything a transport sends and unprotects everything it receives.
Profile names follow mediasoup's `cryptoSuite` values. `PROFILE_NAMES` maps to them from the
names that OpenSSL negotiates in the DTLS `use_srtp` extension (RFC 5764 §4.1.2, RFC 7714).
"""

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pylibsrtp
from pylibsrtp import Policy, Session

if TYPE_CHECKING:
    from workers.dtls import SrtpKeys

# libsrtp's replay window for incoming packets, in packets (mediasoup uses the same size).
REPLAY_WINDOW_SIZE: Final = 1024


@dataclass(frozen=True, slots=True)
class SrtpProfile:
    """One SRTP protection profile: its names and master key and salt lengths in bytes."""

    name: str
    openssl_name: str
    key_length: int
    salt_length: int
    libsrtp_profile: int

    @property
    def key_salt_length(self) -> int:
        """Length of the master key followed by the master salt, as libsrtp takes them."""
        return self.key_length + self.salt_length


# Strongest first, the order in which DTLS offers them. Key and salt lengths are from
# RFC 5764 §4.1.2 (AES-CM, a 112-bit salt) and RFC 7714 (AEAD, a 96-bit salt).
ALL_PROFILES: Final = (
    SrtpProfile(
        "AEAD_AES_256_GCM", "SRTP_AEAD_AES_256_GCM", 32, 12, Policy.SRTP_PROFILE_AEAD_AES_256_GCM
    ),
    SrtpProfile(
        "AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM", 16, 12, Policy.SRTP_PROFILE_AEAD_AES_128_GCM
    ),
    SrtpProfile(
        "AES_CM_128_HMAC_SHA1_80",
        "SRTP_AES128_CM_SHA1_80",
        16,
        14,
        Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    ),
    SrtpProfile(
        "AES_CM_128_HMAC_SHA1_32",
        "SRTP_AES128_CM_SHA1_32",
        16,
        14,
        Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    ),
)

# OpenSSL `use_srtp` profile name -> mediasoup `cryptoSuite` name.
PROFILE_NAMES: Final = {profile.openssl_name: profile.name for profile in ALL_PROFILES}


def _libsrtp_supports(profile: SrtpProfile) -> bool:
    # A libsrtp built without AES-GCM rejects the GCM profiles when a policy is created.
    try:
        Policy(srtp_profile=profile.libsrtp_profile)
    except pylibsrtp.Error:
        return False
    return True


# Profiles this libsrtp build can run, keyed by `cryptoSuite` name, in preference order.
PROFILES: Final = {profile.name: profile for profile in ALL_PROFILES if _libsrtp_supports(profile)}


class SrtpError(ValueError):
    """An SRTP or SRTCP packet failed to protect or unprotect.

    `reason` is libsrtp's error text (for example "authentication failure" or "replay check
    failed (bad index)"), so the I/O layer can count drops by reason. `ssrc` is the SSRC read from
    the packet header, or None when the packet is shorter than the field.
    """

    def __init__(self, message: str, reason: str, ssrc: int | None) -> None:
        super().__init__(message)
        self.reason = reason
        self.ssrc = ssrc


def _read_ssrc(packet: bytes, offset: int) -> int | None:
    if len(packet) < offset + 4:
        return None
    ssrc: int = struct.unpack_from("!I", packet, offset)[0]
    return ssrc


def _create_session(profile: SrtpProfile, key_salt: bytes, ssrc_type: int) -> Session:
    policy = Policy(key=key_salt, ssrc_type=ssrc_type, srtp_profile=profile.libsrtp_profile)
    # Repeated transmission lets the sender resend a packet with its original sequence number
    # after a NACK. Without it, libsrtp rejects protecting the same index twice.
    policy.allow_repeat_tx = True
    policy.window_size = REPLAY_WINDOW_SIZE
    return Session(policy)


class SrtpContext:
    """The outbound and inbound SRTP sessions of one transport.

    Both sessions accept any SSRC: libsrtp creates a stream per SSRC from the policy on first
    use. Methods take `bytes` (a `bytearray` or `memoryview` is copied to `bytes` first, because
    pylibsrtp accepts only `bytes`) and return new `bytes`. Every failure raises `SrtpError`.

    NOTE: pylibsrtp 1.0 works in a 1500-byte buffer, so it rejects RTP over 1356 bytes and
    RTCP over 1352 bytes on protect, and any packet over 1500 bytes on unprotect, with
    "packet is too long".
    """

    def __init__(self, profile: str, local_key_salt: bytes, remote_key_salt: bytes) -> None:
        known = PROFILES.get(profile)
        if known is None:
            raise ValueError(
                f"invalid SRTP profile {profile!r}: expected one of {', '.join(PROFILES)}"
            )
        for field, value in (
            ("local_key_salt", local_key_salt),
            ("remote_key_salt", remote_key_salt),
        ):
            if len(value) != known.key_salt_length:
                raise ValueError(
                    f"invalid {field} length {len(value)} for {profile}: expected "
                    f"{known.key_salt_length} bytes ({known.key_length} key + "
                    f"{known.salt_length} salt)"
                )

        self.profile = known
        self._tx = _create_session(known, bytes(local_key_salt), Policy.SSRC_ANY_OUTBOUND)
        self._rx = _create_session(known, bytes(remote_key_salt), Policy.SSRC_ANY_INBOUND)

        # Failures since the last successful unprotect, RTP and RTCP counted apart. A receive
        # context that has lost track of a stream's rollover counter fails every packet from
        # then on, so a long run of failures calls for recovery (new keys from a new DTLS
        # session), not silent drops forever.
        self.consecutive_unprotect_failures = 0
        self.consecutive_rtcp_unprotect_failures = 0

    def protect_rtp(self, packet: bytes | bytearray | memoryview) -> bytes:
        """Encrypt and authenticate an RTP packet (RFC 3711 §3.3)."""
        data = packet if type(packet) is bytes else bytes(packet)
        try:
            protected: bytes = self._tx.protect(data)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"SRTP protect failed: {exc}", str(exc), _read_ssrc(data, 8)) from None
        return protected

    def unprotect_rtp(self, packet: bytes | bytearray | memoryview) -> bytes:
        """Authenticate, replay-check and decrypt an SRTP packet (RFC 3711 §3.3)."""
        data = packet if type(packet) is bytes else bytes(packet)
        try:
            plain: bytes = self._rx.unprotect(data)
        except (pylibsrtp.Error, ValueError) as exc:
            self.consecutive_unprotect_failures += 1
            raise SrtpError(
                f"SRTP unprotect failed: {exc}", str(exc), _read_ssrc(data, 8)
            ) from None
        self.consecutive_unprotect_failures = 0
        return plain

    def protect_rtcp(self, packet: bytes | bytearray | memoryview) -> bytes:
        """Encrypt and authenticate an RTCP compound packet as SRTCP (RFC 3711 §3.4)."""
        data = packet if type(packet) is bytes else bytes(packet)
        try:
            protected: bytes = self._tx.protect_rtcp(data)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"SRTCP protect failed: {exc}", str(exc), _read_ssrc(data, 4)) from None
        return protected

    def unprotect_rtcp(self, packet: bytes | bytearray | memoryview) -> bytes:
        """Authenticate, replay-check and decrypt an SRTCP packet (RFC 3711 §3.4)."""
        data = packet if type(packet) is bytes else bytes(packet)
        try:
            plain: bytes = self._rx.unprotect_rtcp(data)
        except (pylibsrtp.Error, ValueError) as exc:
            self.consecutive_rtcp_unprotect_failures += 1
            raise SrtpError(
                f"SRTCP unprotect failed: {exc}", str(exc), _read_ssrc(data, 4)
            ) from None
        self.consecutive_rtcp_unprotect_failures = 0
        return plain


def srtp_context_from_keys(keys: "SrtpKeys") -> SrtpContext:
    """Create the SRTP context for the keys that a connected `DtlsSession` exported."""
    return SrtpContext(keys.profile, keys.local_key_salt, keys.remote_key_salt)

"""Classify datagrams received on an ICE 5-tuple, and count the ones that are dropped.

RFC 7983 §7 splits the first byte into ranges: 0-3 STUN, 20-63 DTLS, 128-191 RTP and RTCP.
The checks follow mediasoup's `WebRtcTransport::OnPacketReceived` order: STUN, RTCP, RTP, DTLS.
"""

from typing import Literal

PacketKind = Literal["stun", "rtp", "rtcp", "dtls"]

# Incoming datagrams larger than this are dropped before classification (as in mediasoup).
MAX_DATAGRAM_SIZE = 2048

_STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"


def classify(data: bytes) -> PacketKind | None:
    """Return the protocol of one datagram from its first bytes, or None if it matches none.

    - STUN: at least 20 bytes, first byte 0-2 (RFC 7983 allows 3 too, mediasoup does not) and
      the magic cookie at bytes 4-7.
    - RTCP: at least 4 bytes, first byte 128-191 (version 2) and packet type 192-223, the
      range RFC 5761 §4 keeps free of RTP payload types.
    - RTP: at least 12 bytes and first byte 128-191 (version 2).
    - DTLS: at least 13 bytes (one record header) and first byte 20-63.

    The size limit is the caller's check, against `MAX_DATAGRAM_SIZE`.
    """
    length = len(data)
    if length == 0:
        return None
    first = data[0]
    if first < 3:
        if length >= 20 and data[4:8] == _STUN_MAGIC_COOKIE:
            return "stun"
        return None
    if 128 <= first <= 191:
        if length >= 4 and 192 <= data[1] <= 223:
            return "rtcp"
        if length >= 12:
            return "rtp"
        return None
    if 20 <= first <= 63 and length >= 13:
        return "dtls"
    return None


class DropCounters:
    """Counts of dropped packets by reason name, kept in place of per-packet logging.

    Reason names in use: "too_large", "unknown" (no protocol matched), "malformed_stun",
    "bad_request" (400 sent), "bad_integrity" (401 sent), "role_conflict" (487 sent),
    "stun_indication", "stun_response", "unknown_ufrag", "unvalidated_tuple". Any other name
    is counted the same way.
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, reason: str, count: int = 1) -> None:
        self._counts[reason] = self._counts.get(reason, 0) + count

    def __getitem__(self, reason: str) -> int:
        return self._counts.get(reason, 0)

    def total(self) -> int:
        return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        """Return a copy of the counts, for stats and metrics."""
        return dict(self._counts)

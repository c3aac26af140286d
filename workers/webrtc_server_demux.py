"""Routing of datagrams on a WebRtcServer's shared port to the transport they belong to.

Many transports share one UDP socket or TCP server. A packet from a tuple that ICE has
validated goes to the tuple's transport. A STUN message from an unknown tuple goes to the
transport whose local usernameFragment starts its USERNAME attribute ("<local>:<remote>").
Everything else is dropped by the caller.
"""

from collections.abc import Hashable
from typing import Generic, TypeVar

from workers.transport_tuple import TransportTuple

TransportKey = TypeVar("TransportKey", bound=Hashable)


class WebRtcServerDemux(Generic[TransportKey]):
    """Two maps, usernameFragment -> transport and tuple -> transport, kept in step.

    During an ICE restart a transport has two usernameFragments registered, the old and the
    new one, until its ICE server reports that the old one is no longer accepted.
    """

    def __init__(self) -> None:
        self._by_ufrag: dict[str, TransportKey] = {}
        self._by_tuple: dict[TransportTuple, TransportKey] = {}
        self._ufrags_of: dict[TransportKey, set[str]] = {}
        self._tuples_of: dict[TransportKey, set[TransportTuple]] = {}

    def register(self, username_fragment: str, key: TransportKey) -> None:
        """Route STUN messages for `username_fragment` to the transport `key`.

        Raises ValueError if another transport has registered the same usernameFragment.
        """
        owner = self._by_ufrag.get(username_fragment)
        if owner is not None and owner != key:
            raise ValueError(
                f"ICE usernameFragment {username_fragment!r} is already registered "
                f"by transport {owner!r}"
            )
        self._by_ufrag[username_fragment] = key
        self._ufrags_of.setdefault(key, set()).add(username_fragment)

    def unregister_ufrag(self, username_fragment: str) -> None:
        key = self._by_ufrag.pop(username_fragment, None)
        if key is not None:
            _discard(self._ufrags_of, key, username_fragment)

    def add_tuple(self, tuple: TransportTuple, key: TransportKey) -> None:
        """Route every packet from `tuple` to the transport `key`.

        The transport whose ICE server validated the tuple last takes it over from another.
        """
        previous = self._by_tuple.get(tuple)
        if previous is not None and previous != key:
            _discard(self._tuples_of, previous, tuple)
        self._by_tuple[tuple] = key
        self._tuples_of.setdefault(key, set()).add(tuple)

    def remove_tuple(self, tuple: TransportTuple, key: TransportKey | None = None) -> None:
        """Stop routing `tuple`. With `key`, do so only if it still routes to that transport."""
        owner = self._by_tuple.get(tuple)
        if owner is None or (key is not None and owner != key):
            return
        del self._by_tuple[tuple]
        _discard(self._tuples_of, owner, tuple)

    def remove_transport(self, key: TransportKey) -> None:
        """Forget every usernameFragment and tuple of the transport `key`."""
        for username_fragment in self._ufrags_of.pop(key, set()):
            del self._by_ufrag[username_fragment]
        for tuple in self._tuples_of.pop(key, set()):
            del self._by_tuple[tuple]

    def lookup(self, tuple: TransportTuple) -> TransportKey | None:
        """Return the transport of a non-STUN packet: validated tuples only."""
        return self._by_tuple.get(tuple)

    def lookup_stun(self, tuple: TransportTuple, username: str | None) -> TransportKey | None:
        """Return the transport of a STUN message, by tuple first, then by USERNAME.

        `username` is the USERNAME attribute, or None if the message has none. Its part before
        the first ':' is the usernameFragment the server gave the browser. A USERNAME without
        ':' is looked up whole, as mediasoup does.
        """
        key = self._by_tuple.get(tuple)
        if key is not None or username is None:
            return key
        local_fragment = username.partition(":")[0]
        return self._by_ufrag.get(local_fragment)

    def dump(self) -> dict[str, int]:
        """Return the sizes of the maps, for diagnostics."""
        return {
            "usernameFragments": len(self._by_ufrag),
            "tuples": len(self._by_tuple),
            "transports": len(self._ufrags_of.keys() | self._tuples_of.keys()),
        }


_Key = TypeVar("_Key", bound=Hashable)
_Member = TypeVar("_Member")


def _discard(index: dict[_Key, set[_Member]], key: _Key, member: _Member) -> None:
    """Remove `member` from the set of `key`, and drop the set once it is empty."""
    members = index.get(key)
    if members is None:
        return
    members.discard(member)
    if not members:
        del index[key]

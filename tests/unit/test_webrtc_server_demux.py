"""Shared-port demux of a WebRtcServer: STUN by tuple then USERNAME, media by tuple only."""

import pytest
from aioice import stun as aioice_stun

from workers.ice_server import (
    IceEvent,
    IceServer,
    IceTupleAdded,
    IceTupleRemoved,
    IceUsernameFragmentRemoved,
)
from workers.stun import StunMessage
from workers.transport_tuple import TransportTuple
from workers.webrtc_server_demux import WebRtcServerDemux

TUPLE_A = TransportTuple("192.0.2.10", 44444, "203.0.113.5", 50001, "udp")
TUPLE_B = TransportTuple("192.0.2.10", 44444, "203.0.113.6", 50002, "udp")
TUPLE_TCP = TransportTuple("192.0.2.10", 44444, "203.0.113.7", 61000, "tcp")


def test_stun_by_username() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("ufrag1", "transport1")
    demux.register("ufrag2", "transport2")

    assert demux.lookup_stun(TUPLE_A, "ufrag1:remote") == "transport1"
    assert demux.lookup_stun(TUPLE_A, "ufrag2:remote") == "transport2"
    assert demux.lookup_stun(TUPLE_A, "ufrag3:remote") is None
    assert demux.lookup_stun(TUPLE_A, None) is None


def test_username_without_colon() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("ufrag1", "transport1")

    assert demux.lookup_stun(TUPLE_A, "ufrag1") == "transport1"
    assert demux.lookup_stun(TUPLE_A, "ufrag1x") is None


def test_tuple_before_username() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("ufrag1", "transport1")
    demux.register("ufrag2", "transport2")
    demux.add_tuple(TUPLE_A, "transport1")

    assert demux.lookup_stun(TUPLE_A, "ufrag2:remote") == "transport1"
    assert demux.lookup_stun(TUPLE_A, None) == "transport1"


def test_media_by_tuple_only() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("ufrag1", "transport1")

    assert demux.lookup(TUPLE_A) is None

    demux.add_tuple(TUPLE_A, "transport1")

    assert demux.lookup(TUPLE_A) == "transport1"
    assert demux.lookup(TUPLE_B) is None


def test_restart_keeps_both_ufrags() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("oldufrag", "transport1")
    demux.register("newufrag", "transport1")

    assert demux.lookup_stun(TUPLE_A, "oldufrag:remote") == "transport1"
    assert demux.lookup_stun(TUPLE_A, "newufrag:remote") == "transport1"

    demux.unregister_ufrag("oldufrag")

    assert demux.lookup_stun(TUPLE_A, "oldufrag:remote") is None
    assert demux.lookup_stun(TUPLE_A, "newufrag:remote") == "transport1"


def test_register_conflict() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("ufrag1", "transport1")
    demux.register("ufrag1", "transport1")

    with pytest.raises(ValueError) as raised:
        demux.register("ufrag1", "transport2")

    assert str(raised.value) == (
        "ICE usernameFragment 'ufrag1' is already registered by transport 'transport1'"
    )


def test_remove_tuple() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.add_tuple(TUPLE_A, "transport1")

    demux.remove_tuple(TUPLE_A)
    demux.remove_tuple(TUPLE_A)

    assert demux.lookup(TUPLE_A) is None
    assert demux.dump() == {"usernameFragments": 0, "tuples": 0, "transports": 0}


def test_tuple_takeover() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.add_tuple(TUPLE_A, "transport1")

    demux.add_tuple(TUPLE_A, "transport2")
    # A late removal by the previous owner leaves the new owner's route alone.
    demux.remove_tuple(TUPLE_A, "transport1")

    assert demux.lookup(TUPLE_A) == "transport2"
    demux.remove_transport("transport1")
    assert demux.lookup(TUPLE_A) == "transport2"


def test_remove_transport() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    demux.register("ufrag1", "transport1")
    demux.register("ufrag1new", "transport1")
    demux.register("ufrag2", "transport2")
    demux.add_tuple(TUPLE_A, "transport1")
    demux.add_tuple(TUPLE_TCP, "transport1")
    demux.add_tuple(TUPLE_B, "transport2")

    demux.remove_transport("transport1")
    demux.remove_transport("transport1")

    assert demux.lookup(TUPLE_A) is None
    assert demux.lookup(TUPLE_TCP) is None
    assert demux.lookup_stun(TUPLE_A, "ufrag1:remote") is None
    assert demux.lookup_stun(TUPLE_A, "ufrag1new:remote") is None
    assert demux.lookup(TUPLE_B) == "transport2"
    assert demux.lookup_stun(TUPLE_A, "ufrag2:remote") == "transport2"
    assert demux.dump() == {"usernameFragments": 1, "tuples": 1, "transports": 1}


# The demux driven by ICE server events, as the I/O layer wires them.

UFRAG = "serverufrag0123456789abcdefghijk"
PASSWORD = "serverpassword0123456789abcdefgh"
NEW_UFRAG = "newserverufrag0123456789abcdefgh"
NEW_PASSWORD = "newserverpassword0123456789abcde"


def binding_request(ufrag: str, password: str) -> bytes:
    message = aioice_stun.Message(aioice_stun.Method.BINDING, aioice_stun.Class.REQUEST)
    message.attributes["USERNAME"] = f"{ufrag}:browser"
    message.attributes["PRIORITY"] = 1
    message.attributes["ICE-CONTROLLING"] = 1
    message.attributes["USE-CANDIDATE"] = None
    message.add_message_integrity(password.encode())
    return bytes(message)


def apply(demux: WebRtcServerDemux[str], key: str, events: list[IceEvent]) -> None:
    for event in events:
        if isinstance(event, IceTupleAdded):
            demux.add_tuple(event.tuple, key)
        elif isinstance(event, IceTupleRemoved):
            demux.remove_tuple(event.tuple, key)
        elif isinstance(event, IceUsernameFragmentRemoved):
            demux.unregister_ufrag(event.username_fragment)


def receive_stun(
    demux: WebRtcServerDemux[str], servers: dict[str, IceServer], data: bytes, tuple: TransportTuple
) -> str | None:
    key = demux.lookup_stun(tuple, StunMessage.parse(data).username)
    if key is None:
        return None
    servers[key].handle_stun(0.0, data, tuple)
    apply(demux, key, servers[key].pop_events())
    return key


def test_ice_events_drive_demux() -> None:
    demux: WebRtcServerDemux[str] = WebRtcServerDemux()
    servers = {"transport1": IceServer(UFRAG, PASSWORD)}
    demux.register(UFRAG, "transport1")

    assert receive_stun(demux, servers, binding_request(UFRAG, PASSWORD), TUPLE_A) == "transport1"
    assert demux.lookup(TUPLE_A) == "transport1"

    servers["transport1"].restart(NEW_UFRAG, NEW_PASSWORD)
    demux.register(NEW_UFRAG, "transport1")
    assert demux.lookup_stun(TUPLE_B, f"{UFRAG}:browser") == "transport1"

    new_request = binding_request(NEW_UFRAG, NEW_PASSWORD)
    assert receive_stun(demux, servers, new_request, TUPLE_B) == "transport1"
    assert demux.lookup_stun(TUPLE_TCP, f"{UFRAG}:browser") is None
    assert demux.lookup_stun(TUPLE_TCP, f"{NEW_UFRAG}:browser") == "transport1"

    servers["transport1"].remove_tuple(TUPLE_A)
    apply(demux, "transport1", servers["transport1"].pop_events())
    assert demux.lookup(TUPLE_A) is None
    assert demux.lookup(TUPLE_B) == "transport1"

"""ICE-lite server: Binding request validation, nomination, restart, consent, tuple bookkeeping.

Requests are built with aioice's STUN codec where it has the attributes, and responses are
parsed with it, so the server is checked against an independent implementation. Time is a
plain float passed to each call.
"""

import re

import pytest
from aioice import stun as aioice_stun

from workers.errors import InvalidStateError
from workers.ice_server import (
    MAX_TUPLES,
    IceSelectedTupleChanged,
    IceServer,
    IceStateChanged,
    IceTupleAdded,
    IceTupleRemoved,
    IceUsernameFragmentRemoved,
    generate_ice_credentials,
)
from workers.stun import AttributeType, StunClass, StunMessage, StunMethod
from workers.transport_tuple import TransportTuple

UFRAG = "localufrag0123456789abcdefghijkl"
PASSWORD = "localpassword0123456789abcdefghi"
NEW_UFRAG = "newufrag0123456789abcdefghijklmn"
NEW_PASSWORD = "newpassword0123456789abcdefghijk"

TUPLE_A = TransportTuple("192.0.2.10", 44444, "203.0.113.5", 50001, "udp")
TUPLE_B = TransportTuple("192.0.2.10", 44444, "203.0.113.5", 50002, "udp")
TUPLE_TCP = TransportTuple("192.0.2.10", 44444, "198.51.100.9", 61000, "tcp")
TUPLE_V6 = TransportTuple("2001:db8::10", 44444, "2001:db8::beef", 50003, "udp")


def make_tuple(port: int) -> TransportTuple:
    return TransportTuple("192.0.2.10", 44444, "203.0.113.5", port, "udp")


def request(
    *,
    ufrag: str = UFRAG,
    password: str = PASSWORD,
    use_candidate: bool = False,
    transaction_id: bytes = b"transaction1",
    method: aioice_stun.Method = aioice_stun.Method.BINDING,
    message_class: aioice_stun.Class = aioice_stun.Class.REQUEST,
    controlled: bool = False,
) -> bytes:
    """Build a signed Binding request as a controlling browser sends it, with aioice."""
    message = aioice_stun.Message(method, message_class, transaction_id=transaction_id)
    message.attributes["USERNAME"] = f"{ufrag}:remoteufrag"
    message.attributes["PRIORITY"] = 1853817087
    if controlled:
        message.attributes["ICE-CONTROLLED"] = 7
    else:
        message.attributes["ICE-CONTROLLING"] = 7
    if use_candidate:
        message.attributes["USE-CANDIDATE"] = None
    message.add_message_integrity(password.encode())
    return bytes(message)


def nomination_request(
    value: int,
    *,
    code: int = AttributeType.NOMINATION,
    use_candidate: bool = False,
    ufrag: str = UFRAG,
    password: str = PASSWORD,
) -> bytes:
    """Build a Binding request with a NOMINATION attribute, which aioice does not know."""
    attributes: dict[int, object] = {
        AttributeType.USERNAME: f"{ufrag}:remoteufrag",
        AttributeType.PRIORITY: 1853817087,
        AttributeType.ICE_CONTROLLING: 7,
        code: value,
    }
    if use_candidate:
        attributes[AttributeType.USE_CANDIDATE] = None
    message = StunMessage(StunMethod.BINDING, StunClass.REQUEST, b"transaction2", attributes)
    return message.serialize(integrity_key=password.encode(), fingerprint=True)


def custom_request(attributes: dict[int, object], *, sign: bool, fingerprint: bool) -> bytes:
    message = StunMessage(StunMethod.BINDING, StunClass.REQUEST, b"transaction3", attributes)
    key = PASSWORD.encode() if sign else None
    return message.serialize(integrity_key=key, fingerprint=fingerprint)


def parse_response(datagrams: list[bytes]) -> aioice_stun.Message:
    assert len(datagrams) == 1
    return aioice_stun.parse_message(datagrams[0])


def connected_server(
    tuple: TransportTuple = TUPLE_A, *, now: float = 0.0, consent_timeout: float = 30.0
) -> IceServer:
    server = IceServer(UFRAG, PASSWORD, consent_timeout)
    server.handle_stun(now, request(use_candidate=True), tuple)
    server.pop_events()
    return server


def test_valid_request_success_response() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(server.handle_stun(0.0, request(), TUPLE_A))

    assert response.message_method == aioice_stun.Method.BINDING
    assert response.message_class == aioice_stun.Class.RESPONSE
    assert response.transaction_id == b"transaction1"
    assert response.attributes["XOR-MAPPED-ADDRESS"] == ("203.0.113.5", 50001)
    assert response.check_message_integrity(PASSWORD.encode()) is True
    assert list(response.attributes) == ["XOR-MAPPED-ADDRESS", "MESSAGE-INTEGRITY", "FINGERPRINT"]


def test_valid_request_connects() -> None:
    server = IceServer(UFRAG, PASSWORD)

    server.handle_stun(0.0, request(), TUPLE_A)

    assert server.pop_events() == [
        IceTupleAdded(TUPLE_A),
        IceSelectedTupleChanged(TUPLE_A),
        IceStateChanged("connected"),
    ]
    assert server.state == "connected"
    assert server.selected_tuple == TUPLE_A
    assert server.is_valid_tuple(TUPLE_A) is True
    assert server.is_valid_tuple(TUPLE_B) is False
    assert server.pop_events() == []


def test_ipv6_mapped_address() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(server.handle_stun(0.0, request(), TUPLE_V6))

    assert response.attributes["XOR-MAPPED-ADDRESS"] == ("2001:db8::beef", 50003)
    assert response.check_message_integrity(PASSWORD.encode()) is True


def test_tcp_tuple_validated() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(server.handle_stun(0.0, request(use_candidate=True), TUPLE_TCP))

    assert response.attributes["XOR-MAPPED-ADDRESS"] == ("198.51.100.9", 61000)
    assert server.selected_tuple == TUPLE_TCP
    assert server.is_valid_tuple(TUPLE_TCP) is True


def test_use_candidate_completes() -> None:
    server = IceServer(UFRAG, PASSWORD)

    server.handle_stun(0.0, request(use_candidate=True), TUPLE_A)

    assert server.pop_events() == [
        IceTupleAdded(TUPLE_A),
        IceSelectedTupleChanged(TUPLE_A),
        IceStateChanged("completed"),
    ]
    assert server.state == "completed"


def test_connected_then_completed() -> None:
    server = IceServer(UFRAG, PASSWORD)
    server.handle_stun(0.0, request(), TUPLE_A)
    server.pop_events()

    server.handle_stun(1.0, request(use_candidate=True), TUPLE_A)

    assert server.pop_events() == [IceStateChanged("completed")]
    assert server.selected_tuple == TUPLE_A


def test_bad_integrity_401() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(
        server.handle_stun(0.0, request(password="wrongpassword0123456789abc"), TUPLE_A)
    )

    assert response.message_class == aioice_stun.Class.ERROR
    assert response.attributes["ERROR-CODE"] == (401, "invalid USERNAME or MESSAGE-INTEGRITY")
    assert "MESSAGE-INTEGRITY" not in response.attributes
    assert server.state == "new"
    assert server.is_valid_tuple(TUPLE_A) is False
    assert server.pop_events() == []
    assert server.drops.as_dict() == {"bad_integrity": 1}


def test_wrong_username_401() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(
        server.handle_stun(0.0, request(ufrag="someoneelse0123456789"), TUPLE_A)
    )

    assert response.attributes["ERROR-CODE"] == (401, "invalid USERNAME or MESSAGE-INTEGRITY")
    assert server.state == "new"


def test_username_prefix_needs_colon() -> None:
    # "<ufrag>x:..." starts with the ufrag but names another one.
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(server.handle_stun(0.0, request(ufrag=UFRAG + "x"), TUPLE_A))

    assert response.attributes["ERROR-CODE"] == (401, "invalid USERNAME or MESSAGE-INTEGRITY")


FULL_ATTRIBUTES: dict[int, object] = {
    AttributeType.USERNAME: f"{UFRAG}:remote",
    AttributeType.PRIORITY: 1,
    AttributeType.ICE_CONTROLLING: 7,
}


@pytest.mark.parametrize(
    ("attributes", "sign", "fingerprint", "reason"),
    [
        (FULL_ATTRIBUTES, True, False, "missing FINGERPRINT attribute"),
        (
            {AttributeType.USERNAME: f"{UFRAG}:remote"},
            True,
            True,
            "missing PRIORITY attribute",
        ),
        ({AttributeType.PRIORITY: 1}, True, True, "missing USERNAME attribute"),
        (FULL_ATTRIBUTES, False, True, "missing MESSAGE-INTEGRITY attribute"),
    ],
)
def test_missing_attribute_400(
    attributes: dict[int, object], sign: bool, fingerprint: bool, reason: str
) -> None:
    server = IceServer(UFRAG, PASSWORD)

    datagrams = server.handle_stun(
        0.0, custom_request(attributes, sign=sign, fingerprint=fingerprint), TUPLE_A
    )

    response = parse_response(datagrams)
    assert response.message_class == aioice_stun.Class.ERROR
    assert response.attributes["ERROR-CODE"] == (400, reason)
    assert "MESSAGE-INTEGRITY" not in response.attributes
    assert server.state == "new"
    assert server.drops.as_dict() == {"bad_request": 1}


def test_fingerprint_checked_before_auth() -> None:
    # mediasoup's order: a request that misses FINGERPRINT gets 400 even with a bad password.
    server = IceServer(UFRAG, PASSWORD)
    data = StunMessage(
        StunMethod.BINDING, StunClass.REQUEST, b"transaction3", dict(FULL_ATTRIBUTES)
    ).serialize(integrity_key=b"wrong password", fingerprint=False)

    response = parse_response(server.handle_stun(0.0, data, TUPLE_A))

    assert response.attributes["ERROR-CODE"] == (400, "missing FINGERPRINT attribute")


def test_non_binding_method_400() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(
        server.handle_stun(0.0, request(method=aioice_stun.Method.ALLOCATE), TUPLE_A)
    )

    assert response.message_method == aioice_stun.Method.ALLOCATE
    assert response.attributes["ERROR-CODE"] == (400, "unsupported STUN method 0x003")


def test_ice_controlled_487() -> None:
    server = IceServer(UFRAG, PASSWORD)

    response = parse_response(server.handle_stun(0.0, request(controlled=True), TUPLE_A))

    assert response.attributes["ERROR-CODE"] == (487, "role conflict: ICE-CONTROLLED from the peer")
    # RFC 5389 §10.1.2: the request authenticated, so the error response is signed.
    assert response.check_message_integrity(PASSWORD.encode()) is True
    assert server.state == "new"
    assert server.is_valid_tuple(TUPLE_A) is False
    assert server.drops.as_dict() == {"role_conflict": 1}


def test_indication_ignored() -> None:
    server = IceServer(UFRAG, PASSWORD)

    datagrams = server.handle_stun(
        0.0, request(message_class=aioice_stun.Class.INDICATION), TUPLE_A
    )

    assert datagrams == []
    assert server.pop_events() == []
    assert server.state == "new"
    assert server.drops.as_dict() == {"stun_indication": 1}


def test_response_ignored() -> None:
    server = IceServer(UFRAG, PASSWORD)

    datagrams = server.handle_stun(0.0, request(message_class=aioice_stun.Class.RESPONSE), TUPLE_A)

    assert datagrams == []
    assert server.state == "new"
    assert server.drops.as_dict() == {"stun_response": 1}


def test_malformed_counted() -> None:
    server = IceServer(UFRAG, PASSWORD)
    data = bytearray(request())
    data[-1] ^= 0x01

    datagrams = server.handle_stun(0.0, bytes(data), TUPLE_A)

    assert datagrams == []
    assert server.drops.as_dict() == {"malformed_stun": 1}


def test_plain_request_keeps_selection() -> None:
    server = connected_server(TUPLE_A)

    server.handle_stun(1.0, request(), TUPLE_B)

    assert server.pop_events() == [IceTupleAdded(TUPLE_B)]
    assert server.selected_tuple == TUPLE_A
    assert server.is_valid_tuple(TUPLE_B) is True


def test_use_candidate_switches_tuple() -> None:
    server = connected_server(TUPLE_A)
    server.handle_stun(1.0, request(), TUPLE_B)
    server.pop_events()

    server.handle_stun(2.0, request(use_candidate=True), TUPLE_B)

    assert server.pop_events() == [IceSelectedTupleChanged(TUPLE_B)]
    assert server.selected_tuple == TUPLE_B
    assert server.state == "completed"


def test_nomination_values() -> None:
    server = IceServer(UFRAG, PASSWORD)

    server.handle_stun(0.0, nomination_request(1), TUPLE_A)
    assert server.state == "completed"
    assert server.selected_tuple == TUPLE_A
    server.pop_events()

    # Equal to the last value: not a new nomination.
    server.handle_stun(1.0, nomination_request(1), TUPLE_B)
    assert server.pop_events() == [IceTupleAdded(TUPLE_B)]
    assert server.selected_tuple == TUPLE_A

    server.handle_stun(2.0, nomination_request(2), TUPLE_B)
    assert server.pop_events() == [IceSelectedTupleChanged(TUPLE_B)]

    # The legacy attribute code counts the same way.
    server.handle_stun(3.0, nomination_request(3, code=AttributeType.NOMINATION_LEGACY), TUPLE_A)
    assert server.pop_events() == [IceSelectedTupleChanged(TUPLE_A)]

    # A lower value is stale.
    server.handle_stun(4.0, nomination_request(2), TUPLE_B)
    assert server.pop_events() == []
    assert server.selected_tuple == TUPLE_A


def test_use_candidate_beats_stale_nomination_when_completed() -> None:
    server = IceServer(UFRAG, PASSWORD)
    server.handle_stun(0.0, nomination_request(5), TUPLE_A)
    server.pop_events()

    server.handle_stun(1.0, nomination_request(1, use_candidate=True), TUPLE_B)

    assert server.pop_events() == [IceTupleAdded(TUPLE_B), IceSelectedTupleChanged(TUPLE_B)]


def test_zero_nomination_before_completed() -> None:
    # Before `completed`, USE-CANDIDATE with a NOMINATION that is not new does not nominate.
    server = IceServer(UFRAG, PASSWORD)
    server.handle_stun(0.0, request(), TUPLE_A)
    server.pop_events()

    server.handle_stun(1.0, nomination_request(0, use_candidate=True), TUPLE_B)

    assert server.pop_events() == [IceTupleAdded(TUPLE_B)]
    assert server.state == "connected"
    assert server.selected_tuple == TUPLE_A


def test_restart_old_credentials_work() -> None:
    server = connected_server(TUPLE_A)

    server.restart(NEW_UFRAG, NEW_PASSWORD)
    response = parse_response(server.handle_stun(1.0, request(), TUPLE_A))

    assert response.message_class == aioice_stun.Class.RESPONSE
    assert response.check_message_integrity(PASSWORD.encode()) is True
    assert response.check_message_integrity(NEW_PASSWORD.encode()) is False
    assert server.pop_events() == []
    assert server.username_fragment == NEW_UFRAG


def test_restart_new_credentials_retire_old() -> None:
    server = connected_server(TUPLE_A)
    server.restart(NEW_UFRAG, NEW_PASSWORD)

    response = parse_response(
        server.handle_stun(1.0, request(ufrag=NEW_UFRAG, password=NEW_PASSWORD), TUPLE_A)
    )

    assert response.check_message_integrity(NEW_PASSWORD.encode()) is True
    assert server.pop_events() == [IceUsernameFragmentRemoved(UFRAG)]

    old = parse_response(server.handle_stun(2.0, request(), TUPLE_A))
    assert old.attributes["ERROR-CODE"] == (401, "invalid USERNAME or MESSAGE-INTEGRITY")


def test_restart_twice_drops_oldest() -> None:
    server = IceServer(UFRAG, PASSWORD)
    server.restart(NEW_UFRAG, NEW_PASSWORD)

    server.restart("thirdufrag", "thirdpassword0123456789ab")

    assert server.pop_events() == [IceUsernameFragmentRemoved(UFRAG)]
    first = parse_response(server.handle_stun(0.0, request(), TUPLE_A))
    assert first.attributes["ERROR-CODE"] == (401, "invalid USERNAME or MESSAGE-INTEGRITY")
    second = parse_response(
        server.handle_stun(0.0, request(ufrag=NEW_UFRAG, password=NEW_PASSWORD), TUPLE_A)
    )
    assert second.check_message_integrity(NEW_PASSWORD.encode()) is True


def test_restart_resets_nomination() -> None:
    server = IceServer(UFRAG, PASSWORD)
    server.handle_stun(0.0, nomination_request(4), TUPLE_A)
    server.restart(NEW_UFRAG, NEW_PASSWORD)
    server.pop_events()

    server.handle_stun(1.0, nomination_request(1, ufrag=NEW_UFRAG, password=NEW_PASSWORD), TUPLE_B)

    assert server.pop_events() == [
        IceUsernameFragmentRemoved(UFRAG),
        IceTupleAdded(TUPLE_B),
        IceSelectedTupleChanged(TUPLE_B),
    ]


def test_restart_with_now_restarts_consent() -> None:
    server = connected_server(now=0.0)

    server.restart(NEW_UFRAG, NEW_PASSWORD, now=20.0)

    assert server.poll_timeout() == 50.0


def test_restart_without_now_keeps_deadline() -> None:
    server = connected_server(now=0.0)

    server.restart(NEW_UFRAG, NEW_PASSWORD)

    assert server.poll_timeout() == 30.0


def test_consent_timeout_disconnects() -> None:
    server = connected_server(now=0.0)
    server.handle_stun(1.0, request(), TUPLE_B)
    server.handle_stun(20.0, request(), TUPLE_A)
    server.pop_events()
    assert server.poll_timeout() == 50.0

    server.handle_timeout(49.9)
    assert server.pop_events() == []
    assert server.selected_tuple == TUPLE_A

    server.handle_timeout(50.0)

    assert server.pop_events() == [
        IceTupleRemoved(TUPLE_B),
        IceTupleRemoved(TUPLE_A),
        IceStateChanged("disconnected"),
    ]
    assert server.state == "disconnected"
    assert server.selected_tuple is None
    assert server.is_valid_tuple(TUPLE_A) is False
    assert server.poll_timeout() is None


def test_consent_recovers_after_disconnect() -> None:
    server = connected_server(now=0.0)
    server.handle_timeout(30.0)
    server.pop_events()

    server.handle_stun(31.0, request(), TUPLE_A)

    assert server.pop_events() == [
        IceTupleAdded(TUPLE_A),
        IceSelectedTupleChanged(TUPLE_A),
        IceStateChanged("connected"),
    ]
    assert server.poll_timeout() == 61.0


def test_consent_zero_disables() -> None:
    server = connected_server(now=0.0, consent_timeout=0)

    assert server.poll_timeout() is None
    server.handle_timeout(1e9)

    assert server.state == "completed"
    assert server.consent_timeout == 0.0


@pytest.mark.parametrize(("given", "effective"), [(5, 10.0), (30, 30.0), (100, 60.0)])
def test_consent_timeout_clamped(given: float, effective: float) -> None:
    server = IceServer(UFRAG, PASSWORD, given)

    assert server.consent_timeout == effective


def test_consent_timeout_negative() -> None:
    with pytest.raises(ValueError) as raised:
        IceServer(UFRAG, PASSWORD, -1)

    assert str(raised.value) == "invalid consent_timeout -1: expected 0 or more seconds"


def test_ninth_tuple_evicts_oldest() -> None:
    server = connected_server(make_tuple(1))
    for port in range(2, MAX_TUPLES + 1):
        server.handle_stun(float(port), request(), make_tuple(port))
    server.pop_events()

    server.handle_stun(10.0, request(), make_tuple(9))

    # Tuple 1 is the oldest but selected, so tuple 2 goes.
    assert server.pop_events() == [IceTupleAdded(make_tuple(9)), IceTupleRemoved(make_tuple(2))]
    assert len(server.tuples) == MAX_TUPLES
    assert server.is_valid_tuple(make_tuple(2)) is False
    assert server.selected_tuple == make_tuple(1)


def test_eviction_spares_recent_tuple() -> None:
    server = connected_server(make_tuple(1))
    for port in range(2, MAX_TUPLES + 1):
        server.handle_stun(float(port), request(), make_tuple(port))
    server.handle_stun(9.0, request(), make_tuple(2))
    server.pop_events()

    server.handle_stun(10.0, request(), make_tuple(9))

    assert server.pop_events() == [IceTupleAdded(make_tuple(9)), IceTupleRemoved(make_tuple(3))]
    assert server.is_valid_tuple(make_tuple(2)) is True


def test_remove_tuple_reselects() -> None:
    server = connected_server(TUPLE_A, now=0.0)
    server.handle_stun(1.0, request(), TUPLE_TCP)
    server.handle_stun(2.0, request(), TUPLE_B)
    server.pop_events()

    server.remove_tuple(TUPLE_A, now=10.0)

    assert server.pop_events() == [IceTupleRemoved(TUPLE_A), IceSelectedTupleChanged(TUPLE_B)]
    assert server.selected_tuple == TUPLE_B
    assert server.state == "completed"
    assert server.poll_timeout() == 40.0


def test_remove_last_tuple_disconnects() -> None:
    server = connected_server(TUPLE_TCP)

    server.remove_tuple(TUPLE_TCP)

    assert server.pop_events() == [IceTupleRemoved(TUPLE_TCP), IceStateChanged("disconnected")]
    assert server.selected_tuple is None
    assert server.poll_timeout() is None


def test_remove_unselected_tuple() -> None:
    server = connected_server(TUPLE_A)
    server.handle_stun(1.0, request(), TUPLE_TCP)
    server.pop_events()

    server.remove_tuple(TUPLE_TCP)
    server.remove_tuple(TUPLE_V6)

    assert server.pop_events() == [IceTupleRemoved(TUPLE_TCP)]
    assert server.selected_tuple == TUPLE_A


def test_close() -> None:
    server = connected_server(TUPLE_A)

    server.close()
    server.close()

    assert server.pop_events() == [IceTupleRemoved(TUPLE_A), IceStateChanged("closed")]
    assert server.state == "closed"
    assert server.poll_timeout() is None
    assert server.handle_stun(1.0, request(), TUPLE_A) == []
    assert server.is_valid_tuple(TUPLE_A) is False


def test_restart_after_close() -> None:
    server = IceServer(UFRAG, PASSWORD)
    server.close()

    with pytest.raises(InvalidStateError) as raised:
        server.restart(NEW_UFRAG, NEW_PASSWORD)

    assert str(raised.value) == "cannot restart ICE: the ICE server is closed"


@pytest.mark.parametrize(
    ("ufrag", "password", "error"),
    [
        (
            "abc",
            PASSWORD,
            "invalid ICE usernameFragment 'abc': expected 4 to 256 characters without ':'",
        ),
        (
            "ab:cd",
            PASSWORD,
            "invalid ICE usernameFragment 'ab:cd': expected 4 to 256 characters without ':'",
        ),
        (UFRAG, "short", "invalid ICE password: 5 characters, expected 22 to 256"),
    ],
)
def test_invalid_credentials(ufrag: str, password: str, error: str) -> None:
    with pytest.raises(ValueError) as raised:
        IceServer(ufrag, password)

    assert str(raised.value) == error


def test_generate_credentials() -> None:
    ufrag, password = generate_ice_credentials()

    assert re.fullmatch("[0-9a-z]{32}", ufrag)
    assert re.fullmatch("[0-9a-z]{32}", password)
    assert ufrag != password
    assert generate_ice_credentials() != (ufrag, password)


def test_dump_hides_password() -> None:
    server = connected_server(TUPLE_A)

    dump = server.dump()

    assert dump == {
        "state": "completed",
        "usernameFragment": UFRAG,
        "tuples": [TUPLE_A.to_dict()],
        "selectedTuple": TUPLE_A.to_dict(),
        "consentTimeout": 30.0,
        "remoteNomination": 0,
    }
    assert PASSWORD not in repr(dump)

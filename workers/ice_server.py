"""ICE-lite server of a WebRtcTransport: responds to Binding requests, selects the tuple to use.

The server is an ICE-lite agent in the controlled role (RFC 8445 §2.5): it never sends checks, it
only responds to them, and it follows the nominations of the controlling browser. It also tracks
consent freshness (RFC 7675) from the checks it receives. It is sans-IO: callers pass the
current time and the received bytes, send the returned datagrams back on the same tuple, and
drain `pop_events()`.
"""

import secrets
import string
from dataclasses import dataclass
from typing import Literal

from workers.demux import DropCounters
from workers.errors import InvalidStateError
from workers.stun import (
    AttributeType,
    StunClass,
    StunMessage,
    StunMethod,
    binding_success_response,
    error_response,
)
from workers.transport_tuple import TransportTuple

IceState = Literal["new", "connected", "completed", "disconnected", "closed"]

# At most this many validated tuples are remembered per transport (as in mediasoup).
MAX_TUPLES = 8

# mediasoup clamps a non-zero consent timeout into this range, in seconds.
MIN_CONSENT_TIMEOUT = 10.0
MAX_CONSENT_TIMEOUT = 60.0

_CREDENTIAL_ALPHABET = string.digits + string.ascii_lowercase
_CREDENTIAL_LENGTH = 32


def generate_ice_credentials() -> tuple[str, str]:
    """Return a new random (usernameFragment, password) pair, 32 characters of [0-9a-z] each."""
    return _random_token(), _random_token()


def _random_token() -> str:
    return "".join(secrets.choice(_CREDENTIAL_ALPHABET) for _ in range(_CREDENTIAL_LENGTH))


@dataclass(frozen=True, slots=True)
class IceStateChanged:
    state: IceState


@dataclass(frozen=True, slots=True)
class IceSelectedTupleChanged:
    tuple: TransportTuple


@dataclass(frozen=True, slots=True)
class IceTupleAdded:
    """A tuple passed ICE validation: map it to this transport in a shared-port demux."""

    tuple: TransportTuple


@dataclass(frozen=True, slots=True)
class IceTupleRemoved:
    """A tuple is no longer valid: remove it from a shared-port demux."""

    tuple: TransportTuple


@dataclass(frozen=True, slots=True)
class IceUsernameFragmentRemoved:
    """A pre-restart usernameFragment stopped working: remove it from a shared-port demux."""

    username_fragment: str


IceEvent = (
    IceStateChanged
    | IceSelectedTupleChanged
    | IceTupleAdded
    | IceTupleRemoved
    | IceUsernameFragmentRemoved
)


@dataclass(frozen=True, slots=True)
class _Credentials:
    username_fragment: str
    password: str

    def authenticate(self, request: StunMessage) -> bool:
        # RFC 8445 §7.2.2: the USERNAME of a check is "<our ufrag>:<their ufrag>", and
        # MESSAGE-INTEGRITY is keyed with our password (RFC 5389 §15.4, short-term).
        username = request.username
        if username is None or not username.startswith(self.username_fragment + ":"):
            return False
        return request.check_integrity(self.password.encode("utf-8"))


class IceServer:
    """ICE-lite, controlled-role agent of one transport.

    `consent_timeout` is in seconds: 0 disables consent expiry, and other values are clamped to
    10..60 as mediasoup does. `drops` counts rejected or ignored STUN messages by reason. Pass a
    shared `DropCounters` to aggregate them per worker.
    """

    def __init__(
        self,
        username_fragment: str,
        password: str,
        consent_timeout: float = 30.0,
        *,
        drops: DropCounters | None = None,
    ) -> None:
        self._credentials = _validate_credentials(username_fragment, password)
        # The credentials in use before the last restart, accepted until the new ones are used.
        self._old_credentials: _Credentials | None = None
        self._consent_timeout = _clamp_consent_timeout(consent_timeout)
        self.drops = drops if drops is not None else DropCounters()

        self._state: IceState = "new"
        # Validated tuples, least recently validated first.
        self._tuples: dict[TransportTuple, None] = {}
        self._selected_tuple: TransportTuple | None = None
        self._remote_nomination = 0
        self._consent_deadline: float | None = None
        self._events: list[IceEvent] = []

    @property
    def state(self) -> IceState:
        return self._state

    @property
    def selected_tuple(self) -> TransportTuple | None:
        return self._selected_tuple

    @property
    def tuples(self) -> list[TransportTuple]:
        """Validated tuples, least recently validated first."""
        return list(self._tuples)

    @property
    def username_fragment(self) -> str:
        return self._credentials.username_fragment

    @property
    def password(self) -> str:
        return self._credentials.password

    @property
    def consent_timeout(self) -> float:
        """The consent timeout in effect after clamping, in seconds, where 0 means disabled."""
        return self._consent_timeout

    def pop_events(self) -> list[IceEvent]:
        """Return the events recorded since the last call, oldest first, and forget them."""
        events = self._events
        self._events = []
        return events

    def is_valid_tuple(self, tuple: TransportTuple) -> bool:
        """Return whether `tuple` passed ICE validation. Only such tuples may carry media."""
        return tuple in self._tuples

    def poll_timeout(self) -> float | None:
        """Return the absolute time of the consent deadline, or None when no timer runs."""
        return self._consent_deadline

    def handle_timeout(self, now: float) -> None:
        """Expire consent if its deadline has passed: drop every tuple and go `disconnected`."""
        if self._consent_deadline is None or now < self._consent_deadline:
            return
        self._consent_deadline = None
        self._remote_nomination = 0
        self._selected_tuple = None
        for stale in list(self._tuples):
            del self._tuples[stale]
            self._events.append(IceTupleRemoved(stale))
        self._set_state("disconnected")

    def handle_stun(self, now: float, data: bytes, tuple: TransportTuple) -> list[bytes]:
        """Process one STUN message received on `tuple` and return the datagrams to send back.

        Malformed messages, indications and responses return nothing and are counted in
        `drops`. Binding requests always get a success or an error response.
        """
        if self._state == "closed":
            return []
        try:
            message = StunMessage.parse(data)
        except ValueError:
            self.drops.add("malformed_stun")
            return []

        if message.message_class == StunClass.INDICATION:
            # ICE-lite ignores indications, including consent keepalives sent as indications.
            self.drops.add("stun_indication")
            return []
        if message.message_class != StunClass.REQUEST:
            # This server never sends requests, so no response can be expected.
            self.drops.add("stun_response")
            return []

        return [self._handle_request(now, message, tuple)]

    def _handle_request(self, now: float, request: StunMessage, tuple: TransportTuple) -> bytes:
        # The checks run in mediasoup's order, each with its error code (RFC 8445 §7.3,
        # RFC 5389 §10.1.2).
        if request.method != StunMethod.BINDING:
            return self._reject(request, 400, f"unsupported STUN method 0x{request.method:03x}")
        if AttributeType.FINGERPRINT not in request.attributes:
            return self._reject(request, 400, "missing FINGERPRINT attribute")
        if request.priority is None:
            return self._reject(request, 400, "missing PRIORITY attribute")
        if request.username is None:
            return self._reject(request, 400, "missing USERNAME attribute")
        if request.integrity_offset is None:
            return self._reject(request, 400, "missing MESSAGE-INTEGRITY attribute")

        credentials = self._authenticate(request)
        if credentials is None:
            self.drops.add("bad_integrity")
            return error_response(request, 401, "invalid USERNAME or MESSAGE-INTEGRITY")

        # An ICE-lite agent is always controlled, so a peer that claims the controlled role is
        # in conflict (RFC 8445 §7.3.1.1).
        if AttributeType.ICE_CONTROLLED in request.attributes:
            self.drops.add("role_conflict")
            return error_response(
                request, 487, "role conflict: ICE-CONTROLLED from the peer", credentials.password
            )

        response = binding_success_response(
            request, (tuple.remote_ip, tuple.remote_port), credentials.password
        )
        self._handle_valid_request(now, request, tuple)
        return response

    def _reject(self, request: StunMessage, code: int, reason: str) -> bytes:
        self.drops.add("bad_request")
        return error_response(request, code, reason)

    def _authenticate(self, request: StunMessage) -> _Credentials | None:
        """Return the credentials that authenticate `request`, preferring the current ones."""
        if self._credentials.authenticate(request):
            if self._old_credentials is not None:
                # The peer switched to the new credentials, so the old ones stop working.
                old_fragment = self._old_credentials.username_fragment
                self._old_credentials = None
                self._events.append(IceUsernameFragmentRemoved(old_fragment))
            return self._credentials
        if self._old_credentials is not None and self._old_credentials.authenticate(request):
            return self._old_credentials
        return None

    def _handle_valid_request(
        self, now: float, request: StunMessage, tuple: TransportTuple
    ) -> None:
        self._add_tuple(tuple)

        nomination = request.nomination
        has_nomination = nomination is not None
        is_new_nomination = nomination is not None and nomination > self._remote_nomination
        # Renomination: a NOMINATION value counts only if it is higher than the last one seen.
        # In `completed`, USE-CANDIDATE alone also re-selects. Before that, USE-CANDIDATE
        # nominates only without a NOMINATION attribute (mediasoup's rule).
        if self._state == "completed":
            nominated = is_new_nomination or request.use_candidate
        else:
            nominated = is_new_nomination or (request.use_candidate and not has_nomination)
        if is_new_nomination and nomination is not None:
            self._remote_nomination = nomination

        if nominated:
            self._select_tuple(tuple)
            self._set_state("completed")
        elif self._state in ("new", "disconnected") and not (
            request.use_candidate or has_nomination
        ):
            self._select_tuple(tuple)
            self._set_state("connected")

        # Consent freshness (RFC 7675) as mediasoup applies it to an ICE-lite server: every
        # authenticated check from the peer restarts the timer.
        if self._consent_timeout > 0 and self._state in ("connected", "completed"):
            self._consent_deadline = now + self._consent_timeout

    def _add_tuple(self, tuple: TransportTuple) -> None:
        if tuple in self._tuples:
            # Keep the order "least recently validated first", so eviction spares active tuples.
            del self._tuples[tuple]
            self._tuples[tuple] = None
            return

        self._tuples[tuple] = None
        self._events.append(IceTupleAdded(tuple))
        if len(self._tuples) <= MAX_TUPLES:
            return
        for candidate in self._tuples:
            if candidate != tuple and candidate != self._selected_tuple:
                del self._tuples[candidate]
                self._events.append(IceTupleRemoved(candidate))
                return

    def _select_tuple(self, tuple: TransportTuple) -> None:
        if tuple == self._selected_tuple:
            return
        self._selected_tuple = tuple
        self._events.append(IceSelectedTupleChanged(tuple))

    def _set_state(self, state: IceState) -> None:
        if state == self._state:
            return
        self._state = state
        self._events.append(IceStateChanged(state))

    def remove_tuple(self, tuple: TransportTuple, *, now: float | None = None) -> None:
        """Forget `tuple`, for example because its TCP connection closed.

        If it was the selected tuple, the most recently validated remaining tuple is selected,
        or the state becomes `disconnected` when none is left. Pass `now` to restart the consent
        timer for the newly selected tuple, as mediasoup does.
        """
        if tuple not in self._tuples:
            return
        del self._tuples[tuple]
        self._events.append(IceTupleRemoved(tuple))
        if tuple != self._selected_tuple:
            return

        self._selected_tuple = None
        if self._state in ("connected", "completed") and self._tuples:
            self._select_tuple(next(reversed(self._tuples)))
            if now is not None and self._consent_deadline is not None:
                self._consent_deadline = now + self._consent_timeout
            return

        self._remote_nomination = 0
        self._consent_deadline = None
        self._set_state("disconnected")

    def restart(self, username_fragment: str, password: str, *, now: float | None = None) -> None:
        """Switch to new local credentials (ICE restart).

        The previous credentials keep working until a request authenticated with the new ones
        arrives. A response is signed with the password that authenticated its request. Pass
        `now` to restart a running consent timer, which gives the peer a full period to
        reconnect, as mediasoup does.
        """
        if self._state == "closed":
            raise InvalidStateError("cannot restart ICE: the ICE server is closed")
        new_credentials = _validate_credentials(username_fragment, password)
        if self._old_credentials is not None:
            # Only one generation of old credentials is kept.
            self._events.append(IceUsernameFragmentRemoved(self._old_credentials.username_fragment))
        self._old_credentials = self._credentials
        self._credentials = new_credentials
        self._remote_nomination = 0
        if now is not None and self._consent_deadline is not None:
            self._consent_deadline = now + self._consent_timeout

    def close(self) -> None:
        """Forget every tuple and stop the consent timer. Later calls do nothing."""
        if self._state == "closed":
            return
        self._consent_deadline = None
        self._selected_tuple = None
        for stale in list(self._tuples):
            del self._tuples[stale]
            self._events.append(IceTupleRemoved(stale))
        self._set_state("closed")

    def dump(self) -> dict[str, object]:
        """Return the state for diagnostics, without the password."""
        return {
            "state": self._state,
            "usernameFragment": self._credentials.username_fragment,
            "tuples": [candidate.to_dict() for candidate in self._tuples],
            "selectedTuple": (
                self._selected_tuple.to_dict() if self._selected_tuple is not None else None
            ),
            "consentTimeout": self._consent_timeout,
            "remoteNomination": self._remote_nomination,
        }


def _validate_credentials(username_fragment: str, password: str) -> _Credentials:
    # RFC 8839 §5.4: ice-ufrag is 4 to 256 ice-chars and ice-pwd 22 to 256. The ':' check
    # matters most here, because USERNAME splits on it.
    if not 4 <= len(username_fragment) <= 256 or ":" in username_fragment:
        raise ValueError(
            f"invalid ICE usernameFragment {username_fragment!r}: "
            "expected 4 to 256 characters without ':'"
        )
    if not 22 <= len(password) <= 256:
        raise ValueError(f"invalid ICE password: {len(password)} characters, expected 22 to 256")
    return _Credentials(username_fragment, password)


def _clamp_consent_timeout(consent_timeout: float) -> float:
    if consent_timeout < 0:
        raise ValueError(f"invalid consent_timeout {consent_timeout}: expected 0 or more seconds")
    if consent_timeout == 0:
        return 0.0
    return min(max(float(consent_timeout), MIN_CONSENT_TIMEOUT), MAX_CONSENT_TIMEOUT)

"""Access tokens: HS256 JWTs with LiveKit-compatible claims.

A token names the API key that signed it in `iss` and the participant identity in `sub`.
It may carry a display `name` and free `metadata`. `nbf` and `exp` bound its validity, in
seconds since the epoch. The `video` grant names the room and what the holder may do
there. Verification is sans-IO: the caller passes the current time.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt

TokenErrorCode = Literal[
    "token_missing", "token_invalid", "token_expired", "token_not_yet_valid", "room_denied"
]
ALGORITHM = "HS256"
LEEWAY_SECONDS = 10.0
MAX_TOKEN_LENGTH = 8192
MAX_ROOM_LENGTH = 128
MAX_IDENTITY_LENGTH = 256
MAX_NAME_LENGTH = 128
MAX_METADATA_LENGTH = 4096
DEFAULT_TTL_SECONDS = 6 * 3600
SOURCES = ("microphone", "camera", "screen", "screen-audio")
# Grant flags that LiveKit treats as true when the claim is absent.
_DEFAULT_TRUE_FLAGS = ("canPublish", "canSubscribe", "canPublishData")
_DEFAULT_FALSE_FLAGS = ("roomAdmin", "hidden")


class TokenError(Exception):
    """A token was rejected; `code` is the value sent to the client in `connect_error`."""

    def __init__(self, code: TokenErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: TokenErrorCode = code
        self.message = message


def check_room_name(room: Any) -> str | None:
    """Return why `room` is not a usable room name, or None if it is."""
    if not isinstance(room, str) or not room:
        return f"room must be a non-empty string, got {_show(room)}"
    if len(room) > MAX_ROOM_LENGTH:
        return f"room must be at most {MAX_ROOM_LENGTH} characters, got {len(room)}"
    if not room.isprintable():
        return f"room must not contain control characters, got {room!r}"
    return None


@dataclass(frozen=True)
class VideoGrant:
    """The `video` claim: the room and the holder's permissions in it."""

    room: str
    room_join: bool = True
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_publish_sources: tuple[str, ...] = ()
    room_admin: bool = False
    hidden: bool = False

    @classmethod
    def parse(cls, value: Any) -> "VideoGrant":
        """Validate the `video` claim; raise TokenError naming the claim."""
        if value is None:
            raise TokenError("room_denied", "the token has no video grant, so it names no room")
        if not isinstance(value, dict):
            raise TokenError("token_invalid", f"claim video must be an object, got {_show(value)}")
        flags: dict[str, bool] = {}
        for name in (*_DEFAULT_TRUE_FLAGS, *_DEFAULT_FALSE_FLAGS, "roomJoin"):
            flag = value.get(name, name in _DEFAULT_TRUE_FLAGS)
            if not isinstance(flag, bool):
                raise TokenError(
                    "token_invalid", f"claim video.{name} must be a boolean, got {_show(flag)}"
                )
            flags[name] = flag
        sources = _parse_sources(value.get("canPublishSources", []))
        room = value.get("room")
        problem = check_room_name(room)
        if problem is not None or not isinstance(room, str):
            raise TokenError("room_denied", f"claim video.{problem}")
        if not flags["roomJoin"]:
            raise TokenError("room_denied", f"the token does not grant roomJoin for room {room!r}")
        return cls(
            room=room,
            room_join=True,
            can_publish=flags["canPublish"],
            can_subscribe=flags["canSubscribe"],
            can_publish_data=flags["canPublishData"],
            can_publish_sources=sources,
            room_admin=flags["roomAdmin"],
            hidden=flags["hidden"],
        )

    def to_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {
            "room": self.room,
            "roomJoin": self.room_join,
            "canPublish": self.can_publish,
            "canSubscribe": self.can_subscribe,
            "canPublishData": self.can_publish_data,
            "roomAdmin": self.room_admin,
            "hidden": self.hidden,
        }
        if self.can_publish_sources:
            claim["canPublishSources"] = list(self.can_publish_sources)
        return claim


def _parse_sources(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > len(SOURCES):
        raise TokenError(
            "token_invalid",
            f"claim video.canPublishSources must be a list of sources, got {_show(value)}",
        )
    for source in value:
        if source not in SOURCES:
            raise TokenError(
                "token_invalid",
                f"claim video.canPublishSources has unknown source {_show(source)} "
                f"(known: {', '.join(SOURCES)})",
            )
    return tuple(value)


@dataclass(frozen=True)
class AccessClaims:
    """Claims of a verified token about its holder."""

    api_key: str
    identity: str
    name: str
    metadata: str
    not_before: float | None
    expires: float
    video: VideoGrant


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def token_prefix(token: Any) -> str:
    """Return the first characters of a token for logs, never the whole token."""
    return (token[:12] + "...") if isinstance(token, str) else type(token).__name__


def verify_token(
    token: Any, keys: Mapping[str, str], now: float, *, leeway: float = LEEWAY_SECONDS
) -> AccessClaims:
    """Check a token's signature, validity window and claims; raise TokenError if rejected.

    The secret is looked up by the token's `iss` in `keys` (API key -> secret). PyJWT
    checks the HMAC in constant time. `nbf` and `exp` are checked here against `now`
    (seconds since the epoch) with `leeway` seconds of tolerance for clock skew.
    """
    if token is None or token == "":
        raise TokenError("token_missing", "no access token was given: connect with auth.token")
    if not isinstance(token, str):
        raise TokenError("token_invalid", f"auth.token must be a string, got {_show(token)}")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(
            "token_invalid", f"the token is {len(token)} characters, more than {MAX_TOKEN_LENGTH}"
        )
    secret = _secret_for(token, keys)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenError("token_invalid", "the token signature is invalid") from None
    except jwt.InvalidTokenError as error:
        raise TokenError("token_invalid", f"the token is malformed: {error}") from None
    return _check_claims(claims, now, leeway)


def _secret_for(token: str, keys: Mapping[str, str]) -> str:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as error:
        raise TokenError("token_invalid", f"the token is malformed: {error}") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(
            "token_invalid",
            f"the token algorithm must be {ALGORITHM}, got {_show(header.get('alg'))}",
        )
    api_key = unverified.get("iss")
    if not isinstance(api_key, str) or api_key not in keys:
        raise TokenError(
            "token_invalid", f"the token is signed with unknown API key {_show(api_key)}"
        )
    return keys[api_key]


def _check_claims(claims: dict[str, Any], now: float, leeway: float) -> AccessClaims:
    expires = _time_claim(claims, "exp")
    if expires is None:
        raise TokenError("token_invalid", "claim exp is missing (expected a number)")
    not_before = _time_claim(claims, "nbf")
    if now > expires + leeway:
        raise TokenError("token_expired", f"the token expired {now - expires:.0f} s ago")
    if not_before is not None and now < not_before - leeway:
        raise TokenError(
            "token_not_yet_valid", f"the token is valid only in {not_before - now:.0f} s"
        )
    identity = claims.get("sub")
    if not isinstance(identity, str) or not 1 <= len(identity) <= MAX_IDENTITY_LENGTH:
        raise TokenError(
            "token_invalid",
            f"claim sub (the identity) must be a string of 1..{MAX_IDENTITY_LENGTH} characters, "
            f"got {_show(identity)}",
        )
    name = _optional_string(claims, "name", MAX_NAME_LENGTH)
    metadata = _optional_string(claims, "metadata", MAX_METADATA_LENGTH)
    return AccessClaims(
        api_key=claims["iss"],
        identity=identity,
        name=name,
        metadata=metadata,
        not_before=not_before,
        expires=expires,
        video=VideoGrant.parse(claims.get("video")),
    )


def _time_claim(claims: dict[str, Any], key: str) -> float | None:
    """Return a NumericDate claim (RFC 7519 §2) in seconds, or None if it is absent."""
    value = claims.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise TokenError("token_invalid", f"claim {key} must be a number, got {_show(value)}")
    return float(value)


def _optional_string(claims: dict[str, Any], key: str, max_length: int) -> str:
    value = claims.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise TokenError(
            "token_invalid",
            f"claim {key} must be a string of at most {max_length} characters, got {_show(value)}",
        )
    return value


def create_token(
    *,
    api_key: str,
    api_secret: str,
    identity: str,
    grant: VideoGrant,
    now: float,
    ttl: float = DEFAULT_TTL_SECONDS,
    name: str = "",
    metadata: str = "",
) -> str:
    """Sign a token valid from `now` for `ttl` seconds."""
    claims: dict[str, Any] = {
        "iss": api_key,
        "sub": identity,
        "nbf": int(now),
        "exp": int(now + ttl),
        "video": grant.to_claim(),
    }
    if name:
        claims["name"] = name
    if metadata:
        claims["metadata"] = metadata
    return jwt.encode(claims, api_secret, algorithm=ALGORITHM)

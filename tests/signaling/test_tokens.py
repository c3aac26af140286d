"""Access tokens: verification with a fake clock, and rejected connections over socket.io."""

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from signaling.tokens import (
    AccessClaims,
    TokenError,
    VideoGrant,
    create_token,
    token_prefix,
    verify_token,
)
from tests.signaling.conftest import (
    API_KEY,
    API_SECRET,
    RunningServer,
    make_settings,
    start_server,
)

NOW = 1_800_000_000.0
KEYS = {API_KEY: API_SECRET}
OTHER_SECRET = "another-secret-" + "y" * 32


def sign(claims: dict[str, Any], secret: str = API_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "iss": API_KEY,
        "sub": "alice",
        "nbf": int(NOW) - 5,
        "exp": int(NOW) + 600,
        "video": {"room": "room-1", "roomJoin": True},
    }
    values.update(overrides)
    return values


def rejected(token: Any, now: float = NOW) -> tuple[str, str]:
    with pytest.raises(TokenError) as info:
        verify_token(token, KEYS, now)
    return info.value.code, info.value.message


def test_verify_defaults() -> None:
    result = verify_token(sign(claims()), KEYS, NOW)
    assert result == AccessClaims(
        api_key=API_KEY,
        identity="alice",
        name="",
        metadata="",
        not_before=NOW - 5,
        expires=NOW + 600,
        video=VideoGrant(room="room-1"),
    )
    # LiveKit semantics: absent can* flags allow, roomAdmin and hidden do not.
    assert result.video.can_publish is True
    assert result.video.can_subscribe is True
    assert result.video.can_publish_data is True
    assert result.video.room_admin is False
    assert result.video.hidden is False


def test_create_round_trip() -> None:
    grant = VideoGrant(room="r", room_admin=True, can_publish_sources=("camera",))
    token = create_token(
        api_key=API_KEY,
        api_secret=API_SECRET,
        identity="bob",
        grant=grant,
        now=NOW,
        ttl=60,
        name="Bob",
        metadata="{}",
    )
    result = verify_token(token, KEYS, NOW)
    assert result.video == grant
    assert (result.identity, result.name, result.metadata) == ("bob", "Bob", "{}")
    assert (result.not_before, result.expires) == (NOW, NOW + 60)


def test_missing() -> None:
    assert rejected(None) == (
        "token_missing",
        "no access token was given: connect with auth.token",
    )
    assert rejected("")[0] == "token_missing"


def test_not_a_string() -> None:
    assert rejected(42) == ("token_invalid", "auth.token must be a string, got 42")


def test_garbage() -> None:
    code, message = rejected("not.a.jwt")
    assert code == "token_invalid"
    assert message.startswith("the token is malformed: ")


def test_too_long() -> None:
    assert rejected("x" * 9000) == (
        "token_invalid",
        "the token is 9000 characters, more than 8192",
    )


def test_expired_with_leeway() -> None:
    token = sign(claims(exp=int(NOW) - 11))
    assert rejected(token) == ("token_expired", "the token expired 11 s ago")
    assert verify_token(sign(claims(exp=int(NOW) - 9)), KEYS, NOW).identity == "alice"


def test_not_yet_valid_with_leeway() -> None:
    token = sign(claims(nbf=int(NOW) + 11))
    assert rejected(token) == ("token_not_yet_valid", "the token is valid only in 11 s")
    assert verify_token(sign(claims(nbf=int(NOW) + 9)), KEYS, NOW).identity == "alice"


def test_forged_signature() -> None:
    assert rejected(sign(claims(), OTHER_SECRET)) == (
        "token_invalid",
        "the token signature is invalid",
    )


def test_forged_expired() -> None:
    """The signature is checked before the validity window."""
    token = sign(claims(exp=int(NOW) - 100), OTHER_SECRET)
    assert rejected(token)[0] == "token_invalid"


def test_unknown_key() -> None:
    assert rejected(sign(claims(iss="someone-else"))) == (
        "token_invalid",
        "the token is signed with unknown API key 'someone-else'",
    )
    no_issuer = {key: value for key, value in claims().items() if key != "iss"}
    assert rejected(sign(no_issuer))[1] == "the token is signed with unknown API key None"


def test_other_algorithm() -> None:
    token = jwt.encode(claims(), API_SECRET + "z" * 40, algorithm="HS512")
    assert rejected(token) == (
        "token_invalid",
        "the token algorithm must be HS256, got 'HS512'",
    )
    unsigned = jwt.encode(claims(), "", algorithm="none")
    assert rejected(unsigned)[1] == "the token algorithm must be HS256, got 'none'"


@pytest.mark.parametrize(
    ("video", "message"),
    [
        (None, "the token has no video grant, so it names no room"),
        ({"roomJoin": True}, "claim video.room must be a non-empty string, got None"),
        ({"room": "", "roomJoin": True}, "claim video.room must be a non-empty string, got ''"),
        ({"room": "r"}, "the token does not grant roomJoin for room 'r'"),
        ({"room": "r", "roomJoin": False}, "the token does not grant roomJoin for room 'r'"),
        (
            {"room": "r" * 129, "roomJoin": True},
            "claim video.room must be at most 128 characters, got 129",
        ),
    ],
)
def test_room_denied(video: Any, message: str) -> None:
    token = sign(claims(video=video))
    assert rejected(token) == ("room_denied", message)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": None}, "claim exp is missing (expected a number)"),
        ({"exp": "soon"}, "claim exp must be a number, got 'soon'"),
        ({"sub": ""}, "claim sub (the identity) must be a string of 1..256 characters, got ''"),
        ({"name": 5}, "claim name must be a string of at most 128 characters, got 5"),
        ({"video": []}, "claim video must be an object, got []"),
        (
            {"video": {"room": "r", "roomJoin": True, "canPublish": "yes"}},
            "claim video.canPublish must be a boolean, got 'yes'",
        ),
        (
            {"video": {"room": "r", "roomJoin": True, "canPublishSources": ["mic"]}},
            "claim video.canPublishSources has unknown source 'mic' "
            "(known: microphone, camera, screen, screen-audio)",
        ),
    ],
)
def test_invalid_claims(overrides: dict[str, Any], message: str) -> None:
    values = claims(**overrides)
    for key in [key for key, value in values.items() if value is None]:
        del values[key]
    assert rejected(sign(values)) == ("token_invalid", message)


def test_prefix_hides_token() -> None:
    token = sign(claims())
    assert token_prefix(token) == token[:12] + "..."
    assert token_prefix(None) == "NoneType"


async def test_connect_rejected(running: RunningServer) -> None:
    """Each bad token is refused with its code in `connect_error` data."""
    now = int(time.time())
    live = claims(nbf=now - 5, exp=now + 600)
    no_expiry = sign({key: value for key, value in live.items() if key != "exp"})
    cases: list[tuple[Any, str]] = [
        ({}, "token_missing"),
        ("not-a-dict", "token_missing"),
        ({"token": running.token(ttl=-60, now=None)}, "token_expired"),
        ({"token": running.token(now=2e9, ttl=60)}, "token_not_yet_valid"),
        ({"token": running.token().rsplit(".", 1)[0] + ".AAAA"}, "token_invalid"),
        ({"token": sign({**live, "iss": "unknown"})}, "token_invalid"),
        ({"token": sign({**live, "video": {"room": "r"}})}, "room_denied"),
        ({"token": no_expiry}, "token_invalid"),
    ]
    for auth, code in cases:
        data = await running.client().rejected(auth)
        assert data["code"] == code, (auth, data)
        assert isinstance(data["message"], str) and data["message"]
    assert await running.metric("pysfu_join_attempts_total") == len(cases)
    assert await running.metric('pysfu_join_failures_total{reason="token_invalid"}') == 3
    assert await running.metric('pysfu_join_failures_total{reason="room_denied"}') == 1


async def test_room_full(tmp_path: Path) -> None:
    runner, running = await start_server(make_settings(tmp_path, max_peers_per_room=1))
    try:
        await running.connect("alice", room="small")
        data = await running.client().rejected({"token": running.token("bob", room="small")})
        assert data == {"code": "room_denied", "message": "room 'small' is full (1 connections)"}
        await running.connect("bob", room="other")
    finally:
        for client in running.clients:
            await client.close()
        await runner.cleanup()

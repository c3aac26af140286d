"""H.264 ``profile-level-id`` parsing and offer/answer level negotiation.

``profile-level-id`` (RFC 6184 §8.1) is three bytes in hex: ``profile_idc``,
``profile-iop`` (the constraint_set flags) and ``level_idc``. Two H.264 codec
entries match only when they have the same *profile*; the level never makes
them mismatch, but it decides the ``profile-level-id`` written into an answer.

The profile table, the default for a missing parameter and the answer rules
follow libwebrtc's ``h264_profile_level_id.cc`` as ported to the npm package
``h264-profile-level-id`` 2.3.x, which mediasoup and mediasoup-client use, so
pysfu and mediasoup-client agree on which H.264 entries match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Profile(IntEnum):
    """H.264 profiles that WebRTC negotiates."""

    CONSTRAINED_BASELINE = 1
    BASELINE = 2
    MAIN = 3
    CONSTRAINED_HIGH = 4
    HIGH = 5
    PREDICTIVE_HIGH_444 = 6


class Level(IntEnum):
    """H.264 levels; the value is ``level_idc`` except for level 1b."""

    L1_B = 0
    L1 = 10
    L1_1 = 11
    L1_2 = 12
    L1_3 = 13
    L2 = 20
    L2_1 = 21
    L2_2 = 22
    L3 = 30
    L3_1 = 31
    L3_2 = 32
    L4 = 40
    L4_1 = 41
    L4_2 = 42
    L5 = 50
    L5_1 = 51
    L5_2 = 52


@dataclass(frozen=True, slots=True)
class ProfileLevelId:
    """A parsed ``profile-level-id``."""

    profile: Profile
    level: Level


# RFC 6184 §8.1 leaves a missing profile-level-id as Baseline level 1, but
# libwebrtc (crbug.com/webrtc/6337) and every browser treat it as Constrained
# Baseline level 3.1, so pysfu does the same.
DEFAULT_PROFILE_LEVEL_ID = ProfileLevelId(Profile.CONSTRAINED_BASELINE, Level.L3_1)

# In level_idc 11 of the Baseline, Constrained Baseline and Main profiles,
# constraint_set3_flag selects level 1b instead of 1.1 (H.264 Annex A.3.1).
_CONSTRAINT_SET3_FLAG = 0x10

_HEX6_RE = re.compile(r"[0-9a-fA-F]{6}")


def _bit_pattern(pattern: str) -> tuple[int, int]:
    """Turn "x1xx0000" into (mask, value) so that ``iop & mask == value`` matches."""
    mask = 0
    value = 0
    for char in pattern:
        mask <<= 1
        value <<= 1
        if char != "x":
            mask |= 1
        if char == "1":
            value |= 1
    return mask, value


# (profile_idc, profile-iop bit pattern, profile), RFC 6184 §8.1 table 5.
# Order matters: the first matching row wins.
_PROFILE_PATTERNS: tuple[tuple[int, tuple[int, int], Profile], ...] = (
    (0x42, _bit_pattern("x1xx0000"), Profile.CONSTRAINED_BASELINE),
    (0x4D, _bit_pattern("1xxx0000"), Profile.CONSTRAINED_BASELINE),
    (0x58, _bit_pattern("11xx0000"), Profile.CONSTRAINED_BASELINE),
    (0x42, _bit_pattern("x0xx0000"), Profile.BASELINE),
    (0x58, _bit_pattern("10xx0000"), Profile.BASELINE),
    (0x4D, _bit_pattern("0x0x0000"), Profile.MAIN),
    (0x64, _bit_pattern("00000000"), Profile.HIGH),
    (0x64, _bit_pattern("00001100"), Profile.CONSTRAINED_HIGH),
    (0xF4, _bit_pattern("00000000"), Profile.PREDICTIVE_HIGH_444),
)

# The first two bytes written for each profile in canonical form.
_PROFILE_IDC_IOP = {
    Profile.CONSTRAINED_BASELINE: "42e0",
    Profile.BASELINE: "4200",
    Profile.MAIN: "4d00",
    Profile.CONSTRAINED_HIGH: "640c",
    Profile.HIGH: "6400",
    Profile.PREDICTIVE_HIGH_444: "f400",
}

# Level 1b has its own encoding (level_idc 11 plus constraint_set3_flag).
_LEVEL_1B_STRINGS = {
    Profile.CONSTRAINED_BASELINE: "42f00b",
    Profile.BASELINE: "42100b",
    Profile.MAIN: "4d100b",
}

_VALID_LEVEL_IDCS = frozenset(level.value for level in Level if level is not Level.L1_B)


def parse_profile_level_id(value: str) -> ProfileLevelId | None:
    """Parse a 6-hex-digit ``profile-level-id``; return None if it is not a known one."""
    if not isinstance(value, str) or _HEX6_RE.fullmatch(value) is None:
        return None

    numeric = int(value, 16)
    if numeric == 0:
        return None

    level_idc = numeric & 0xFF
    profile_iop = (numeric >> 8) & 0xFF
    profile_idc = (numeric >> 16) & 0xFF

    if level_idc not in _VALID_LEVEL_IDCS:
        return None

    level = Level(level_idc)
    if level is Level.L1_1 and profile_iop & _CONSTRAINT_SET3_FLAG:
        level = Level.L1_B

    for pattern_idc, (mask, masked_value), profile in _PROFILE_PATTERNS:
        if profile_idc == pattern_idc and profile_iop & mask == masked_value:
            return ProfileLevelId(profile, level)

    return None


def format_profile_level_id(profile_level_id: ProfileLevelId) -> str | None:
    """Return the canonical lowercase hex form, or None for level 1b of a High profile."""
    if profile_level_id.level is Level.L1_B:
        return _LEVEL_1B_STRINGS.get(profile_level_id.profile)

    prefix = _PROFILE_IDC_IOP[profile_level_id.profile]
    return f"{prefix}{profile_level_id.level.value:02x}"


def parse_sdp_profile_level_id(params: Mapping[str, Any] | None) -> ProfileLevelId | None:
    """Parse ``profile-level-id`` from fmtp parameters.

    A missing or empty value gives :data:`DEFAULT_PROFILE_LEVEL_ID`; a present but
    unknown value gives None. A number is read as its decimal text, the way
    mediasoup-client turns back into a string a value that its SDP parser read
    as a number (``640032`` is all digits).
    """
    value = (params or {}).get("profile-level-id")
    if value is None or value == "":
        return DEFAULT_PROFILE_LEVEL_ID
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    return parse_profile_level_id(value)


def is_same_profile(params1: Mapping[str, Any] | None, params2: Mapping[str, Any] | None) -> bool:
    """Return whether both fmtp parameter sets name the same H.264 profile (levels ignored)."""
    first = parse_sdp_profile_level_id(params1)
    second = parse_sdp_profile_level_id(params2)
    return first is not None and second is not None and first.profile == second.profile


def is_same_profile_and_level(
    params1: Mapping[str, Any] | None, params2: Mapping[str, Any] | None
) -> bool:
    """Return whether both fmtp parameter sets name the same profile and level."""
    first = parse_sdp_profile_level_id(params1)
    second = parse_sdp_profile_level_id(params2)
    return first is not None and first == second


def is_level_asymmetry_allowed(params: Mapping[str, Any] | None) -> bool:
    """Return whether ``level-asymmetry-allowed`` is 1 (RFC 6184 §8.1)."""
    value = (params or {}).get("level-asymmetry-allowed")
    # True == 1 in Python, so a boolean true is accepted here as libwebrtc does.
    return value == 1 or value == "1"


def _is_less_level(a: Level, b: Level) -> bool:
    # Level 1b sits between 1 and 1.1 although its enum value is 0. This follows
    # libwebrtc's H264LevelIsLess; the npm port (2.3.x) has `a !== L1` in the
    # second branch, which would make every level but 1 "less" than 1b.
    if a is Level.L1_B:
        return b not in (Level.L1, Level.L1_B)
    if b is Level.L1_B:
        return a is Level.L1
    return a < b


def min_level(a: Level, b: Level) -> Level:
    """Return the lower of two levels, placing 1b between 1 and 1.1."""
    return a if _is_less_level(a, b) else b


def generate_profile_level_id_for_answer(
    local_supported_params: Mapping[str, Any] | None,
    remote_offered_params: Mapping[str, Any] | None,
) -> str | None:
    """Compute the ``profile-level-id`` to put in an answer to ``remote_offered_params``.

    Both sides must already have the same profile. The answer keeps that profile.
    Its level is the local level when both sides set ``level-asymmetry-allowed=1``,
    else the lower of the two levels, because without asymmetry an answer may not
    raise the offered level (RFC 6184 §8.2.2). Returns None when neither side has
    ``profile-level-id``, so that the answer leaves the parameter out too.

    Raises ValueError if either value is unknown or the profiles differ.
    """
    local = local_supported_params or {}
    remote = remote_offered_params or {}
    if not local.get("profile-level-id") and not remote.get("profile-level-id"):
        return None

    local_id = parse_sdp_profile_level_id(local)
    remote_id = parse_sdp_profile_level_id(remote)
    if local_id is None:
        raise ValueError(f"invalid local profile-level-id: {local.get('profile-level-id')!r}")
    if remote_id is None:
        raise ValueError(f"invalid remote profile-level-id: {remote.get('profile-level-id')!r}")
    if local_id.profile != remote_id.profile:
        raise ValueError(
            f"H264 profile mismatch: local {local_id.profile.name}, remote {remote_id.profile.name}"
        )

    if is_level_asymmetry_allowed(local) and is_level_asymmetry_allowed(remote):
        answer_level = local_id.level
    else:
        answer_level = min_level(local_id.level, remote_id.level)

    return format_profile_level_id(ProfileLevelId(local_id.profile, answer_level))

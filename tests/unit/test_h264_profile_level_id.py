import pytest

from sfu.h264_profile_level_id import (
    DEFAULT_PROFILE_LEVEL_ID,
    Level,
    Profile,
    ProfileLevelId,
    format_profile_level_id,
    generate_profile_level_id_for_answer,
    is_level_asymmetry_allowed,
    is_same_profile,
    is_same_profile_and_level,
    min_level,
    parse_profile_level_id,
    parse_sdp_profile_level_id,
)


@pytest.mark.parametrize(
    ("text", "profile", "level"),
    [
        ("42e01f", Profile.CONSTRAINED_BASELINE, Level.L3_1),
        ("42E01F", Profile.CONSTRAINED_BASELINE, Level.L3_1),
        ("42001f", Profile.BASELINE, Level.L3_1),
        ("58C01E", Profile.CONSTRAINED_BASELINE, Level.L3),
        ("58801E", Profile.BASELINE, Level.L3),
        ("4de01f", Profile.CONSTRAINED_BASELINE, Level.L3_1),
        ("4d001f", Profile.MAIN, Level.L3_1),
        ("4d0032", Profile.MAIN, Level.L5),
        ("640c1f", Profile.CONSTRAINED_HIGH, Level.L3_1),
        ("64001f", Profile.HIGH, Level.L3_1),
        ("640034", Profile.HIGH, Level.L5_2),
        ("f4001f", Profile.PREDICTIVE_HIGH_444, Level.L3_1),
        ("42e00a", Profile.CONSTRAINED_BASELINE, Level.L1),
        ("42e00b", Profile.CONSTRAINED_BASELINE, Level.L1_1),
        ("42f00b", Profile.CONSTRAINED_BASELINE, Level.L1_B),
        ("42100b", Profile.BASELINE, Level.L1_B),
        ("4d100b", Profile.MAIN, Level.L1_B),
    ],
)
def test_parse_known_values(text: str, profile: Profile, level: Level) -> None:
    assert parse_profile_level_id(text) == ProfileLevelId(profile, level)


@pytest.mark.parametrize(
    "text",
    ["", "42e01", "42e01f0", "zzzzzz", "000000", "42e0ff", "42e009", "ff001f", "6401 1f", "640d1f"],
)
def test_parse_rejects_unknown_values(text: str) -> None:
    assert parse_profile_level_id(text) is None


@pytest.mark.parametrize(
    ("profile_level_id", "text"),
    [
        (ProfileLevelId(Profile.CONSTRAINED_BASELINE, Level.L3_1), "42e01f"),
        (ProfileLevelId(Profile.BASELINE, Level.L1), "42000a"),
        (ProfileLevelId(Profile.MAIN, Level.L5), "4d0032"),
        (ProfileLevelId(Profile.CONSTRAINED_HIGH, Level.L3_1), "640c1f"),
        (ProfileLevelId(Profile.HIGH, Level.L4_2), "64002a"),
        (ProfileLevelId(Profile.PREDICTIVE_HIGH_444, Level.L3_1), "f4001f"),
        (ProfileLevelId(Profile.CONSTRAINED_BASELINE, Level.L1_B), "42f00b"),
        (ProfileLevelId(Profile.BASELINE, Level.L1_B), "42100b"),
        (ProfileLevelId(Profile.MAIN, Level.L1_B), "4d100b"),
    ],
)
def test_format_canonical(profile_level_id: ProfileLevelId, text: str) -> None:
    assert format_profile_level_id(profile_level_id) == text
    assert parse_profile_level_id(text) == profile_level_id


def test_format_level_1b_of_high_profile_is_none() -> None:
    assert format_profile_level_id(ProfileLevelId(Profile.HIGH, Level.L1_B)) is None


def test_sdp_default_is_constrained_baseline_3_1() -> None:
    assert parse_sdp_profile_level_id({}) == DEFAULT_PROFILE_LEVEL_ID
    assert parse_sdp_profile_level_id(None) == DEFAULT_PROFILE_LEVEL_ID
    assert parse_sdp_profile_level_id({"profile-level-id": ""}) == DEFAULT_PROFILE_LEVEL_ID
    assert DEFAULT_PROFILE_LEVEL_ID == ProfileLevelId(Profile.CONSTRAINED_BASELINE, Level.L3_1)


def test_sdp_number_is_read_as_text() -> None:
    # An SDP parser reads "640032" as the number 640032.
    assert parse_sdp_profile_level_id({"profile-level-id": 640032}) == ProfileLevelId(
        Profile.HIGH, Level.L5
    )


def test_sdp_invalid_types_give_none() -> None:
    assert parse_sdp_profile_level_id({"profile-level-id": "xyz"}) is None
    assert parse_sdp_profile_level_id({"profile-level-id": 1.5}) is None
    assert parse_sdp_profile_level_id({"profile-level-id": True}) is None


def test_same_profile_ignores_level() -> None:
    assert is_same_profile({"profile-level-id": "42e01f"}, {"profile-level-id": "42e034"})
    assert is_same_profile({"profile-level-id": "4d001f"}, {"profile-level-id": "4d0032"})
    assert is_same_profile({}, {"profile-level-id": "42e01f"})
    assert not is_same_profile({"profile-level-id": "42001f"}, {"profile-level-id": "42e01f"})
    assert not is_same_profile({"profile-level-id": "640c1f"}, {"profile-level-id": "64001f"})
    assert not is_same_profile({"profile-level-id": "bad"}, {"profile-level-id": "bad"})


def test_same_profile_and_level() -> None:
    assert is_same_profile_and_level({}, {"profile-level-id": "42e01f"})
    assert not is_same_profile_and_level(
        {"profile-level-id": "42e01f"}, {"profile-level-id": "42e034"}
    )


@pytest.mark.parametrize(("value", "allowed"), [(1, True), ("1", True), (0, False), ("0", False)])
def test_level_asymmetry_allowed(value: object, allowed: bool) -> None:
    assert is_level_asymmetry_allowed({"level-asymmetry-allowed": value}) is allowed
    assert is_level_asymmetry_allowed({}) is False


def test_min_level_orders_1b() -> None:
    # Level 1b lies between level 1 and level 1.1.
    assert min_level(Level.L1_B, Level.L1) == Level.L1
    assert min_level(Level.L1, Level.L1_B) == Level.L1
    assert min_level(Level.L1_B, Level.L1_1) == Level.L1_B
    assert min_level(Level.L1_1, Level.L1_B) == Level.L1_B
    assert min_level(Level.L3_1, Level.L1_B) == Level.L1_B
    assert min_level(Level.L3_1, Level.L5) == Level.L3_1


def test_answer_keeps_local_level_with_asymmetry() -> None:
    local = {"profile-level-id": "42e034", "level-asymmetry-allowed": 1}
    remote = {"profile-level-id": "42e01f", "level-asymmetry-allowed": "1"}
    assert generate_profile_level_id_for_answer(local, remote) == "42e034"


def test_answer_takes_lower_level_without_asymmetry() -> None:
    local = {"profile-level-id": "42e034", "level-asymmetry-allowed": 1}
    remote = {"profile-level-id": "42e01f"}
    assert generate_profile_level_id_for_answer(local, remote) == "42e01f"
    assert generate_profile_level_id_for_answer(remote, local) == "42e01f"


def test_answer_level_1b() -> None:
    local = {"profile-level-id": "42e01f"}
    remote = {"profile-level-id": "42f00b"}
    assert generate_profile_level_id_for_answer(local, remote) == "42f00b"
    remote_level_1 = {"profile-level-id": "42e00a"}
    assert generate_profile_level_id_for_answer(remote, remote_level_1) == "42e00a"


def test_answer_uses_default_for_missing_side() -> None:
    assert generate_profile_level_id_for_answer({}, {"profile-level-id": "42e00a"}) == "42e00a"
    assert generate_profile_level_id_for_answer({"profile-level-id": "42e034"}, {}) == "42e01f"


def test_answer_none_when_both_missing() -> None:
    assert generate_profile_level_id_for_answer({}, {}) is None
    assert generate_profile_level_id_for_answer(None, None) is None


def test_answer_profile_mismatch_raises() -> None:
    with pytest.raises(ValueError) as error:
        generate_profile_level_id_for_answer(
            {"profile-level-id": "42e01f"}, {"profile-level-id": "640c1f"}
        )
    assert str(error.value) == (
        "H264 profile mismatch: local CONSTRAINED_BASELINE, remote CONSTRAINED_HIGH"
    )


def test_answer_invalid_values_raise() -> None:
    with pytest.raises(ValueError) as local_error:
        generate_profile_level_id_for_answer({"profile-level-id": "zz"}, {})
    assert str(local_error.value) == "invalid local profile-level-id: 'zz'"

    with pytest.raises(ValueError) as remote_error:
        generate_profile_level_id_for_answer({}, {"profile-level-id": "42e0ff"})
    assert str(remote_error.value) == "invalid remote profile-level-id: '42e0ff'"

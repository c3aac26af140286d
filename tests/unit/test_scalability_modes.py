import pytest

from sfu.scalability_modes import ScalabilityMode, parse_scalability_mode


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("L1T1", ScalabilityMode(1, 1, False)),
        ("L1T3", ScalabilityMode(1, 3, False)),
        ("L3T3", ScalabilityMode(3, 3, False)),
        ("L3T3_KEY", ScalabilityMode(3, 3, True)),
        ("L3T3_KEY_SHIFT", ScalabilityMode(3, 3, True)),
        ("S3T3", ScalabilityMode(3, 3, False)),
        ("L2T2h", ScalabilityMode(2, 2, False)),
        ("L12T10", ScalabilityMode(12, 10, False)),
    ],
)
def test_parse_valid_modes(mode: str, expected: ScalabilityMode) -> None:
    assert parse_scalability_mode(mode) == expected


@pytest.mark.parametrize("mode", [None, "", "T3", "l1t3", "L0T1", "L1T0", "X1T1", "L1", 3])
def test_parse_unparsable_gives_one_layer(mode: object) -> None:
    assert parse_scalability_mode(mode) == ScalabilityMode(1, 1, False)  # type: ignore[arg-type]


def test_three_digit_layer_count_unparsable() -> None:
    # Layer counts have at most two digits, so no "T" follows "L10".
    assert parse_scalability_mode("L100T1") == ScalabilityMode(1, 1, False)


def test_mode_is_frozen() -> None:
    mode = parse_scalability_mode("L1T3")
    with pytest.raises(AttributeError):
        mode.spatial_layers = 2  # type: ignore[misc]

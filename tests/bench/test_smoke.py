"""Smoke run of `python -m bench`: a started pysfu, one publisher, two subscribers, ~20 s.

It checks the report's structure and that media flowed with under 1 % loss. It asserts no
speed figure, because the machine is shared.
"""

import json
from pathlib import Path

import pytest

from bench.__main__ import build_parser, check, run

pytestmark = pytest.mark.timeout(90)


def test_smoke_run(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "--rooms", "1",
            "--publishers", "1",
            "--subscribers", "2",
            "--duration", "8",
            "--settle", "2",
            "--ramp", "20",
            "--results", str(tmp_path),
        ]
    )  # fmt: skip
    assert check(args) is None
    lines: list[str] = []
    [summary] = run(args, lines.append)

    document = json.loads((tmp_path / "result.json").read_text())
    assert document["runs"][0]["target"] == "pysfu"
    assert (tmp_path / "summary.md").read_text().startswith("# Bench run")
    assert (tmp_path / "pysfu-latency.png").stat().st_size > 0
    assert (tmp_path / "pysfu-timeline.png").stat().st_size > 0
    assert any(line.startswith("[pysfu measure") for line in lines)

    assert summary["join"]["succeeded"] == 3
    assert summary["join"]["p95_s"] is not None
    assert summary["signaling_errors"]["count"] == 0
    assert summary["bot_process_crashes"] == []
    subscribers = summary["subscribers"]
    assert len(subscribers) == 2
    for subscriber in subscribers:
        # One audio and one video stream, at least 50 + 30 packets/s for 8 s.
        assert subscriber["streams"] == 2
        assert subscriber["expected"] > 8 * 80
        assert subscriber["lost"] <= subscriber["expected"] * 0.01
    media = summary["media"]
    assert media["loss_rate"] < 0.01
    assert media["latency_ms"]["samples"] == media["received"]
    assert media["latency_ms"]["p50"] > 0
    assert len(summary["forwarding"]["workers"]) == 1


def test_check_rejects_too_many_bots() -> None:
    args = build_parser().parse_args(["--rooms", "100", "--subscribers", "30"])
    assert check(args) == "invalid load: 3100 bots, at most 2000"

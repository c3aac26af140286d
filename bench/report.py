"""Summaries of a bench run: the JSON result, a Markdown page and PNG plots."""

import json
import math
from pathlib import Path
from typing import Any


def percentile(values: list[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of `values`, or None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(raw: dict[str, Any], target: str, load: dict[str, Any]) -> dict[str, Any]:
    """Reduce the raw per-process results to the figures of one run."""
    processes = raw["processes"]
    joins = [value for result in processes for value in result["join_seconds"]]
    latencies = [value for result in processes for value in result["latencies_ms"]]
    subscribers = [item for result in processes for item in result["subscribers"]]
    publishers = [item for result in processes for item in result["publishers"]]
    errors = [item for result in processes for item in result["signaling_errors"]]
    bots = load["rooms"] * (load["publishers"] + load["subscribers"])
    expected = sum(item["expected"] for item in subscribers)
    received = sum(item["received"] for item in subscribers)
    lost = sum(item["lost"] for item in subscribers)
    window = raw["window_seconds"]

    start = raw["window_cpu"].get("start", {})
    end = raw["window_cpu"].get("end", {})
    workers = []
    for pid, (cpu_end, rss_end) in end.items():
        if pid not in start:
            continue
        cpu_seconds = cpu_end - start[pid][0]
        workers.append(
            {
                "pid": int(pid),
                "cpu_seconds": round(cpu_seconds, 3),
                "cpu_percent": round(100.0 * cpu_seconds / window, 1),
                "rss_mb": round(rss_end / 2**20, 1),
            }
        )
    cpu_total = sum(worker["cpu_seconds"] for worker in workers)
    return {
        "target": target,
        "load": load,
        "bots": bots,
        "join": {
            "attempted": bots,
            "succeeded": len(joins),
            "success_rate": len(joins) / bots if bots else 0.0,
            "p50_s": percentile(joins, 0.50),
            "p95_s": percentile(joins, 0.95),
            "max_s": max(joins) if joins else None,
        },
        "media": {
            "expected": expected,
            "received": received,
            "lost": lost,
            "loss_rate": lost / expected if expected else None,
            "latency_ms": {
                "samples": len(latencies),
                "p50": percentile(latencies, 0.50),
                "p95": percentile(latencies, 0.95),
                "p99": percentile(latencies, 0.99),
                "max": max(latencies) if latencies else None,
            },
        },
        "forwarding": {
            "window_seconds": window,
            "packets_per_second": received / window if window else 0.0,
            "worker_cpu_seconds": round(cpu_total, 3),
            "packets_per_cpu_second": received / cpu_total if cpu_total > 0 else None,
            "workers": workers,
        },
        "publishers": {
            "nacks": sum(item["nacks"] for item in publishers),
            "plis": sum(item["plis"] for item in publishers),
            "retransmitted": sum(item["retransmitted"] for item in publishers),
        },
        "signaling_errors": {"count": len(errors), "first": errors[:20]},
        "bot_process_crashes": raw["crashes"],
        "subscribers": subscribers,
        "timeline": raw["timeline"],
        # Removed by `plot`, so that the JSON file stays small.
        "_latencies": latencies,
    }


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def markdown(summaries: list[dict[str, Any]], command: str) -> str:
    """Return the Markdown summary of one or two runs (pysfu and the baseline relay)."""
    lines = ["# Bench run", "", f"Command: `{command}`", ""]
    for summary in summaries:
        join, media, forwarding = summary["join"], summary["media"], summary["forwarding"]
        latency = media["latency_ms"]
        loss = media["loss_rate"]
        worst = max(summary["subscribers"], key=lambda item: item["lost"], default=None)
        lines += [
            f"## {summary['target']}",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| bots | {summary['bots']} |",
            f"| join success | {join['succeeded']}/{join['attempted']} |",
            f"| join time p50 / p95 / max (s) | {_number(join['p50_s'], 3)} / "
            f"{_number(join['p95_s'], 3)} / {_number(join['max_s'], 3)} |",
            f"| packets expected / received / lost | {_number(media['expected'])} / "
            f"{_number(media['received'])} / {_number(media['lost'])} |",
            f"| loss | {'n/a' if loss is None else f'{100 * loss:.3f} %'} |",
            f"| worst subscriber lost | {_number(worst['lost'] if worst else None)} |",
            f"| latency p50 / p95 / p99 (ms) | {_number(latency['p50'], 2)} / "
            f"{_number(latency['p95'], 2)} / {_number(latency['p99'], 2)} |",
            f"| forwarded packets/s | {_number(forwarding['packets_per_second'], 0)} |",
            f"| forwarding CPU-seconds in the window | {forwarding['worker_cpu_seconds']} |",
            f"| forwarded packets per CPU-second | "
            f"{_number(forwarding['packets_per_cpu_second'], 0)} |",
            f"| signaling errors | {summary['signaling_errors']['count']} |",
            f"| publisher NACKs / PLIs / retransmitted | {summary['publishers']['nacks']} / "
            f"{summary['publishers']['plis']} / {summary['publishers']['retransmitted']} |",
            "",
        ]
        for worker in forwarding["workers"]:
            lines.append(
                f"- process {worker['pid']}: {worker['cpu_percent']} % of one core, "
                f"{worker['rss_mb']} MB resident"
            )
        lines.append("")
    ratio = baseline_ratio(summaries)
    if ratio is not None:
        lines += [
            f"pysfu forwards {ratio:.2f} times the packets per CPU-second of the plain C relay "
            "(the relay does no SRTP and no RTP processing).",
            "",
        ]
    return "\n".join(lines)


def baseline_ratio(summaries: list[dict[str, Any]]) -> float | None:
    by_target = {summary["target"]: summary["forwarding"] for summary in summaries}
    if "pysfu" not in by_target or "baseline" not in by_target:
        return None
    ours = by_target["pysfu"]["packets_per_cpu_second"]
    theirs = by_target["baseline"]["packets_per_cpu_second"]
    if not ours or not theirs:
        return None
    return float(ours / theirs)


def plot(summary: dict[str, Any], results: Path) -> list[Path]:
    """Write the latency histogram and the CPU and packet rate timeline as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    name = summary["target"]
    latencies = summary.pop("_latencies", [])
    if latencies:
        figure, axes = plt.subplots(figsize=(7, 4))
        axes.hist(latencies, bins=100)
        axes.set_xlabel("end-to-end latency (ms)")
        axes.set_ylabel("packets")
        axes.set_yscale("log")
        axes.set_title(f"{name}: latency, publisher send to subscriber receive")
        path = results / f"{name}-latency.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)

    timeline = summary["timeline"]
    if timeline:
        figure, (cpu_axes, rate_axes) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        times = [point["t"] for point in timeline]
        pids = sorted({pid for point in timeline for pid in point["cpu_percent"]})
        for pid in pids:
            cpu_axes.plot(times, [point["cpu_percent"].get(pid) for point in timeline], label=pid)
        cpu_axes.set_ylabel("CPU % of one core")
        cpu_axes.legend(title="process", fontsize="small")
        rate_axes.plot(times, [point["received_pps"] for point in timeline])
        rate_axes.set_ylabel("packets/s received by bots")
        rate_axes.set_xlabel("seconds since the first join")
        cpu_axes.set_title(f"{name}: forwarding process CPU and delivered packet rate")
        path = results / f"{name}-timeline.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written


def write(summaries: list[dict[str, Any]], results: Path, command: str) -> None:
    for summary in summaries:
        plot(summary, results)
        summary.pop("_latencies", None)
    document = {
        "command": command,
        "runs": summaries,
        "pysfu_to_baseline_ratio": baseline_ratio(summaries),
    }
    (results / "result.json").write_text(json.dumps(document, indent=2) + "\n")
    (results / "summary.md").write_text(markdown(summaries, command) + "\n")

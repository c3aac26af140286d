"""`python -m bench`: load pysfu (or the C baseline relay) with bots and write a report."""

import argparse
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report, targets
from bench.run import Load, results_dir, run_load

MAX_BOTS = 2000
MAX_DURATION = 600.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run publisher and subscriber bots against pysfu on 127.0.0.1 and report "
        "join times, loss, latency and the forwarding CPU cost.",
    )
    parser.add_argument("--rooms", type=int, default=1, help="number of rooms (default 1)")
    parser.add_argument("--publishers", type=int, default=1, help="publishers per room")
    parser.add_argument("--subscribers", type=int, default=1, help="subscribers per room")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of the measured window"
    )
    parser.add_argument("--ramp", type=float, default=10.0, help="bot joins per second")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds between the last join and the window"
    )
    parser.add_argument("--processes", type=int, default=1, help="bot processes (default 1)")
    parser.add_argument(
        "--media",
        choices=("audio", "video"),
        default="video",
        help="audio: Opus-sized packets only; video: Opus plus VP8 (default)",
    )
    parser.add_argument(
        "--video-bitrate", type=int, default=300_000, help="VP8 bit/s per publisher"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--server", help="URL of a running pysfu on 127.0.0.1 (development mode)")
    target.add_argument(
        "--start-server", action="store_true", help="start pysfu serve for the run (default)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="media workers of a started server (default 1)"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="load the plain C relay instead of pysfu"
    )
    parser.add_argument(
        "--with-baseline",
        action="store_true",
        help="load pysfu, then the C relay with the same bots, and report the ratio",
    )
    parser.add_argument("--results", type=Path, help="output folder (default bench/results/TIME)")
    return parser


def check(args: argparse.Namespace) -> str | None:
    if min(args.rooms, args.publishers, args.processes) < 1 or args.subscribers < 0:
        return "--rooms, --publishers and --processes must be at least 1, --subscribers 0"
    bots = args.rooms * (args.publishers + args.subscribers)
    if bots > MAX_BOTS:
        return f"invalid load: {bots} bots, at most {MAX_BOTS}"
    if not 0 < args.duration <= MAX_DURATION:
        return f"invalid --duration {args.duration}: expected 0 < seconds <= {MAX_DURATION}"
    if args.ramp <= 0:
        return f"invalid --ramp {args.ramp}: expected joins per second above 0"
    if args.baseline and args.server:
        return "--baseline replaces the server: do not pass --server"
    return None


def run(args: argparse.Namespace, print_line: Any = print) -> list[dict[str, Any]]:
    results = results_dir(args.results)
    load = Load(
        rooms=args.rooms,
        publishers=args.publishers,
        subscribers=args.subscribers,
        duration=args.duration,
        ramp=args.ramp,
        processes=args.processes,
        video=args.media == "video",
        video_bitrate=args.video_bitrate,
        settle=args.settle,
    )
    kinds = ["baseline"] if args.baseline else ["pysfu"]
    if args.with_baseline and not args.baseline:
        kinds.append("baseline")
    summaries = []
    for kind in kinds:
        if kind == "baseline":
            target = targets.start_relay(results)
        elif args.server:
            target = targets.attach_server(args.server)
        else:
            target = targets.start_server(args.workers, results)
        try:
            raw = run_load(target, load, print_line)
        finally:
            target.stop()
        summaries.append(report.summarize(raw, kind, asdict(load)))
    command = shlex.join([sys.executable, "-m", "bench", *sys.argv[1:]])
    report.write(summaries, results, command)
    print_line(report.markdown(summaries, command))
    print_line(f"results: {results}")
    return summaries


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = check(args)
    if problem is not None:
        print(f"python -m bench: {problem}", file=sys.stderr)
        return 2
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One bench run: start the target, fork the bot processes, sample CPU, collect the results."""

import multiprocessing
import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procstat
from bench.bots import BotSpec, ProcessSpec, run_process
from bench.targets import Target

STARTUP_SECONDS = 3.0  # from forking the bot processes to the first join
RESULT_TIMEOUT = 30.0  # seconds after the scheduled stop to wait for the bot processes


@dataclass(frozen=True)
class Load:
    rooms: int
    publishers: int
    subscribers: int
    duration: float
    ramp: float
    processes: int
    video: bool
    video_bitrate: int
    settle: float

    @property
    def bots(self) -> int:
        return self.rooms * (self.publishers + self.subscribers)


def plan_bots(load: Load) -> list[list[BotSpec]]:
    """Number the bots room by room, publishers first, and deal them out to the processes."""
    per_process: list[list[BotSpec]] = [[] for _ in range(load.processes)]
    index = 0
    for room in range(load.rooms):
        for number in range(load.publishers + load.subscribers):
            spec = BotSpec(index, room, number, publisher=number < load.publishers)
            per_process[index % load.processes].append(spec)
            index += 1
    return per_process


def _cpu(pids: list[int]) -> dict[int, procstat.ProcessSample]:
    samples = {}
    for pid in pids:
        sample = procstat.sample(pid)
        if sample is not None:
            samples[pid] = sample
    return samples


def run_load(target: Target, load: Load, print_line: Any = print) -> dict[str, Any]:
    """Run the bots against `target` and return the raw results of every process."""
    start_at = time.monotonic() + STARTUP_SECONDS
    ramp_end = start_at + load.bots / load.ramp
    window_start = ramp_end + load.settle
    window_end = window_start + load.duration
    stop_at = window_end + 1.0
    # CLOCK_MONOTONIC in ns, the clock of the send times in the packets.
    offset_ns = time.monotonic_ns() - int(time.monotonic() * 1e9)
    context = multiprocessing.get_context("spawn")
    messages: Any = context.Queue()
    processes = []
    for number, bots in enumerate(plan_bots(load)):
        spec = ProcessSpec(
            process=number,
            bots=bots,
            server_url=target.server_url,
            relay_address=target.relay_address,
            video=load.video,
            video_bitrate=load.video_bitrate,
            start_at=start_at,
            ramp=load.ramp,
            window_start_ns=int(window_start * 1e9) + offset_ns,
            window_end_ns=int(window_end * 1e9) + offset_ns,
            stop_at=stop_at,
        )
        process = context.Process(target=run_process, args=(spec, messages), daemon=True)
        process.start()
        processes.append(process)

    bot_pids = [process.pid for process in processes if process.pid is not None]
    progress: dict[int, dict[str, Any]] = {}
    results: dict[int, dict[str, Any]] = {}
    crashes: list[str] = []
    timeline: list[dict[str, Any]] = []
    window_cpu: dict[str, dict[int, procstat.ProcessSample]] = {}
    previous = (time.monotonic(), _cpu(target.forwarding_pids), 0)
    deadline = stop_at + RESULT_TIMEOUT
    marks = [("start", window_start), ("end", window_end)]
    while len(results) + len(crashes) < len(processes) and time.monotonic() < deadline:
        next_tick = previous[0] + 1.0
        if marks and marks[0][1] < next_tick:
            next_tick = marks[0][1]
        try:
            kind, number, payload = messages.get(timeout=max(0.0, next_tick - time.monotonic()))
        except queue.Empty:
            pass
        else:
            if kind == "progress":
                progress[number] = payload
            elif kind == "result":
                results[number] = payload
                progress[number] = payload["totals"]
            else:
                crashes.append(f"bot process {number}: {payload}")
            continue
        now = time.monotonic()
        samples = _cpu(target.forwarding_pids)
        if marks and now >= marks[0][1]:
            window_cpu[marks.pop(0)[0]] = samples
            continue
        received = sum(totals.get("received", 0) for totals in progress.values())
        elapsed = now - previous[0]
        point: dict[str, Any] = {
            "t": round(now - start_at, 2),
            "received_pps": (received - previous[2]) / elapsed if elapsed > 0 else 0.0,
            "cpu_percent": {
                str(pid): 100.0 * (sample.cpu_seconds - previous[1][pid].cpu_seconds) / elapsed
                for pid, sample in samples.items()
                if pid in previous[1] and elapsed > 0
            },
            "rss_bytes": {str(pid): sample.rss_bytes for pid, sample in samples.items()},
            "bot_cpu_seconds": sum(s.cpu_seconds for s in _cpu(bot_pids).values()),
        }
        timeline.append(point)
        previous = (now, samples, received)
        joined = sum(totals.get("joined", 0) for totals in progress.values())
        failed = sum(totals.get("failed", 0) for totals in progress.values())
        cpu_percent: dict[str, float] = point["cpu_percent"]
        cpu = " ".join(f"{value:.0f}%" for value in cpu_percent.values())
        if now < ramp_end:
            phase = "ramp"
        elif now < window_start:
            phase = "settle"
        elif now < window_end:
            phase = "measure"
        else:
            phase = "drain"
        print_line(
            f"[{target.kind} {phase} t={point['t']:.0f}s] joined {joined}/{load.bots} "
            f"failed {failed} rx {point['received_pps']:.0f} pkt/s cpu {cpu}"
        )

    for process in processes:
        process.join(5.0)
        if process.is_alive():
            process.terminate()
            crashes.append(f"bot process {process.pid} did not exit and was terminated")
    return {
        "processes": [results[number] for number in sorted(results)],
        "crashes": crashes,
        "timeline": timeline,
        "window_cpu": {
            mark: {str(pid): [s.cpu_seconds, s.rss_bytes] for pid, s in samples.items()}
            for mark, samples in window_cpu.items()
        },
        "window_seconds": load.duration,
    }


def results_dir(base: Path | None) -> Path:
    if base is None:
        base = Path(__file__).parent / "results" / time.strftime("%Y%m%d-%H%M%S")
    base.mkdir(parents=True, exist_ok=True)
    return base

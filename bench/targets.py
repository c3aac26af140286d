"""The systems under load: a `pysfu serve` started for the run, a running server, or the C relay."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench import procstat

START_TIMEOUT = 30.0  # seconds for the server to print its URL
STOP_TIMEOUT = 10.0
BASELINE_SOURCE = Path(__file__).parent / "baseline" / "forwarder.c"
_LISTENING = re.compile(r"listening on (http://[^\s]+)")
_WORKER_LABEL = re.compile(r'worker="(\d+)"')


@dataclass
class Target:
    """Target of a run: the address the bots connect to and the processes whose CPU is measured."""

    kind: str  # "pysfu" or "baseline"
    server_url: str | None = None
    relay_address: tuple[str, int] | None = None
    forwarding_pids: list[int] = field(default_factory=list)  # media workers or the relay
    control_pids: list[int] = field(default_factory=list)  # the signaling process
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT if self.kind == "pysfu" else signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)


def _wait_for_line(log: Path, pattern: re.Pattern[str], process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with status {process.returncode}; see {log}")
        match = pattern.search(log.read_text(errors="replace"))
        if match:
            return match.group(1)
        time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"no line matching {pattern.pattern!r} in {log} after {START_TIMEOUT} s")


def start_server(workers: int, results: Path) -> Target:
    """Start `pysfu serve` on 127.0.0.1 with an ephemeral port in development mode."""
    log = results / "server.log"
    # Development mode needs no API key, so no PYSFU_* setting of the caller leaks in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYSFU_")}
    command = [
        sys.executable,
        "-m",
        "signaling.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--rtc-ip",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--log-format",
        "json",
        "--max-peers-per-room",
        "1000",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = _wait_for_line(log, _LISTENING, process)
    target = Target("pysfu", server_url=url, process=process, control_pids=[process.pid])
    deadline = time.monotonic() + START_TIMEOUT
    while len(target.forwarding_pids) < workers and time.monotonic() < deadline:
        target.forwarding_pids = [
            pid
            for pid in procstat.children(process.pid)
            if "-m workers" in procstat.command_line(pid)
        ]
        time.sleep(0.1)
    return target


def attach_server(url: str) -> Target:
    """Use a running server. Its worker pids come from the `worker` labels of /metrics."""
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError(f"invalid --server {url!r}: the bench only loads servers on 127.0.0.1")
    with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=5) as response:
        text = response.read().decode()
    pids = sorted({int(pid) for pid in _WORKER_LABEL.findall(text)})
    readable = [pid for pid in pids if procstat.sample(pid) is not None]
    return Target("pysfu", server_url=url.rstrip("/"), forwarding_pids=readable)


def build_relay(results: Path) -> Path:
    """Compile the C relay with the system compiler (`cc`) into the results folder."""
    binary = results / "forwarder"
    compiler = os.environ.get("CC", "cc")
    subprocess.run(
        [compiler, "-O2", "-Wall", "-Wextra", "-o", str(binary), str(BASELINE_SOURCE)],
        check=True,
        timeout=60,
    )
    return binary


def start_relay(results: Path) -> Target:
    binary = build_relay(results)
    log = results / "relay.log"
    with log.open("wb") as output:
        process = subprocess.Popen([str(binary), "0"], stdout=output, stderr=subprocess.STDOUT)
    port = int(_wait_for_line(log, re.compile(r"^(\d+)$", re.MULTILINE), process))
    return Target(
        "baseline",
        relay_address=("127.0.0.1", port),
        forwarding_pids=[process.pid],
        process=process,
    )

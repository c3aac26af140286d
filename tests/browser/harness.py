"""Helpers for the browser tests: build the web app, run `pysfu serve`, drive Chromium.

The fixtures in conftest.py and the screenshot script share these, so that the README
picture comes from the same server and pages as the tests.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium package, driven by Playwright over CDP. Playwright's launch() gives every
# browser a fresh temporary profile (--user-data-dir) and deletes it on close.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # In headless mode getDisplayMedia then returns a 1280x720 synthetic "screen:" source.
    "--auto-select-desktop-capture-source=Entire screen",
]
# Media ports of the test server, away from the default 10000..59999 of a developer's server.
RTC_PORTS = (47000, 47999)
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 10.0
BUILD_TIMEOUT = 600.0
# Files besides web/src whose change makes web/dist stale.
WEB_BUILD_INPUTS = ("index.html", "protocol-test.html", "package.json", "package-lock.json")
JOIN_TIMEOUT_MS = 20_000

T = TypeVar("T")


# ---- the web app -------------------------------------------------------------------------


def newest_mtime(paths: Sequence[Path]) -> float:
    """Return the newest modification time of the files under `paths`."""
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                newest = max(newest, file.stat().st_mtime)
    return newest


def web_build_needed() -> bool:
    index = WEB / "dist" / "index.html"
    if not (index.is_file() and (WEB / "dist" / "protocol-test.html").is_file()):
        return True
    inputs = [WEB / "src", *(WEB / name for name in WEB_BUILD_INPUTS)]
    return newest_mtime(inputs) > index.stat().st_mtime


def build_web_app() -> None:
    """Run `npm ci` and `npm run build` in web/ if web/dist is missing or older than its sources."""
    if not web_build_needed():
        return
    for command in (["npm", "ci", "--prefix", "web"], ["npm", "run", "build", "--prefix", "web"]):
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-4000:]
            raise RuntimeError(
                f"{' '.join(command)} failed with exit code {result.returncode}:\n{output}"
            )


# ---- the server --------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """`pysfu serve` in development mode on 127.0.0.1, as a subprocess."""

    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self) -> None:
        # Development mode needs no API key, so no PYSFU_* setting of the caller may leak in.
        env = {name: value for name, value in os.environ.items() if not name.startswith("PYSFU_")}
        command = [
            sys.executable,
            "-m",
            "signaling.cli",
            "serve",
            "--host=127.0.0.1",
            "--port=0",
            "--workers=1",
            "--rtc-ip=127.0.0.1",
            f"--rtc-min-port={RTC_PORTS[0]}",
            f"--rtc-max-port={RTC_PORTS[1]}",
            f"--web-dir={WEB / 'dist'}",
            "--log-format=json",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.url = self._wait_for_url()
        wait_until(self._healthy, SERVER_START_TIMEOUT, "GET /healthz returns 200")

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            match = re.search(
                r"listening on (http://\S+)", self.log_path.read_text(errors="replace")
            )
            if match:
                return match.group(1)
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"pysfu serve exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise RuntimeError(
            f"pysfu serve printed no URL in {SERVER_START_TIMEOUT} s:\n{self.log_tail()}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> int | None:
        """Send SIGTERM, wait for the exit, and return the exit code (None if it was killed)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.load(response)

    def metric(self, name: str) -> float:
        """Return the value of the unlabelled metric `name` from GET /metrics."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"GET /metrics has no metric {name!r}")


# ---- waiting -----------------------------------------------------------------------------


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25
) -> T:
    """Call `check` until it returns a true value, and return that value.

    Raises AssertionError naming `what` after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(interval)


# ---- browsers and pages ------------------------------------------------------------------


def launch_chromium(playwright: Playwright, extra_args: Sequence[str] = ()) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


def make_y4m(path: Path, width: int, height: int, fps: int = 15, seconds: int = 2) -> Path:
    """Write a test pattern video for --use-file-for-fake-video-capture, which loops it."""
    source = f"testsrc2=size={width}x{height}:rate={fps}"
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source),
            *("-t", str(seconds), "-pix_fmt", "yuv420p", str(path)),
        ],
        check=True,
        timeout=60,
    )
    return path


def unique_room(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class PageSet:
    """Browser contexts opened by one test, one per participant, with their console output."""

    contexts: list[BrowserContext] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def new_page(self, browser: Browser, label: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()

        def record(message: ConsoleMessage) -> None:
            self.console.append(f"[{label}] {message.type}: {message.text}")

        page.on("console", record)
        page.on("pageerror", lambda error: self.console.append(f"[{label}] pageerror: {error}"))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


def join_meeting(
    pages: PageSet,
    browser: Browser,
    server: ServerProcess,
    room: str,
    name: str,
    *,
    admin: bool = False,
    lang: str = "en",
    simulcast: bool = False,
) -> Page:
    """Open the app, join `room` from the lobby with a dev token, and wait for the own camera."""
    page = pages.new_page(browser, name)
    query = {"room": room, "name": name, "identity": name.lower(), "lang": lang}
    if admin:
        query["admin"] = "1"
    if simulcast:
        query["simulcast"] = "1"
    page.goto(f"{server.url}/?{urlencode(query)}")
    page.get_by_test_id("join-button").click()
    expect(page.get_by_test_id("leave-button")).to_be_visible(timeout=JOIN_TIMEOUT_MS)
    expect(page.get_by_test_id("local-video")).to_be_visible(timeout=JOIN_TIMEOUT_MS)
    expect(page.get_by_test_id("mic-toggle")).to_have_attribute("data-state", "on")
    return page


def peer_id(page: Page) -> str:
    value = page.evaluate("window.__pysfu.service.peerId")
    assert isinstance(value, str) and value, f"window.__pysfu.service.peerId is {value!r}"
    return value


# JavaScript that returns a list of receiver statistics, one object per consumer with at least
# consumerId, peerId, source, kind, packetsReceived and, for video, framesDecoded and frameWidth.
APP_STATS = "window.__pysfu.stats()"
PROTOCOL_STATS = (
    "window.__protocolTest.stats().then(s => s.consumers.map(c => ({...c, consumerId: c.id})))"
)


def receiver_stats(page: Page, script: str = APP_STATS) -> list[dict[str, Any]]:
    stats = page.evaluate(script)
    assert isinstance(stats, list), f"{script} returned {stats!r}"
    return stats


def wait_for_media(
    page: Page,
    *,
    peer: str,
    source: str,
    timeout: float = 20.0,
    script: str = APP_STATS,
) -> dict[str, Any]:
    """Wait until media of `peer`'s `source` flows, and return that consumer's last statistics.

    Flowing means that a later read of the same consumer counts more decoded frames (video)
    or received packets (audio) than an earlier one, and that video has a frame width above 0.
    """
    first: dict[str, Any] | None = None
    last_seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        last_seen = receiver_stats(page, script)
        entry = next(
            (
                item
                for item in last_seen
                if item.get("peerId") == peer and item.get("source") == source
            ),
            None,
        )
        if entry is not None:
            video = entry.get("kind") == "video"
            counter = "framesDecoded" if video else "packetsReceived"
            flowing = entry.get(counter, 0) > 0 and (not video or entry.get("frameWidth", 0) > 0)
            if first is None or first.get("consumerId") != entry.get("consumerId"):
                first = entry if flowing else None
            elif flowing and entry[counter] > first[counter]:
                return entry
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no rising media from peer {peer} source {source} within {timeout} s; "
                f"first read {first}, last statistics {last_seen}"
            )
        time.sleep(0.5)

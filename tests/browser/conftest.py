"""Fixtures of the browser tests: the built web app, one `pysfu serve` per module, Chromium.

The tests need Debian's chromium at /usr/bin/chromium and the `playwright` Python package
(its wheel contains the driver, so no browser is downloaded). If either is missing, the
tests fail with a message naming the install step: a skipped browser suite would hide a
broken install in CI.
"""

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

try:
    import playwright.sync_api
except ImportError as error:
    raise RuntimeError(
        "the playwright Python package is missing: run scripts/install-deps "
        "(pip install -e '.[test]')"
    ) from error

from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from tests.browser.harness import (
    CHROMIUM,
    WEB,
    PageSet,
    ServerProcess,
    build_web_app,
    launch_chromium,
    wait_until,
)

if not CHROMIUM.is_file():
    raise RuntimeError(
        f"no Chromium at {CHROMIUM}: install the Debian package chromium (scripts/install-deps)"
    )

# Assertions on page elements retry for 10 s, because Playwright's default 5 s is too short
# when other processes load the machine.
expect.set_options(timeout=10_000)
# Seconds that the server gets to drop the peers of a test after its pages closed.
PEERS_GONE_TIMEOUT = 10.0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keeps each phase's report on the item, so fixtures can print diagnostics after a failure.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def call_failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed


@pytest.fixture(scope="session")
def web_dist() -> Path:
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build web/dist (Debian packages nodejs and npm)")
    build_web_app()
    return WEB / "dist"


@pytest.fixture(scope="module")
def server(web_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("server") / "pysfu.log")
    try:
        process.start()
        yield process
    finally:
        code = process.stop()
    assert code == 0, f"pysfu serve exited with {code} after SIGTERM:\n{process.log_tail()}"


# Module scope, so that Playwright's event loop is gone before other modules' asyncio tests.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def pages(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[PageSet]:
    """Yield the pages of one test, then close them and wait until the server has no peer."""
    page_set = PageSet()
    yield page_set
    if call_failed(request):
        print("---- browser console ----", *page_set.console[-80:], sep="\n")
        print("---- pysfu serve log ----", server.log_tail(), sep="\n")
    page_set.close()
    wait_until(
        lambda: server.metric("pysfu_peers") == 0,
        PEERS_GONE_TIMEOUT,
        "pysfu_peers is 0 after the pages of the test closed",
    )

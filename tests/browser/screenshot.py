"""Take the README screenshot: the meeting page of one of two participants.

    python -m tests.browser.screenshot [--output docs/images/meeting.png] [--lang en]

Builds web/dist if it is stale, starts `pysfu serve` on 127.0.0.1, joins Alice and Bob
from two Chromium contexts with the fake camera, sends one chat message, and saves Alice's
page. Needs the same packages as the browser tests.
"""

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.harness import (
    ROOT,
    PageSet,
    ServerProcess,
    build_web_app,
    join_meeting,
    launch_chromium,
    peer_id,
    wait_for_media,
)

DEFAULT_OUTPUT = ROOT / "docs" / "images" / "meeting.png"
SCREENSHOT_HEIGHT = 540


def take_screenshot(output: Path, lang: str) -> None:
    build_web_app()
    with tempfile.TemporaryDirectory(prefix="pysfu-screenshot-") as folder:
        server = ServerProcess(Path(folder) / "pysfu.log")
        try:
            server.start()
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                pages = PageSet()
                alice = join_meeting(pages, browser, server, "demo", "Alice", lang=lang)
                bob = join_meeting(pages, browser, server, "demo", "Bob", lang=lang)
                wait_for_media(alice, peer=peer_id(bob), source="camera")
                bob.get_by_test_id("chat-input").fill("Hi Alice, I can see you.")
                bob.get_by_test_id("chat-send").click()
                alice.get_by_test_id("chat-message").wait_for()
                # The app leaves the lower part of a 1280x720 page empty with two tiles.
                alice.set_viewport_size({"width": 1280, "height": SCREENSHOT_HEIGHT})
                output.parent.mkdir(parents=True, exist_ok=True)
                alice.screenshot(path=str(output))
                pages.close()
                browser.close()
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG file to write")
    parser.add_argument("--lang", default="en", choices=["en", "zh-CN"], help="app language")
    args = parser.parse_args()
    take_screenshot(args.output, args.lang)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

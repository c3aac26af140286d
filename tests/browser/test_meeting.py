"""The meeting app in Chromium against `pysfu serve`: media, controls, chat and host actions.

Every participant is a browser context of its own that joins through the lobby with a
development token. Receiver statistics come from `window.__pysfu.stats()`.
"""

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from tests.browser.harness import (
    PageSet,
    ServerProcess,
    join_meeting,
    launch_chromium,
    make_y4m,
    peer_id,
    unique_room,
    wait_for_media,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)


def remote_video(page: Page, peer: str, source: str = "camera") -> Locator:
    return page.locator(
        f'[data-testid="remote-video"][data-peer-id="{peer}"][data-source="{source}"]'
    )


def member_entry(page: Page, peer: str) -> Locator:
    return page.locator(f'[data-testid="member-entry"][data-peer-id="{peer}"]')


def video_playing(video: Locator) -> bool:
    return bool(
        video.evaluate(
            "v => v.videoWidth > 0 && v.currentTime > 0 && !v.paused && v.readyState >= 2"
        )
    )


def join_pair(
    pages: PageSet, browser: Browser, server: ServerProcess, prefix: str
) -> tuple[Page, Page, str, str]:
    room = unique_room(prefix)
    alice = join_meeting(pages, browser, server, room, "Alice")
    bob = join_meeting(pages, browser, server, room, "Bob")
    return alice, bob, peer_id(alice), peer_id(bob)


def test_pair_sees_and_hears(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    alice, bob, alice_id, bob_id = join_pair(pages, browser, server, "pair")

    for viewer, other in ((alice, bob_id), (bob, alice_id)):
        video = remote_video(viewer, other)
        expect(video).to_be_visible()
        stats = wait_for_media(viewer, peer=other, source="camera")
        assert stats["frameWidth"] > 0
        assert stats["frameHeight"] > 0
        wait_until(partial(video_playing, video), 10, "the remote <video> plays")

        audio = viewer.locator(
            f'[data-testid="remote-audio"][data-peer-id="{other}"][data-source="microphone"]'
        )
        expect(audio).to_be_attached()
        wait_for_media(viewer, peer=other, source="microphone")
        expect(member_entry(viewer, other)).to_contain_text("Bob" if other == bob_id else "Alice")


def test_camera_off_and_on(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    alice, bob, _, bob_id = join_pair(pages, browser, server, "camera")
    wait_for_media(alice, peer=bob_id, source="camera")
    first_consumer = remote_video(alice, bob_id).get_attribute("data-consumer-id")

    bob.get_by_test_id("camera-toggle").click()
    expect(bob.get_by_test_id("camera-toggle")).to_have_attribute("data-state", "off")
    expect(remote_video(alice, bob_id)).to_have_count(0)
    placeholder = alice.locator(f'[data-testid="participant-placeholder"][data-peer-id="{bob_id}"]')
    expect(placeholder).to_be_visible()

    bob.get_by_test_id("camera-toggle").click()
    expect(bob.get_by_test_id("camera-toggle")).to_have_attribute("data-state", "on")
    expect(remote_video(alice, bob_id)).to_be_visible()
    expect(placeholder).to_have_count(0)
    assert remote_video(alice, bob_id).get_attribute("data-consumer-id") != first_consumer
    wait_for_media(alice, peer=bob_id, source="camera")


def test_microphone_mute_shows_remotely(
    browser: Browser, server: ServerProcess, pages: PageSet
) -> None:
    alice, bob, _, bob_id = join_pair(pages, browser, server, "mute")
    wait_for_media(alice, peer=bob_id, source="microphone")
    muted_in_list = member_entry(alice, bob_id).get_by_test_id("member-muted")
    muted_on_tile = alice.locator(
        f'[data-testid="remote-tile"][data-peer-id="{bob_id}"][data-source="camera"]'
    ).get_by_test_id("tile-muted")
    expect(muted_in_list).to_have_count(0)
    expect(muted_on_tile).to_have_count(0)

    bob.get_by_test_id("mic-toggle").click()
    expect(bob.get_by_test_id("mic-toggle")).to_have_attribute("data-state", "off")
    expect(muted_in_list).to_be_visible()
    expect(muted_on_tile).to_be_visible()

    bob.get_by_test_id("mic-toggle").click()
    expect(bob.get_by_test_id("mic-toggle")).to_have_attribute("data-state", "on")
    expect(muted_in_list).to_have_count(0)
    expect(muted_on_tile).to_have_count(0)
    wait_for_media(alice, peer=bob_id, source="microphone")


def test_screen_share_reaches_peer(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    alice, bob, alice_id, _ = join_pair(pages, browser, server, "screen")

    alice.get_by_test_id("screen-toggle").click()
    expect(alice.get_by_test_id("screen-toggle")).to_have_attribute("data-state", "on")
    expect(alice.get_by_test_id("local-screen")).to_be_visible()
    screen = remote_video(bob, alice_id, "screen")
    expect(screen).to_be_visible()
    stats = wait_for_media(bob, peer=alice_id, source="screen")
    assert stats["frameWidth"] > 0
    expect(remote_video(bob, alice_id, "camera")).to_be_visible()

    alice.get_by_test_id("screen-toggle").click()
    expect(alice.get_by_test_id("screen-toggle")).to_have_attribute("data-state", "off")
    expect(screen).to_have_count(0)


def test_chat_message_arrives(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    alice, bob, alice_id, _ = join_pair(pages, browser, server, "chat")
    text = "hello from Alice, 你好"

    alice.get_by_test_id("chat-input").fill(text)
    alice.get_by_test_id("chat-send").click()

    for page in (bob, alice):
        message = page.locator(f'[data-testid="chat-message"][data-peer-id="{alice_id}"]')
        expect(message).to_have_count(1)
        expect(message.get_by_test_id("chat-author")).to_have_text("Alice")
        expect(message.get_by_test_id("chat-text")).to_have_text(text)
    expect(alice.get_by_test_id("chat-input")).to_have_value("")


def test_host_mutes_microphone(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    room = unique_room("host-mute")
    host = join_meeting(pages, browser, server, room, "Host", admin=True)
    guest = join_meeting(pages, browser, server, room, "Guest")
    guest_id = peer_id(guest)
    wait_for_media(host, peer=guest_id, source="microphone")
    expect(guest.get_by_test_id("member-mute-button")).to_have_count(0)

    mute_button = member_entry(host, guest_id).get_by_test_id("member-mute-button")
    expect(mute_button).to_be_enabled()
    mute_button.click()

    notice = guest.get_by_test_id("muted-by-host-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Host")
    expect(guest.get_by_test_id("mic-toggle")).to_have_attribute("data-state", "off")
    expect(member_entry(host, guest_id).get_by_test_id("member-muted")).to_be_visible()
    expect(mute_button).to_be_disabled()


def test_host_removes_participant(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    room = unique_room("host-remove")
    host = join_meeting(pages, browser, server, room, "Host", admin=True)
    guest = join_meeting(pages, browser, server, room, "Guest")
    guest_id = peer_id(guest)
    expect(member_entry(host, guest_id)).to_be_visible()

    member_entry(host, guest_id).get_by_test_id("member-remove-button").click()

    notice = guest.get_by_test_id("removed-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Host")
    expect(guest.get_by_test_id("leave-button")).to_have_count(0)
    expect(member_entry(host, guest_id)).to_have_count(0)
    expect(remote_video(host, guest_id)).to_have_count(0)
    wait_until(lambda: server.metric("pysfu_peers") == 1, 10, "pysfu_peers is 1")


def test_leave_removes_peer(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    alice, bob, _, bob_id = join_pair(pages, browser, server, "leave")
    wait_until(lambda: server.metric("pysfu_peers") == 2, 10, "pysfu_peers is 2")
    expect(member_entry(alice, bob_id)).to_be_visible()

    bob.get_by_test_id("leave-button").click()

    expect(bob.get_by_test_id("join-button")).to_be_visible()
    wait_until(lambda: server.metric("pysfu_peers") == 1, 10, "pysfu_peers is 1 after the leave")
    expect(member_entry(alice, bob_id)).to_have_count(0)
    expect(remote_video(alice, bob_id)).to_have_count(0)


@pytest.fixture(scope="module")
def small_camera_browser(
    playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium whose fake camera plays a 320x240, 15 fps pattern.

    Four participants mean four encoders and twelve decoders, so the frames are kept small.
    """
    video: Path = make_y4m(tmp_path_factory.mktemp("camera") / "camera.y4m", 320, 240)
    browser = launch_chromium(playwright, [f"--use-file-for-fake-video-capture={video}"])
    yield browser
    browser.close()


@pytest.mark.timeout(150)
def test_four_participants(
    small_camera_browser: Browser, server: ServerProcess, pages: PageSet
) -> None:
    room = unique_room("four")
    names = ["Alice", "Bob", "Carol", "Dave"]
    members = [join_meeting(pages, small_camera_browser, server, room, name) for name in names]
    ids = [peer_id(page) for page in members]
    wait_until(lambda: server.metric("pysfu_peers") == 4, 10, "pysfu_peers is 4")

    for viewer, own_id in zip(members, ids, strict=True):
        cameras = viewer.locator('[data-testid="remote-video"][data-source="camera"]')
        expect(cameras).to_have_count(3)
        for other in ids:
            if other != own_id:
                stats = wait_for_media(viewer, peer=other, source="camera", timeout=30)
                assert stats["frameWidth"] == 320


def test_simulcast_camera_reaches_peer(
    browser: Browser, server: ServerProcess, pages: PageSet
) -> None:
    room = unique_room("simulcast")
    alice = join_meeting(pages, browser, server, room, "Alice", simulcast=True)
    bob = join_meeting(pages, browser, server, room, "Bob", simulcast=True)
    alice_id = peer_id(alice)
    stats = wait_for_media(bob, peer=alice_id, source="camera")
    assert stats["frameWidth"] > 0
    # Frames keep coming after the first ones, across any layer switch of the consumer.
    time.sleep(3)
    later = wait_for_media(bob, peer=alice_id, source="camera")
    assert later["framesDecoded"] > stats["framesDecoded"] + 30
    assert later["frameWidth"] > 0

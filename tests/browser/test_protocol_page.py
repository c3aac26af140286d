"""The protocol test page (mediasoup-client without the app) in Chromium against `pysfu serve`.

`/protocol-test.html` joins, publishes the fake camera and microphone, consumes what the
server offers, and reports through `window.__protocolTest`.
"""

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.harness import (
    PROTOCOL_STATS,
    PageSet,
    ServerProcess,
    unique_room,
    wait_for_media,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)

READY_TIMEOUT = 20.0
# Send-side bandwidth estimate (availableOutgoingBitrate) that a 1280x720 camera needs within
# BANDWIDTH_TIMEOUT seconds of its first packet.
MIN_AVAILABLE_BITRATE = 1_500_000
BANDWIDTH_TIMEOUT = 20.0
# Measured with Chromium 156 on loopback: with transport-cc and REMB removed from the SDP answer,
# the estimate grows by about 8 % a second from the 1 Mbit/s start bitrate (the server's
# x-google-start-bitrate) while receiver reports show no loss. It passes MIN_AVAILABLE_BITRATE
# after about 6 s and 3 Mbit/s after about 16 s. With transport-cc feedback the start-up probes
# measure the link, and the estimate is 5 to 6 Mbit/s half a second after the first packet.
# NOTE: in about one run of five the probes give no result, the estimate first drops to
# 0.5..0.9 Mbit/s and then stays near 1.25 Mbit/s, and this test fails.
PROBED_BITRATE = 3_000_000
PROBE_TIMEOUT = 5.0
SAMPLE_INTERVAL = 0.5

# Runs before the page's scripts. It replaces the video constraints of every getUserMedia call
# with exactly 1280x720, and keeps each RTCPeerConnection in window.__peerConnections so that
# the test can read the sender's getStats().
HD_CAMERA_AND_PEER_CONNECTIONS = """
(() => {
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.video) {
      constraints = { ...constraints, video: { width: { exact: 1280 }, height: { exact: 720 } } };
    }
    return getUserMedia(constraints);
  };
  const NativePeerConnection = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      window.__peerConnections.push(this);
    }
  };
})();
"""

# Returns the video sender's statistics, or null before it sends: the selected candidate pair's
# availableOutgoingBitrate, the outbound-rtp targetBitrate, bytesSent and frameWidth, and the
# captured width from the media-source entry.
SENDER_STATS = """
async () => {
  for (const pc of window.__peerConnections) {
    if (pc.connectionState === 'closed') continue;
    const report = await pc.getStats();
    let outbound = null;
    let pairId = null;
    let source = null;
    report.forEach((stat) => {
      if (stat.type === 'outbound-rtp' && stat.kind === 'video') outbound = stat;
      if (stat.type === 'media-source' && stat.kind === 'video') source = stat;
      if (stat.type === 'transport' && stat.selectedCandidatePairId) {
        pairId = stat.selectedCandidatePairId;
      }
    });
    if (!outbound) continue;
    const pair = pairId ? report.get(pairId) : null;
    return {
      timestamp: outbound.timestamp,
      availableOutgoingBitrate: pair?.availableOutgoingBitrate ?? 0,
      targetBitrate: outbound.targetBitrate ?? 0,
      bytesSent: outbound.bytesSent ?? 0,
      frameWidth: outbound.frameWidth ?? 0,
      sourceWidth: source?.width ?? 0,
      qualityLimitationReason: outbound.qualityLimitationReason ?? '',
    };
  }
  return null;
}
"""


def open_protocol_page(
    pages: PageSet,
    browser: Browser,
    server: ServerProcess,
    room: str,
    identity: str,
    init_script: str = "",
) -> Page:
    page = pages.new_page(browser, identity)
    if init_script:
        page.add_init_script(init_script)
    query = urlencode({"room": room, "identity": identity, "name": identity})
    page.goto(f"{server.url}/protocol-test.html?{query}")
    return page


def wait_ready(page: Page) -> dict[str, Any]:
    """Wait until the page's phase is "ready" and return its state. Fail at once on "error"."""

    def phase() -> dict[str, Any] | None:
        state = page.evaluate("window.__protocolTest && window.__protocolTest.state")
        if state and state["phase"] == "error":
            raise AssertionError(f"protocol test page failed: {state['error']}")
        return state if state and state["phase"] == "ready" else None

    return wait_until(phase, READY_TIMEOUT, "the protocol test page is ready")


def event_names(page: Page) -> list[str]:
    names = page.evaluate("window.__protocolTest.events.map(e => `${e.direction} ${e.name}`)")
    assert isinstance(names, list)
    return names


def test_two_pages_decode(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    room = unique_room("protocol")
    first = open_protocol_page(pages, browser, server, room, "first")
    first_state = wait_ready(first)
    second = open_protocol_page(pages, browser, server, room, "second")
    second_state = wait_ready(second)

    assert first_state["media"] == "getUserMedia"
    assert sorted(first_state["producers"]) == ["camera", "microphone"]
    assert [peer["id"] for peer in second_state["peers"]] == [first_state["peerId"]]

    for page, other in ((first, second_state["peerId"]), (second, first_state["peerId"])):
        stats = wait_for_media(page, peer=other, source="camera", script=PROTOCOL_STATS)
        assert stats["frameWidth"] == 640
        wait_for_media(page, peer=other, source="microphone", script=PROTOCOL_STATS)
        names = event_names(page)
        assert "in join:ack" in names
        assert names.count("in newConsumer") == 2
        assert names.count("out newConsumer:ack") == 2
    assert "in peerJoined" in event_names(first)


def sample_sender(page: Page, timeout: float, until_bitrate: int) -> list[dict[str, Any]]:
    """Read SENDER_STATS every SAMPLE_INTERVAL s, and return the samples.

    Sampling stops when the estimate exceeds `until_bitrate` or `timeout` s after the first
    sample with outbound video. Each sample gains `seconds` since that first sample and
    `sentKbps`, the send rate since the previous sample.
    """
    samples: list[dict[str, Any]] = []
    wait_until(lambda: page.evaluate(SENDER_STATS), READY_TIMEOUT, "the sender sends video")
    while True:
        sample = page.evaluate(SENDER_STATS)
        assert sample, "the sender's RTCPeerConnection stopped reporting outbound video"
        if samples:
            previous = samples[-1]
            elapsed_ms = sample["timestamp"] - previous["timestamp"]
            sent_bits = (sample["bytesSent"] - previous["bytesSent"]) * 8
            sample["sentKbps"] = round(sent_bits / elapsed_ms) if elapsed_ms > 0 else 0
        origin = samples[0]["timestamp"] if samples else sample["timestamp"]
        sample["seconds"] = round((sample["timestamp"] - origin) / 1000, 1)
        samples.append(sample)
        if sample["availableOutgoingBitrate"] > until_bitrate or sample["seconds"] >= timeout:
            return samples
        time.sleep(SAMPLE_INTERVAL)


def first_above(samples: list[dict[str, Any]], bitrate: int) -> float | None:
    """Return the `seconds` of the first sample whose estimate exceeds `bitrate`, or None."""
    for sample in samples:
        if sample["availableOutgoingBitrate"] > bitrate:
            return float(sample["seconds"])
    return None


def test_sender_bandwidth_estimate(browser: Browser, server: ServerProcess, pages: PageSet) -> None:
    room = unique_room("bandwidth")
    page = open_protocol_page(
        pages, browser, server, room, "sender", init_script=HD_CAMERA_AND_PEER_CONNECTIONS
    )
    wait_ready(page)

    samples = sample_sender(page, BANDWIDTH_TIMEOUT, until_bitrate=PROBED_BITRATE)
    summary = [
        (
            sample["seconds"],
            sample["availableOutgoingBitrate"],
            sample["targetBitrate"],
            sample.get("sentKbps"),
            sample["frameWidth"],
            sample["qualityLimitationReason"],
        )
        for sample in samples
    ]
    columns = "seconds, available bit/s, target bit/s, sent kbit/s, encoded width, limitation"
    detail = f"({columns}): {summary}"
    # The encoder may start below the camera's width while its bitrate is low.
    assert samples[-1]["sourceWidth"] == 1280, detail

    above_min = first_above(samples, MIN_AVAILABLE_BITRATE)
    assert above_min is not None, f"estimate stayed <= {MIN_AVAILABLE_BITRATE}; {detail}"
    assert above_min <= BANDWIDTH_TIMEOUT, detail

    probed = first_above(samples, PROBED_BITRATE)
    no_probe = f"estimate did not exceed {PROBED_BITRATE} bit/s within {PROBE_TIMEOUT} s, as it "
    no_probe += f"does when the server sends transport-cc feedback; {detail}"
    assert probed is not None, no_probe
    assert probed <= PROBE_TIMEOUT, no_probe

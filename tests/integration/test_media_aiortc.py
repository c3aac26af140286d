"""Media through pysfu between independent WebRTC clients: pymediasoup 1.5.0 on aiortc.

Each call publishes a 320x240 VP8 pattern at 30 fps and an Opus sine wave, consumes
both on a second device, and measures for MEASURED_SECONDS after the first decoded
frames (tests/media_client.py). The video check matches decoded frames to sent ones by
the frame number drawn into each image, so a duplicated or stale frame cannot count.
"""

from typing import Any

import numpy as np
import pytest

from sfu import Router, Worker
from tests.integration.conftest import LISTEN_UDP
from tests.media_client import (
    MARKER_INDEX_MODULO,
    VIDEO_HEIGHT,
    VIDEO_WIDTH,
    CallMedia,
    CallResult,
    Publisher,
    Subscriber,
    close_all,
    draw_frame_marker,
    read_frame_marker,
    run_call,
    run_direct_call,
)

pytestmark = pytest.mark.timeout(30)

LISTEN_TCP = [{"protocol": "tcp", "ip": "127.0.0.1"}]
MEASURED_SECONDS = 4.0
MIN_VIDEO_RATIO = 0.9
# Audio is counted by arrival time, not matched frame by frame, so the bound is loose.
MIN_AUDIO_RATIO = 0.8


def check_media(result: CallResult) -> None:
    assert result.first_video_seconds is not None, f"no video frame decoded: {result}"
    assert result.first_audio_seconds is not None, f"no audio frame decoded: {result}"
    assert result.video_frames_sent > 0, result
    assert result.video_ratio >= MIN_VIDEO_RATIO, result
    assert set(result.video_resolutions) == {(VIDEO_WIDTH, VIDEO_HEIGHT)}, result
    assert result.video_markers_unreadable == 0, result
    assert result.audio_frames_received >= MIN_AUDIO_RATIO * result.audio_frames_sent, result
    assert result.audio_frames_audible == result.audio_frames_received, result


def check_protocol(result: CallResult, protocol: str) -> None:
    assert result.states["send_transport.protocol"] == protocol, result.states
    assert result.states["recv_transport.protocol"] == protocol, result.states


async def test_call_udp(router: Router) -> None:
    result = await run_call(
        router, transport_options={"listen_infos": LISTEN_UDP}, duration=MEASURED_SECONDS
    )
    check_media(result)
    check_protocol(result, "udp")


async def test_call_ice_tcp(router: Router) -> None:
    options: dict[str, Any] = {
        "listen_infos": LISTEN_TCP,
        "enable_udp": False,
        "enable_tcp": True,
    }
    result = await run_call(router, transport_options=options, duration=MEASURED_SECONDS)
    check_media(result)
    check_protocol(result, "tcp")


async def test_call_webrtc_server(worker: Worker, router: Router) -> None:
    server = await worker.create_webrtc_server(listen_infos=LISTEN_UDP + LISTEN_TCP)
    result = await run_call(
        router, transport_options={"webrtc_server": server}, duration=MEASURED_SECONDS
    )
    check_media(result)
    # aiortc gathers UDP candidates only, and the harness adds a TCP candidate only when
    # pysfu offers no UDP candidate, so this call uses the UDP port of the server.
    check_protocol(result, "udp")
    dump = await server.dump()
    assert dump["webRtcTransportIds"] == []


async def test_call_webrtc_server_tcp(worker: Worker, router: Router) -> None:
    server = await worker.create_webrtc_server(listen_infos=LISTEN_UDP + LISTEN_TCP)
    options: dict[str, Any] = {"webrtc_server": server, "enable_udp": False, "enable_tcp": True}
    probe = await router.create_webrtc_transport(**options)
    probe.close()
    assert [candidate["protocol"] for candidate in probe.ice_candidates] == ["tcp"]
    result = await run_call(router, transport_options=options, duration=MEASURED_SECONDS)
    check_media(result)
    check_protocol(result, "tcp")


async def test_signaling_accepted(router: Router) -> None:
    """pysfu and pymediasoup accept each other's parameters, checked without waiting for media."""
    send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    media = CallMedia()
    publisher = Publisher(media)
    subscriber = Subscriber(media)
    try:
        await publisher.open(router.rtp_capabilities, send)
        producers = await publisher.publish()
        await publisher.connected()
        await subscriber.open(router.rtp_capabilities, recv)
        consumers = [await subscriber.subscribe(producer) for producer in producers]
        await subscriber.connected()

        assert len(publisher.connect_calls) == 1
        assert publisher.connect_calls[0]["role"] == "server"
        assert send.dtls_parameters["role"] == "client"
        assert len(subscriber.connect_calls) == 1
        assert subscriber.connect_calls[0]["role"] == "client"
        assert recv.dtls_parameters["role"] == "server"

        assert [kind for kind, _ in publisher.produce_calls] == ["video", "audio"]
        assert [producer.kind for producer in producers] == ["video", "audio"]
        assert [producer.type for producer in producers] == ["simple", "simple"]
        video_parameters = publisher.produce_calls[0][1]
        assert [codec["mimeType"] for codec in video_parameters["codecs"]] == [
            "video/VP8",
            "video/rtx",
        ]
        assert producers[0].rtp_parameters["encodings"] == video_parameters["encodings"]
        assert publisher.produce_calls[1][1]["codecs"][0]["mimeType"] == "audio/opus"

        assert [consumer.kind for consumer in consumers] == ["video", "audio"]
        assert [consumer.rtp_parameters["mid"] for consumer in consumers] == ["0", "1"]
        assert [c.track.kind for c in subscriber.client_consumers] == ["video", "audio"]
        check_recv_sdp(subscriber.peer_connection.remoteDescription.sdp, consumers)
        assert subscriber.peer_connection.signalingState == "stable"
        answer = subscriber.peer_connection.localDescription.sdp
        assert answer.count("a=recvonly") == 3  # video, audio and the probator
    finally:
        await close_all([subscriber.close, publisher.close, media.close], [send.close, recv.close])


def check_recv_sdp(offer: str, consumers: list[Any]) -> None:
    """Check the remote offer that pymediasoup built from pysfu's consumer parameters."""
    assert "a=ice-lite" in offer
    assert "a=group:BUNDLE 0 probator 1" in offer
    video, audio = (consumer.rtp_parameters for consumer in consumers)
    video_type = video["codecs"][0]["payloadType"]
    rtx_type = video["codecs"][1]["payloadType"]
    assert f"a=rtpmap:{video_type} VP8/90000" in offer
    assert f"a=fmtp:{rtx_type} apt={video_type}" in offer
    video_ssrc = video["encodings"][0]["ssrc"]
    rtx_ssrc = video["encodings"][0]["rtx"]["ssrc"]
    assert f"a=ssrc-group:FID {video_ssrc} {rtx_ssrc}" in offer
    assert f"a=rtpmap:{audio['codecs'][0]['payloadType']} opus/48000/2" in offer
    assert f"a=ssrc:{audio['encodings'][0]['ssrc']} cname:" in offer


async def test_harness_direct_call() -> None:
    """The same media between two aiortc peers without pysfu meets the same bounds."""
    result = await run_direct_call(duration=MEASURED_SECONDS)
    check_media(result)


@pytest.mark.parametrize("index", [0, 1, 1234, MARKER_INDEX_MODULO - 1, MARKER_INDEX_MODULO])
def test_marker_round_trip(index: int) -> None:
    luma = np.full((VIDEO_HEIGHT, VIDEO_WIDTH), 128, dtype=np.uint8)
    draw_frame_marker(luma, index)
    assert read_frame_marker(luma) == index % MARKER_INDEX_MODULO


def test_marker_rejects_flipped_bit() -> None:
    luma = np.full((VIDEO_HEIGHT, VIDEO_WIDTH), 128, dtype=np.uint8)
    draw_frame_marker(luma, 1234)
    luma[:16, :16] = 255 - luma[:16, :16]
    assert read_frame_marker(luma) is None

"""Statistics, scores and trace events of transports, producers and consumers in a call."""

import asyncio
import socket
from typing import Any

from sfu import Router, WebRtcTransport, Worker
from tests.integration.conftest import LISTEN_UDP
from tests.media_client import SIGNALING_TIMEOUT, CallMedia, Publisher, Subscriber, close_all


async def test_call_stats_and_traces(router: Router) -> None:
    media = CallMedia()
    publisher = Publisher(media)
    subscriber = Subscriber(media)
    transports: list[WebRtcTransport] = []
    producer_traces: list[dict[str, Any]] = []
    consumer_traces: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            recv = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            transports += [send, recv]
            await publisher.open(router.rtp_capabilities, send)
            await subscriber.open(router.rtp_capabilities, recv)
            producers = await publisher.publish()
            video = next(p for p in producers if p.kind == "video")
            video.on("trace", producer_traces.append)
            await video.enable_trace_event(["keyframe", "pli", "sr"])
            consumer = await subscriber.subscribe(video)
            consumer.on("trace", consumer_traces.append)
            await consumer.enable_trace_event(["keyframe"])
        await publisher.connected()
        await subscriber.connected()
        await media.measure(subscriber.resume_times, 2.0, dict)
        await consumer.request_key_frame()
        await asyncio.sleep(1.5)
        transport_stats = (await send.get_stats())[0]
        producer_stats = (await video.get_stats())[0]
        consumer_entries = await consumer.get_stats()
        consumer_stats = consumer_entries[0]
        scores = video.score
    finally:
        await close_all(
            [subscriber.close, publisher.close, media.close],
            [transport.close for transport in transports],
        )
    assert transport_stats["iceState"] == "completed"
    assert transport_stats["dtlsState"] == "connected"
    assert transport_stats["rtpPacketsReceived"] > 50
    assert transport_stats["bytesReceived"] > 10_000
    assert producer_stats["packetCount"] > 50
    assert producer_stats["bitrate"] > 0
    assert producer_stats["mimeType"] == "video/VP8"
    assert [entry["type"] for entry in consumer_entries] == ["outbound-rtp", "inbound-rtp"]
    assert consumer_entries[1]["ssrc"] == producer_stats["ssrc"]
    assert transport_stats["recvBitrate"] > 0
    assert consumer_stats["packetCount"] > 50
    assert consumer_stats["byteCount"] > 10_000
    assert [entry["encodingIdx"] for entry in scores] == [0]
    assert 0 <= scores[0]["score"] <= 10
    produced_types = {trace["type"] for trace in producer_traces}
    assert {"keyframe", "pli", "sr"} <= produced_types, produced_types
    assert all(
        trace["direction"] == "in" for trace in producer_traces if trace["type"] == "keyframe"
    )
    assert any(
        trace["type"] == "keyframe" and trace["direction"] == "out" for trace in consumer_traces
    )


async def test_media_counters_survive_close(router: Router, worker: Worker) -> None:
    send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    before = await worker.get_media_counters()
    assert before["rtpPacketsReceived"] == 0
    # Bytes that reach the transport but are not STUN from a known peer are dropped.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(5):
            probe.sendto(b"\x80" * 40, ("127.0.0.1", send.ice_candidates[0]["port"]))
        for _ in range(100):
            counters = await worker.get_media_counters()
            if counters.get("dropped.unvalidated_tuple", 0) >= 5:
                break
            await asyncio.sleep(0.01)
    finally:
        probe.close()
    assert counters["bytesReceived"] == 200
    send.close()
    after = await worker.get_media_counters()
    assert after["bytesReceived"] == 200
    assert after["dropped.unvalidated_tuple"] == 5

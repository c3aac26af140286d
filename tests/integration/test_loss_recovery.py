"""NACK and RTX recover a real call over links that lose and reorder 5 % of the media."""

import asyncio

from sfu import Router, WebRtcTransport
from tests.integration.conftest import LISTEN_UDP
from tests.lossy_relay import LossyUdpRelay
from tests.media_client import SIGNALING_TIMEOUT, CallMedia, Publisher, Subscriber, close_all

LOSS = 0.05
REORDER = 0.05


async def test_call_over_lossy_links(router: Router) -> None:
    media = CallMedia()
    publisher = Publisher(media)
    subscriber = Subscriber(media)
    transports: list[WebRtcTransport] = []
    relays: list[LossyUdpRelay] = []
    try:
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            recv = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            transports += [send, recv]
            for client, transport, seed in ((publisher, send, 1), (subscriber, recv, 2)):
                port = transport.ice_candidates[0]["port"]
                relay = LossyUdpRelay(("127.0.0.1", port), loss=LOSS, reorder=REORDER, seed=seed)
                await relay.start()
                relays.append(relay)
                client.candidate_filter = relay.rewrite_candidates
            await publisher.open(router.rtp_capabilities, send)
            await subscriber.open(router.rtp_capabilities, recv)
            producers = await publisher.publish()
            consumers = [await subscriber.subscribe(producer) for producer in producers]
        await publisher.connected()
        await subscriber.connected()
        result = await media.measure(subscriber.resume_times, 8.0, dict)
        await asyncio.sleep(1.5)  # one more receiver report from each side
        video_producer = next(p for p in producers if p.kind == "video")
        video_consumer = next(c for c in consumers if c.kind == "video")
        producer_stats = (await video_producer.get_stats())[0]
        consumer_stats = (await video_consumer.get_stats())[0]
    finally:
        await close_all(
            [subscriber.close, publisher.close, media.close],
            [transport.close for transport in transports],
        )
        for relay in relays:
            relay.close()
    uplink, downlink = relays
    assert uplink.dropped["up"] > 20, uplink.dropped
    assert downlink.dropped["down"] > 20, downlink.dropped
    assert result.video_ratio >= 0.95, result
    assert set(result.video_resolutions) == {(320, 240)}
    # The worker saw the uplink loss and asked for the packets again.
    assert producer_stats["nackCount"] > 0, producer_stats
    assert producer_stats["packetsRepaired"] > 0, producer_stats
    # The subscriber's NACKs reached the consumer, which resent packets.
    assert consumer_stats["nackCount"] > 0, consumer_stats
    assert consumer_stats["packetsRetransmitted"] > 0, consumer_stats

"""A producer on one worker reaches a subscriber on another worker through pipe transports."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from sfu import InvalidParameterError, Router, WebRtcTransport, Worker, create_worker
from tests.events import EventLog
from tests.integration.conftest import LISTEN_UDP
from tests.media_client import SIGNALING_TIMEOUT, CallMedia, Publisher, Subscriber, close_all
from tests.media_parameters import MEDIA_CODECS, opus_producer_parameters


@pytest.fixture
async def second_worker() -> AsyncIterator[Worker]:
    worker = await create_worker()
    yield worker
    worker.close()
    await worker.wait_closed()


@pytest.mark.parametrize("enable_srtp", [False, True], ids=["plain", "srtp"])
async def test_piped_call_decodes(router: Router, second_worker: Worker, enable_srtp: bool) -> None:
    remote_router = await second_worker.create_router(media_codecs=MEDIA_CODECS)
    media = CallMedia()
    publisher = Publisher(media)
    subscriber = Subscriber(media)
    transports: list[WebRtcTransport] = []
    try:
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            recv = await remote_router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            transports += [send, recv]
            await publisher.open(router.rtp_capabilities, send)
            await subscriber.open(remote_router.rtp_capabilities, recv)
            for producer in await publisher.publish():
                piped = await router.pipe_to_router(
                    producer_id=producer.id, router=remote_router, enable_srtp=enable_srtp
                )
                assert piped.pipe_producer.id == producer.id
                assert piped.pipe_consumer.type == "pipe"
                await subscriber.subscribe(piped.pipe_producer)
        await publisher.connected()
        await subscriber.connected()
        result = await media.measure(subscriber.resume_times, 4.0, dict)
    finally:
        await close_all(
            [subscriber.close, publisher.close, media.close],
            [transport.close for transport in transports],
        )
    assert result.video_ratio >= 0.9, result
    assert set(result.video_resolutions) == {(320, 240)}
    assert result.audio_frames_received >= 0.8 * result.audio_frames_sent, result


async def test_pipe_follows_original_producer(router: Router, second_worker: Worker) -> None:
    remote_router = await second_worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    producer = await send.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    other = await send.produce(kind="audio", rtp_parameters=opus_producer_parameters(7, "1"))
    piped = await router.pipe_to_router(producer_id=producer.id, router=remote_router)
    await router.pipe_to_router(producer_id=other.id, router=remote_router)
    assert len((await router.dump())["transportIds"]) == 2
    with pytest.raises(InvalidParameterError, match="already in use"):
        await router.pipe_to_router(producer_id=producer.id, router=remote_router)
    assert len((await router.dump())["mapConsumerIdProducerId"]) == 2
    await producer.pause()
    for _ in range(100):
        if piped.pipe_producer.paused:
            break
        await asyncio.sleep(0.01)
    assert piped.pipe_producer.paused
    log = EventLog()
    log.watch("pipe_consumer", piped.pipe_consumer, "producerclose")
    log.watch("pipe_producer", piped.pipe_producer.observer, "close")
    producer.close()
    assert log.entries[:2] == [
        ("pipe_consumer", "producerclose"),
        ("pipe_producer", "close"),
    ]
    remote_dump = await remote_router.dump()
    remote_producer_ids = [entry["key"] for entry in remote_dump["mapProducerIdConsumerIds"]]
    assert remote_producer_ids == [other.id]


async def test_pipe_to_same_router_rejected(router: Router) -> None:
    send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    producer = await send.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    with pytest.raises(InvalidParameterError, match="same router"):
        await router.pipe_to_router(producer_id=producer.id, router=router)

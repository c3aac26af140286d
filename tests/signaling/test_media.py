"""Real media through `pysfu serve`: pymediasoup 1.5.0 devices signalled over socket.io.

The publisher sends the VP8 test pattern and the Opus sine wave of tests/media_client.py.
The subscriber consumes both when the server sends `newConsumer`, acknowledges, and must
then decode frames whose drawn frame numbers are readable.
"""

import asyncio
from typing import Any

import pytest
from pymediasoup import AiortcHandler, Device  # type: ignore[import-untyped]
from pymediasoup.rtp_parameters import RtpCapabilities  # type: ignore[import-untyped]

from tests.media_client import NO_ICE_SERVERS, CallMedia
from tests.signaling.client import RoomClient
from tests.signaling.conftest import RunningServer, eventually

pytestmark = pytest.mark.timeout(40)

FIRST_FRAME_TIMEOUT = 10.0
STEP_TIMEOUT = 10.0


class SignalledDevice:
    """A pymediasoup Device whose transports are signalled through a RoomClient."""

    def __init__(self, client: RoomClient) -> None:
        self.client = client
        self.device: Any = None
        self.transports: list[Any] = []
        self.connect_tasks: list[asyncio.Task[None]] = []

    async def load(self) -> None:
        answer = await self.client.ok("getRouterRtpCapabilities")
        self.device = Device(handlerFactory=AiortcHandler.createFactory(tracks=[]))
        await self.device.load(RtpCapabilities.model_validate(answer["rtpCapabilities"]))

    async def join(self) -> dict[str, Any]:
        capabilities = self.device.recvRtpCapabilities.model_dump(mode="json", exclude_none=True)
        return await self.client.ok("join", {"rtpCapabilities": capabilities})

    async def transport(self, direction: str) -> Any:
        parameters = await self.client.ok("createWebRtcTransport", {"direction": direction})
        create = (
            self.device.createSendTransport
            if direction == "send"
            else self.device.createRecvTransport
        )
        transport = create(**parameters, sctpParameters=None, iceServers=NO_ICE_SERVERS)
        self.transports.append(transport)

        def on_connect(dtls_parameters: Any) -> None:
            # pymediasoup does not wait for this handler, so the request runs in a task.
            payload = {
                "transportId": parameters["id"],
                "dtlsParameters": dtls_parameters.model_dump(mode="json", exclude_none=True),
            }
            task = asyncio.create_task(self._connect(payload))
            self.connect_tasks.append(task)

        transport.on("connect", on_connect)
        return transport

    async def _connect(self, payload: dict[str, Any]) -> None:
        await self.client.ok("connectWebRtcTransport", payload)

    async def close(self) -> None:
        for task in self.connect_tasks:
            await asyncio.wait_for(task, STEP_TIMEOUT)
        for transport in self.transports:
            await asyncio.wait_for(transport.close(), STEP_TIMEOUT)


async def test_media_between_peers(running: RunningServer) -> None:
    media = CallMedia()
    publisher = SignalledDevice(await running.connect("publisher"))
    subscriber = SignalledDevice(await running.connect("subscriber"))
    offers: list[dict[str, Any]] = []
    try:
        await publisher.load()
        await subscriber.load()
        await publisher.join()
        await subscriber.join()
        receiver = await subscriber.transport("recv")

        async def on_new_consumer(offer: dict[str, Any]) -> Any:
            consumer = await receiver.consume(
                id=offer["id"],
                producerId=offer["producerId"],
                kind=offer["kind"],
                rtpParameters=offer["rtpParameters"],
            )
            media.read(consumer.track)
            offers.append(offer)
            return {}

        subscriber.client.on_new_consumer = on_new_consumer
        sender = await publisher.transport("send")

        async def on_produce(kind: str, rtp_parameters: Any, app_data: Any) -> str:
            answer = await publisher.client.ok(
                "produce",
                {
                    "transportId": sender.id,
                    "kind": kind,
                    "rtpParameters": rtp_parameters.model_dump(mode="json", exclude_none=True),
                    "source": app_data["source"],
                },
            )
            producer_id: str = answer["id"]
            return producer_id

        sender.on("produce", on_produce)
        codecs = publisher.device.sendRtpCapabilities.codecs
        vp8 = next(codec for codec in codecs if codec.mimeType.lower() == "video/vp8")
        await asyncio.wait_for(
            sender.produce(
                track=media.video_source, codec=vp8, stopTracks=False, appData={"source": "camera"}
            ),
            STEP_TIMEOUT,
        )
        await asyncio.wait_for(
            sender.produce(
                track=media.audio_source, stopTracks=False, appData={"source": "microphone"}
            ),
            STEP_TIMEOUT,
        )

        async def both_consumed() -> bool:
            return media.video_reader is not None and media.audio_reader is not None

        await eventually(both_consumed, STEP_TIMEOUT)
        assert media.video_reader is not None and media.audio_reader is not None
        async with asyncio.timeout(FIRST_FRAME_TIMEOUT):
            await media.video_reader.first_frame.wait()
            await media.audio_reader.first_frame.wait()
        # Let a few more frames arrive, so that more than the first key frame is decoded.
        await asyncio.sleep(0.5)

        assert sorted(offer["kind"] for offer in offers) == ["audio", "video"]
        video = media.video_reader.video_frames
        assert any(frame.index is not None for frame in video), video[:5]
        assert media.audio_reader.audio_frames
        stats = await subscriber.client.ok("getStats")
        assert sorted(consumer["paused"] for consumer in stats["consumers"]) == [False, False]
        _, metrics = await running.get("/metrics")
        samples = _samples(metrics)
        assert _total(samples, "pysfu_worker_rtp_packets_total", 'direction="in"') > 10
        assert _total(samples, "pysfu_worker_rtp_packets_total", 'direction="out"') > 10
        assert _total(samples, "pysfu_worker_bytes_total", 'direction="in"') > 1000
        assert "pysfu_worker_dropped_packets_total" in metrics
    finally:
        await subscriber.close()
        await publisher.close()
        await media.close()


def _samples(metrics: str) -> list[tuple[str, float]]:
    """Return (name and labels, value) for every sample line of a /metrics page."""
    samples = []
    for line in metrics.splitlines():
        if line and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            samples.append((head, float(value)))
    return samples


def _total(samples: list[tuple[str, float]], name: str, label: str) -> float:
    """Sum the samples of `name` that carry `label` (over all workers)."""
    return sum(value for head, value in samples if head.startswith(name + "{") and label in head)

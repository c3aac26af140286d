"""Bot processes: many publishers and subscribers on one uvloop event loop.

A bot process receives a `ProcessSpec` (which bots it runs and the shared schedule on the
CLOCK_MONOTONIC clock, which all processes of the host share), starts each bot at its ramp
time, sends media until the measured window ends, and puts progress dictionaries and one final
result dictionary on a multiprocessing queue.
"""

import asyncio
import contextlib
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
import uvloop

from bench import media
from bench.transport import BotTransport
from workers.certificate import Certificate
from workers.rtcp import GenericNack, Pli, read_compound

SIGNALING_TIMEOUT = 10.0  # seconds for one socket.io request
TICK = 0.005  # seconds between media scheduler passes
# Latency samples kept per process. When the list fills up, every other sample is dropped
# and only every second later one is kept, so the samples stay spread over the whole window.
MAX_LATENCY_SAMPLES = 400_000
PROGRESS_INTERVAL = 1.0

# Receive capabilities of a bot: Opus and VP8 with RTX, as the router offers them.
RECV_CAPABILITIES: dict[str, Any] = {
    "codecs": [
        {
            "kind": "audio",
            "mimeType": "audio/opus",
            "preferredPayloadType": 100,
            "clockRate": 48000,
            "channels": 2,
            "parameters": {},
            "rtcpFeedback": [],
        },
        {
            "kind": "video",
            "mimeType": "video/VP8",
            "preferredPayloadType": 101,
            "clockRate": 90000,
            "parameters": {},
            "rtcpFeedback": [
                {"type": "nack", "parameter": ""},
                {"type": "nack", "parameter": "pli"},
            ],
        },
        {
            "kind": "video",
            "mimeType": "video/rtx",
            "preferredPayloadType": 102,
            "clockRate": 90000,
            "parameters": {"apt": 101},
            "rtcpFeedback": [],
        },
    ],
    "headerExtensions": [],
}


def opus_parameters(ssrc: int) -> dict[str, Any]:
    return {
        "mid": "0",
        "codecs": [
            {
                "mimeType": "audio/opus",
                "payloadType": media.OPUS_PAYLOAD_TYPE,
                "clockRate": 48000,
                "channels": 2,
                "parameters": {"minptime": 10, "useinbandfec": 1},
                "rtcpFeedback": [],
            }
        ],
        "headerExtensions": [],
        "encodings": [{"ssrc": ssrc, "dtx": False}],
        "rtcp": {"cname": f"bench-{ssrc}", "reducedSize": True},
    }


def vp8_parameters(ssrc: int) -> dict[str, Any]:
    return {
        "mid": "1",
        "codecs": [
            {
                "mimeType": "video/VP8",
                "payloadType": media.VP8_PAYLOAD_TYPE,
                "clockRate": 90000,
                "parameters": {},
                "rtcpFeedback": [
                    {"type": "nack", "parameter": ""},
                    {"type": "nack", "parameter": "pli"},
                    {"type": "ccm", "parameter": "fir"},
                ],
            },
            {
                "mimeType": "video/rtx",
                "payloadType": media.RTX_PAYLOAD_TYPE,
                "clockRate": 90000,
                "parameters": {"apt": media.VP8_PAYLOAD_TYPE},
                "rtcpFeedback": [],
            },
        ],
        "headerExtensions": [],
        "encodings": [{"ssrc": ssrc, "rtx": {"ssrc": ssrc + 2}}],
        "rtcp": {"cname": f"bench-{ssrc}", "reducedSize": True},
    }


@dataclass
class BotSpec:
    index: int  # global, decides the ramp time
    room: int
    number: int  # within the room
    publisher: bool


@dataclass
class ProcessSpec:
    process: int
    bots: list[BotSpec]
    server_url: str | None  # None in baseline mode
    relay_address: tuple[str, int] | None  # the C relay, in baseline mode
    video: bool
    video_bitrate: int
    start_at: float  # time.monotonic() of the first join
    ramp: float  # joins per second, over all processes
    window_start_ns: int
    window_end_ns: int
    stop_at: float


@dataclass
class StreamCount:
    first: int
    last: int
    received: int = 0


@dataclass
class BotState:
    spec: BotSpec
    join_seconds: float | None = None
    error: str | None = None
    transport: BotTransport | None = None
    sio: socketio.AsyncClient | None = None
    audio: media.StreamSender | None = None
    video: media.StreamSender | None = None
    key_frame_due: bool = True
    next_audio: float = 0.0
    next_video: float = 0.0
    frame_index: int = 0
    streams: dict[int, StreamCount] = field(default_factory=dict)
    received_total: int = 0
    nacks: int = 0
    plis: int = 0
    retransmitted: int = 0


class BotProcess:
    """All bots of one process, their media scheduler and their counters."""

    def __init__(self, spec: ProcessSpec, queue: Any) -> None:
        self.spec = spec
        self.queue = queue
        self.certificate = Certificate.generate("pysfu-bench")
        self.bots = [BotState(bot) for bot in spec.bots]
        self.latencies = array("d")
        # [stride, packets seen]: one latency sample is kept every `stride` packets.
        self.latency_sampling = [1, 0]
        self.signaling_errors: list[str] = []
        self.key_size, self.delta_size = media.vp8_frame_sizes(spec.video_bitrate)
        self.http: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        self.http = aiohttp.ClientSession()
        tasks = [asyncio.create_task(self._start_bot(bot)) for bot in self.bots]
        sender = asyncio.create_task(self._send_media())
        progress = asyncio.create_task(self._report_progress())
        try:
            await asyncio.sleep(max(0.0, self.spec.stop_at - time.monotonic()))
        finally:
            sender.cancel()
            progress.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(sender, progress, *tasks, return_exceptions=True)
            await self._close_all()
            await self.http.close()
        self.queue.put(("result", self.spec.process, self._result()))

    # Joining

    async def _start_bot(self, bot: BotState) -> None:
        join_at = self.spec.start_at + bot.spec.index / self.spec.ramp
        await asyncio.sleep(max(0.0, join_at - time.monotonic()))
        started = time.monotonic()
        try:
            if self.spec.server_url is None:
                await self._join_relay(bot)
            else:
                await self._join_server(bot)
        except Exception as error:  # every failure of one bot is counted, the run goes on
            bot.error = f"{type(error).__name__}: {error}"
            self.signaling_errors.append(bot.error)
            return
        bot.join_seconds = time.monotonic() - started
        bot.next_audio = bot.next_video = time.monotonic()

    async def _join_relay(self, bot: BotState) -> None:
        assert self.spec.relay_address is not None
        bot.transport = await BotTransport.open(
            self.spec.relay_address, self._rtp_handler(bot), self._rtcp_handler(bot), plain=True
        )
        if bot.spec.publisher:
            self._make_senders(bot)
        else:
            # Registration datagram of the C relay: "SUB" and the room number.
            bot.transport.send_raw(b"SUB" + (bot.spec.room + 1).to_bytes(4, "big"))

    async def _request(self, bot: BotState, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert bot.sio is not None
        answer = await bot.sio.call(name, payload, timeout=SIGNALING_TIMEOUT)
        if not isinstance(answer, dict) or "data" not in answer:
            raise RuntimeError(f"{name} failed: {answer}")
        data: dict[str, Any] = answer["data"]
        return data

    async def _join_server(self, bot: BotState) -> None:
        assert self.http is not None and self.spec.server_url is not None
        url = self.spec.server_url
        identity = f"bot-{bot.spec.room}-{bot.spec.number}"
        query = {"room": f"bench-{bot.spec.room}", "identity": identity, "name": identity}
        async with self.http.get(f"{url}/api/dev-token", params=query) as response:
            response.raise_for_status()
            token = (await response.json())["token"]
        bot.sio = socketio.AsyncClient(reconnection=False)

        async def on_new_consumer(data: Any) -> dict[str, Any]:
            return {}

        async def on_disconnect(*args: Any) -> None:
            if time.monotonic() < self.spec.stop_at - 1.0:
                self.signaling_errors.append(f"{identity} disconnected")

        bot.sio.on("newConsumer", on_new_consumer)
        bot.sio.on("disconnect", on_disconnect)
        await bot.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        await self._request(bot, "getRouterRtpCapabilities", {})
        await self._request(bot, "join", {"rtpCapabilities": RECV_CAPABILITIES})
        direction = "send" if bot.spec.publisher else "recv"
        transport = await self._request(bot, "createWebRtcTransport", {"direction": direction})
        candidate = next(c for c in transport["iceCandidates"] if c["protocol"] == "udp")
        bot.transport = await BotTransport.open(
            (candidate["address"], candidate["port"]),
            self._rtp_handler(bot),
            self._rtcp_handler(bot),
            plain=False,
        )
        dtls = {"role": "client", "fingerprints": self.certificate.fingerprints()}
        await self._request(
            bot, "connectWebRtcTransport", {"transportId": transport["id"], "dtlsParameters": dtls}
        )
        await bot.transport.connect(
            self.certificate, transport["iceParameters"], transport["dtlsParameters"]
        )
        if bot.spec.publisher:
            self._make_senders(bot)
            assert bot.audio is not None
            await self._request(
                bot,
                "produce",
                {
                    "transportId": transport["id"],
                    "kind": "audio",
                    "rtpParameters": opus_parameters(bot.audio.ssrc),
                    "source": "microphone",
                },
            )
            if bot.video is not None:
                await self._request(
                    bot,
                    "produce",
                    {
                        "transportId": transport["id"],
                        "kind": "video",
                        "rtpParameters": vp8_parameters(bot.video.ssrc),
                        "source": "camera",
                    },
                )

    def _make_senders(self, bot: BotState) -> None:
        room, number = bot.spec.room, bot.spec.number
        ssrc = media.stream_ssrc(room, number, media.AUDIO)
        bot.audio = media.StreamSender(ssrc, media.OPUS_PAYLOAD_TYPE, 48000, ssrc)
        if self.spec.video:
            ssrc = media.stream_ssrc(room, number, media.VIDEO)
            bot.video = media.StreamSender(ssrc, media.VP8_PAYLOAD_TYPE, 90000, ssrc)

    # Receiving

    def _rtp_handler(self, bot: BotState) -> Any:
        counts = bot.streams
        latencies = self.latencies
        window_start = self.spec.window_start_ns
        window_end = self.spec.window_end_ns

        def on_rtp(packet: bytes) -> None:
            bot.received_total += 1
            if packet[1] & 0x7F == media.RTX_PAYLOAD_TYPE:
                return
            try:
                stream_id, counter, sent_ns = media.read_tail(packet)
            except ValueError:
                return
            if not window_start <= sent_ns < window_end:
                return
            count = counts.get(stream_id)
            if count is None:
                count = counts[stream_id] = StreamCount(counter, counter)
            elif counter > count.last:
                count.last = counter
            elif counter < count.first:
                count.first = counter
            count.received += 1
            sampling = self.latency_sampling
            sampling[1] += 1
            if sampling[1] % sampling[0]:
                return
            latencies.append((time.monotonic_ns() - sent_ns) / 1e6)
            if len(latencies) >= MAX_LATENCY_SAMPLES:
                del latencies[1::2]
                sampling[0] *= 2

        return on_rtp

    def _rtcp_handler(self, bot: BotState) -> Any:
        def on_rtcp(packet: bytes) -> None:
            if bot.video is None or bot.transport is None:
                return
            for item in read_compound(packet).packets:
                if isinstance(item, Pli):
                    bot.plis += 1
                    bot.key_frame_due = True
                elif isinstance(item, GenericNack):
                    bot.nacks += 1
                    for sequence in item.sequence_numbers():
                        rtx = bot.video.retransmission(sequence, bot.video.ssrc + 2)
                        if rtx is not None:
                            bot.transport.send_rtp(rtx)
                            bot.retransmitted += 1

        return on_rtcp

    # Sending

    async def _send_media(self) -> None:
        audio_step = media.AUDIO_PACKET_SECONDS
        video_step = 1.0 / media.VIDEO_FPS
        key_every = round(media.KEY_FRAME_INTERVAL_SECONDS * media.VIDEO_FPS)
        publishers = [bot for bot in self.bots if bot.spec.publisher]
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            now_ns = time.monotonic_ns()
            for bot in publishers:
                transport = bot.transport
                if bot.join_seconds is None or transport is None or bot.audio is None:
                    continue
                while bot.next_audio <= now:
                    timestamp = int(bot.next_audio * media.AUDIO_CLOCK_RATE)
                    transport.send_rtp(bot.audio.audio_packet(now_ns, timestamp))
                    bot.next_audio += audio_step
                if bot.video is None:
                    continue
                while bot.next_video <= now:
                    key = bot.key_frame_due or bot.frame_index % key_every == 0
                    bot.key_frame_due = False
                    size = self.key_size if key else self.delta_size
                    timestamp = int(bot.next_video * media.VIDEO_CLOCK_RATE)
                    for packet in bot.video.video_frame(now_ns, timestamp, key, size):
                        transport.send_rtp(packet)
                    bot.frame_index += 1
                    bot.next_video += video_step

    # Reporting

    def _totals(self) -> dict[str, Any]:
        return {
            "joined": sum(bot.join_seconds is not None for bot in self.bots),
            "failed": sum(bot.error is not None for bot in self.bots),
            "sent": sum(bot.transport.sent for bot in self.bots if bot.transport is not None),
            "received": sum(bot.received_total for bot in self.bots),
            "signaling_errors": len(self.signaling_errors),
        }

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            self.queue.put(("progress", self.spec.process, self._totals()))

    def _result(self) -> dict[str, Any]:
        subscribers = []
        for bot in self.bots:
            if bot.spec.publisher:
                continue
            expected = sum(c.last - c.first + 1 for c in bot.streams.values())
            received = sum(c.received for c in bot.streams.values())
            subscribers.append(
                {
                    "room": bot.spec.room,
                    "number": bot.spec.number,
                    "joined": bot.join_seconds is not None,
                    "streams": len(bot.streams),
                    "expected": expected,
                    "received": received,
                    "lost": max(0, expected - received),
                    "srtp_errors": bot.transport.srtp_errors if bot.transport else 0,
                }
            )
        publishers = [
            {
                "room": bot.spec.room,
                "number": bot.spec.number,
                "nacks": bot.nacks,
                "plis": bot.plis,
                "retransmitted": bot.retransmitted,
            }
            for bot in self.bots
            if bot.spec.publisher
        ]
        joins = [bot.join_seconds for bot in self.bots if bot.join_seconds is not None]
        return {
            "totals": self._totals(),
            "join_seconds": joins,
            "subscribers": subscribers,
            "publishers": publishers,
            "latencies_ms": self.latencies.tolist(),
            "signaling_errors": self.signaling_errors[:100],
        }

    async def _close_all(self) -> None:
        async def leave(bot: BotState) -> None:
            if bot.transport is not None:
                bot.transport.close()
            if bot.sio is not None and bot.sio.connected:
                with contextlib.suppress(Exception):
                    await bot.sio.call("leave", {}, timeout=2.0)
                with contextlib.suppress(Exception):
                    await bot.sio.disconnect()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10.0):
                await asyncio.gather(*(leave(bot) for bot in self.bots), return_exceptions=True)


def run_process(spec: ProcessSpec, queue: Any) -> None:
    """Entry point of one bot process (multiprocessing target)."""
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(BotProcess(spec, queue).run())
    except Exception as error:
        queue.put(("crash", spec.process, f"{type(error).__name__}: {error}"))

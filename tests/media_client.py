"""Independent WebRTC clients that send media through pysfu and measure what arrives.

A publisher and a subscriber are pymediasoup 1.5.0 devices (mediasoup-client's logic on
aiortc), each with one transport bound to a pysfu WebRtcTransport, signalled in-process
the way a mediasoup server signals mediasoup-client over JSON. The publisher sends a
VP8 test pattern and an Opus sine wave. The subscriber decodes both and reads the frame
number drawn into every video frame, so the harness can tell which sent frames arrived.

Every wait is bounded by a timeout, and `run_call` closes every peer, task and pysfu
transport it created, whether the call succeeds or fails.
"""

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import aioice.ice
import av
import numpy as np
import numpy.typing as npt
from aioice import stun
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
)
from aiortc.mediastreams import MediaStreamError
from pymediasoup import AiortcHandler, Device  # type: ignore[import-untyped]
from pymediasoup.rtp_parameters import RtpCapabilities  # type: ignore[import-untyped]

from sfu import Consumer, Producer, Router, WebRtcTransport

VIDEO_WIDTH = 320
VIDEO_HEIGHT = 240
VIDEO_FPS = 30
VIDEO_CLOCK_RATE = 90000
AUDIO_SAMPLE_RATE = 48000
AUDIO_SAMPLES_PER_FRAME = 960  # 20 ms at 48 kHz
AUDIO_TONE_HZ = 440.0
AUDIO_AMPLITUDE = 8192  # a quarter of the s16 full scale
# Decoded Opus frames with an RMS level below this count as silent. The sine wave
# has an RMS level of AUDIO_AMPLITUDE / sqrt(2), about 5800.
AUDIBLE_RMS = 1000.0

# The frame number is drawn as MARKER_BITS black or white squares of MARKER_BLOCK
# pixels along the top edge, aligned to VP8's 16x16 macroblocks so that the encoder
# keeps their edges sharp. 12 bits carry the frame number and 4 bits a checksum.
MARKER_BLOCK = 16
MARKER_BITS = 16
MARKER_INDEX_BITS = 12
MARKER_INDEX_MODULO = 1 << MARKER_INDEX_BITS
MARKER_BLACK = 16
MARKER_WHITE = 235
# NOTE: frame numbers wrap after 4096 frames (136 s at 30 fps), and the window
# arithmetic assumes calls shorter than that. So run_call accepts at most MAX_DURATION.
MAX_DURATION = 60.0

SIGNALING_TIMEOUT = 10.0  # seconds, for one setup step (device load, produce, consume)
FIRST_MEDIA_TIMEOUT = 8.0  # seconds from consumer resume to the first decoded frames
SETTLE_SECONDS = 0.5  # seconds between the first decoded frames and the measured window
DRAIN_TIMEOUT = 1.5  # seconds to wait for the last video frame of the measured window
CLOSE_TIMEOUT = 5.0  # seconds for each close step

# pymediasoup's aiortc handler leaves RTCConfiguration.iceServers at None, and aiortc
# then gathers against stun.l.google.com. The harness talks to 127.0.0.1 only.
NO_ICE_SERVERS: list[Any] = []


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


# aioice gathers host candidates on every interface except loopback, so a client would send
# from the machine's LAN address and pysfu would reply to that address. Tests keep all traffic on
# 127.0.0.1: the network is the edge these tests may fake.
aioice.ice.get_host_addresses = _loopback_host_addresses

Image = npt.NDArray[np.uint8]


def marker_checksum(index: int) -> int:
    """Return the 4-bit checksum of a 12-bit frame number (XOR of its nibbles)."""
    return (index ^ (index >> 4) ^ (index >> 8)) & 0xF


def draw_frame_marker(luma: Image, index: int) -> None:
    """Draw `index` modulo 4096 and its checksum into the top rows of a luma plane."""
    index %= MARKER_INDEX_MODULO
    word = (index << 4) | marker_checksum(index)
    for bit in range(MARKER_BITS):
        value = (word >> (MARKER_BITS - 1 - bit)) & 1
        left = bit * MARKER_BLOCK
        luma[:MARKER_BLOCK, left : left + MARKER_BLOCK] = MARKER_WHITE if value else MARKER_BLACK


def read_frame_marker(luma: Image) -> int | None:
    """Return the frame number drawn by `draw_frame_marker`, or None if the checksum fails.

    Each square is read from the mean of its central 8x8 pixels, so that coding noise
    at the square edges does not flip a bit.
    """
    if luma.shape[0] < MARKER_BLOCK or luma.shape[1] < MARKER_BLOCK * MARKER_BITS:
        return None
    word = 0
    inset = MARKER_BLOCK // 4
    for bit in range(MARKER_BITS):
        left = bit * MARKER_BLOCK
        square = luma[inset : MARKER_BLOCK - inset, left + inset : left + MARKER_BLOCK - inset]
        word = (word << 1) | int(square.mean() > (MARKER_BLACK + MARKER_WHITE) / 2)
    index = word >> 4
    if word & 0xF != marker_checksum(index):
        return None
    return index


class PatternVideoTrack(MediaStreamTrack):
    """A moving test pattern at a fixed frame rate, with the frame number in each frame.

    `send_times[i]` is the event loop time at which frame `i` was handed to the encoder.
    """

    kind = "video"

    def __init__(
        self, width: int = VIDEO_WIDTH, height: int = VIDEO_HEIGHT, fps: int = VIDEO_FPS
    ) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.fps = fps
        self.send_times: list[float] = []
        self._start: float | None = None
        rows, columns = np.mgrid[0:height, 0:width]
        self._diagonal = (rows + columns).astype(np.int32)
        self._chroma = np.full((height // 2, width), 128, dtype=np.uint8)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        index = len(self.send_times)
        if self._start is None:
            self._start = loop.time()
        await asyncio.sleep(max(0.0, self._start + index / self.fps - loop.time()))
        frame = av.VideoFrame.from_ndarray(self._render(index), format="yuv420p")
        frame.pts = index * VIDEO_CLOCK_RATE // self.fps
        frame.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        self.send_times.append(loop.time())
        return frame

    def _render(self, index: int) -> Image:
        """Return one yuv420p image: a sliding diagonal ramp and a square moving right."""
        luma = ((self._diagonal + 4 * index) % 256).astype(np.uint8)
        side = self.height // 6
        left = (index * 4) % (self.width - side)
        top = self.height // 2
        luma[top : top + side, left : left + side] = 255
        draw_frame_marker(luma, index)
        return np.concatenate([luma, self._chroma])


class SineAudioTrack(MediaStreamTrack):
    """A mono 440 Hz sine wave in 20 ms frames at 48 kHz, paced in real time.

    `send_times[i]` is the event loop time at which frame `i` was handed to the encoder.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.send_times: list[float] = []
        self._start: float | None = None
        self._offsets = np.arange(AUDIO_SAMPLES_PER_FRAME)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        index = len(self.send_times)
        if self._start is None:
            self._start = loop.time()
        frame_seconds = AUDIO_SAMPLES_PER_FRAME / AUDIO_SAMPLE_RATE
        await asyncio.sleep(max(0.0, self._start + index * frame_seconds - loop.time()))
        first_sample = index * AUDIO_SAMPLES_PER_FRAME
        phase = 2 * math.pi * AUDIO_TONE_HZ * (first_sample + self._offsets) / AUDIO_SAMPLE_RATE
        samples = (AUDIO_AMPLITUDE * np.sin(phase)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.pts = first_sample
        frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
        self.send_times.append(loop.time())
        return frame


@dataclass(frozen=True)
class DecodedVideoFrame:
    """One frame decoded by the subscriber."""

    arrival: float  # event loop time
    width: int
    height: int
    index: int | None  # frame number read from the marker, None if unreadable


@dataclass(frozen=True)
class DecodedAudioFrame:
    """One Opus frame decoded by the subscriber."""

    arrival: float  # event loop time
    samples: int  # per channel
    rms: float


class TrackReader:
    """A reader of one received track, which records every decoded frame in an owned task.

    The task ends when the track ends; `close()` cancels it. Any other error of
    `track.recv()` or of the frame analysis is raised again by `check()`.
    """

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.video_frames: list[DecodedVideoFrame] = []
        self.audio_frames: list[DecodedAudioFrame] = []
        self.first_frame = asyncio.Event()
        self._awaited_index: int | None = None
        self._awaited_index_decoded = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"read {track.kind} {track.id}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            arrival = loop.time()
            if isinstance(frame, av.VideoFrame):
                self._record_video(frame, arrival)
            elif isinstance(frame, av.AudioFrame):
                self._record_audio(frame, arrival)
            self.first_frame.set()

    def _record_video(self, frame: av.VideoFrame, arrival: float) -> None:
        index = None
        if (frame.width, frame.height) == (VIDEO_WIDTH, VIDEO_HEIGHT):
            luma = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
            index = read_frame_marker(luma)
        self.video_frames.append(DecodedVideoFrame(arrival, frame.width, frame.height, index))
        if index is not None and self._awaited_index is not None and index >= self._awaited_index:
            self._awaited_index_decoded.set()

    def _record_audio(self, frame: av.AudioFrame, arrival: float) -> None:
        samples = frame.to_ndarray().astype(np.float64)
        rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
        self.audio_frames.append(DecodedAudioFrame(arrival, frame.samples, rms))

    async def wait_for_index(self, index: int, timeout: float) -> None:
        """Wait until a frame numbered `index` or later was decoded, at most `timeout` s."""
        if any(f.index is not None and f.index >= index for f in self.video_frames):
            return
        self._awaited_index = index
        self._awaited_index_decoded.clear()
        try:
            await asyncio.wait_for(self._awaited_index_decoded.wait(), timeout)
        except TimeoutError:
            pass

    def check(self) -> None:
        """Raise the exception that ended the reading task, if any."""
        if self._task.done() and not self._task.cancelled():
            error = self._task.exception()
            if error is not None:
                raise error

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise
        self.track.stop()


@dataclass
class CallResult:
    """What one call sent and what its subscriber decoded.

    The measured window starts SETTLE_SECONDS after the subscriber decoded its first
    video and audio frames and lasts for the `duration` given to `run_call`. When the
    first frames do not arrive within FIRST_MEDIA_TIMEOUT, the window is the whole
    time since the consumers were resumed.
    """

    video_frames_sent: int  # handed to the VP8 encoder during the window
    video_frames_received: int  # of those, decoded at the published resolution
    video_resolutions: Counter[tuple[int, int]]  # (width, height) of every decoded frame
    audio_frames_sent: int  # handed to the Opus encoder during the window
    audio_frames_received: int  # decoded during the window
    audio_frames_audible: int  # of those, with an RMS level of at least AUDIBLE_RMS
    video_frames_sent_total: int
    video_frames_decoded_total: int
    audio_frames_decoded_total: int
    first_video_seconds: float | None  # from the consumer's resume to its first frame
    first_audio_seconds: float | None
    window_seconds: float
    video_markers_unreadable: int  # frames decoded at the published size, checksum failed
    # ICE and DTLS states and the selected ICE protocol of each transport, at the end.
    states: dict[str, str] = field(default_factory=dict)

    @property
    def video_ratio(self) -> float:
        """Fraction of the window's video frames that were decoded, 0.0 if none were sent."""
        if self.video_frames_sent == 0:
            return 0.0
        return self.video_frames_received / self.video_frames_sent


class CallMedia:
    """The sources a call sends and the readers of what its subscriber receives."""

    def __init__(self) -> None:
        self.video_source = PatternVideoTrack()
        self.audio_source = SineAudioTrack()
        self.video_reader: TrackReader | None = None
        self.audio_reader: TrackReader | None = None

    def read(self, track: MediaStreamTrack) -> TrackReader:
        """Start reading a received track of either kind."""
        reader = TrackReader(track)
        if track.kind == "video":
            self.video_reader = reader
        else:
            self.audio_reader = reader
        return reader

    async def measure(
        self,
        resume_times: dict[str, float],
        duration: float,
        states: Callable[[], dict[str, str]],
    ) -> CallResult:
        """Wait for the first frames, measure for `duration` seconds, and count.

        `resume_times` maps each kind to the event loop time at which its media was
        allowed to flow (the consumer resume), for the time-to-first-frame values.
        """
        loop = asyncio.get_running_loop()
        readers = [r for r in (self.video_reader, self.audio_reader) if r is not None]
        first_frames = asyncio.gather(*(reader.first_frame.wait() for reader in readers))
        media_flows = len(readers) == 2
        try:
            await asyncio.wait_for(first_frames, FIRST_MEDIA_TIMEOUT)
        except TimeoutError:
            media_flows = False
        if media_flows:
            window_start = loop.time() + SETTLE_SECONDS
            window_end = window_start + duration
            await asyncio.sleep(window_end - loop.time())
            last_index = _last_index_before(self.video_source.send_times, window_end)
            if self.video_reader is not None and last_index is not None:
                await self.video_reader.wait_for_index(last_index, DRAIN_TIMEOUT)
        else:
            window_start = min(resume_times.values(), default=loop.time())
            window_end = loop.time()
        for reader in readers:
            reader.check()
        return self._count(resume_times, window_start, window_end, states())

    def _count(
        self, resume_times: dict[str, float], start: float, end: float, states: dict[str, str]
    ) -> CallResult:
        video = self.video_reader.video_frames if self.video_reader else []
        audio = self.audio_reader.audio_frames if self.audio_reader else []
        window_indices = {
            index % MARKER_INDEX_MODULO
            for index, sent in enumerate(self.video_source.send_times)
            if start <= sent < end
        }
        published_size = [
            frame for frame in video if (frame.width, frame.height) == (VIDEO_WIDTH, VIDEO_HEIGHT)
        ]
        decoded_indices = {frame.index for frame in published_size if frame.index is not None}
        audio_in_window = [frame for frame in audio if start <= frame.arrival < end]
        return CallResult(
            video_frames_sent=len(window_indices),
            video_frames_received=len(window_indices & decoded_indices),
            video_resolutions=Counter((frame.width, frame.height) for frame in video),
            audio_frames_sent=_count_between(self.audio_source.send_times, start, end),
            audio_frames_received=len(audio_in_window),
            audio_frames_audible=sum(frame.rms >= AUDIBLE_RMS for frame in audio_in_window),
            video_frames_sent_total=len(self.video_source.send_times),
            video_frames_decoded_total=len(video),
            audio_frames_decoded_total=len(audio),
            first_video_seconds=video[0].arrival - resume_times["video"] if video else None,
            first_audio_seconds=audio[0].arrival - resume_times["audio"] if audio else None,
            window_seconds=end - start,
            video_markers_unreadable=sum(frame.index is None for frame in published_size),
            states=states,
        )

    async def close(self) -> None:
        self.video_source.stop()
        self.audio_source.stop()
        for reader in (self.video_reader, self.audio_reader):
            if reader is not None:
                await reader.close()


def _count_between(times: Iterable[float], start: float, end: float) -> int:
    return sum(start <= time < end for time in times)


def _last_index_before(times: list[float], end: float) -> int | None:
    indices = [index for index, time in enumerate(times) if time < end]
    return indices[-1] % MARKER_INDEX_MODULO if indices else None


class _Rfc4571Stream(asyncio.Protocol):
    """One TCP connection carrying packets with a 2-byte length prefix (RFC 4571 §2)."""

    def __init__(
        self, on_packet: Callable[[bytes], None], on_lost: Callable[[Exception | None], None]
    ) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._on_packet = on_packet
        self._on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            length = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + length:
                return
            packet = bytes(self._buffer[2 : 2 + length])
            del self._buffer[: 2 + length]
            if packet:
                self._on_packet(packet)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc)

    def send(self, packet: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(len(packet).to_bytes(2, "big") + packet)


class ActiveTcpStunProtocol(StunProtocol):
    """An ICE-TCP active candidate (RFC 6544 §4.1) for an aioice Connection.

    aioice 0.13 gathers UDP candidates only, so aiortc alone cannot reach a pysfu
    transport that listens on TCP only. This protocol opens one TCP connection per
    remote address when the first connectivity check is sent, and then carries STUN,
    DTLS, RTP and RTCP over it with RFC 4571 framing.

    NOTE: this relies on aioice internals (`Connection._protocols`, the StunProtocol
    contract) as of aioice 0.13.0.
    """

    def __init__(self, receiver: Connection, remote_host: str) -> None:
        super().__init__(receiver)
        self.local_candidate = Candidate(
            foundation=candidate_foundation("host", "tcp", remote_host),
            component=1,
            transport="tcp",
            priority=candidate_priority(1, "host"),
            # Only the address family matters, because connect() picks the source address.
            host=remote_host,
            port=9,  # RFC 6544 §4.5: active candidates advertise the discard port
            type="host",
            tcptype="active",
        )
        self._streams: dict[tuple[str, int], _Rfc4571Stream] = {}

    async def _stream(self, addr: tuple[str, int]) -> _Rfc4571Stream:
        existing = self._streams.get(addr)
        if existing is not None:
            return existing
        loop = asyncio.get_running_loop()

        def on_packet(packet: bytes) -> None:
            self.datagram_received(packet, addr)

        def on_lost(_error: Exception | None) -> None:
            if self._streams.pop(addr, None) is not None:
                self.receiver.protocol_lost(self)

        _, stream = await asyncio.wait_for(
            loop.create_connection(lambda: _Rfc4571Stream(on_packet, on_lost), *addr),
            SIGNALING_TIMEOUT,
        )
        self._streams[addr] = stream
        return stream

    async def request(
        self,
        request: stun.Message,
        addr: tuple[str, int],
        integrity_key: bytes | None = None,
        retransmissions: int | None = None,
    ) -> tuple[stun.Message, tuple[str, int]]:
        try:
            await self._stream(addr)
        except (OSError, TimeoutError) as error:
            # aioice marks the candidate pair failed on a TransactionError.
            raise stun.TransactionTimeout() from error
        return await super().request(request, addr, integrity_key, retransmissions)

    def send_stun(self, message: stun.Message, addr: tuple[str, int]) -> None:
        stream = self._streams.get(addr)
        if stream is not None:
            stream.send(bytes(message))

    async def send_data(self, data: bytes, addr: tuple[str, int]) -> None:
        stream = self._streams.get(addr)
        if stream is not None:
            stream.send(data)

    async def close(self) -> None:
        streams = list(self._streams.values())
        self._streams.clear()
        for stream in streams:
            if stream.transport is not None:
                stream.transport.close()


def client_transport_parameters(transport: WebRtcTransport) -> dict[str, Any]:
    """Return the parameters a mediasoup server sends for `device.create*Transport()`."""
    return {
        "id": transport.id,
        "iceParameters": transport.ice_parameters,
        "iceCandidates": transport.ice_candidates,
        "dtlsParameters": transport.dtls_parameters,
    }


class ClientTransport:
    """A pymediasoup Device with one transport, signalled to a pysfu WebRtcTransport.

    The transport's `connect` event calls `WebRtcTransport.connect()` in an owned task.
    pymediasoup does not wait for that task (mediasoup-client does), so `connected()`
    waits for it and raises what pysfu raised.
    """

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.device: Any = None
        self.transport: Any = None
        self.connect_calls: list[dict[str, Any]] = []  # the dtlsParameters sent to pysfu
        self._sfu_transport: WebRtcTransport | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._tcp_patched: set[int] = set()
        # Rewrites the candidates the client is given, to route it through a relay.
        self.candidate_filter: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None

    async def open(self, router_capabilities: dict[str, Any], sfu: WebRtcTransport) -> None:
        self._sfu_transport = sfu
        self.device = Device(handlerFactory=AiortcHandler.createFactory(tracks=[]))
        await self.device.load(RtpCapabilities.model_validate(router_capabilities))
        create = (
            self.device.createSendTransport
            if self.direction == "send"
            else self.device.createRecvTransport
        )
        parameters = client_transport_parameters(sfu)
        if self.candidate_filter is not None:
            parameters["iceCandidates"] = self.candidate_filter(parameters["iceCandidates"])
        self.transport = create(**parameters, sctpParameters=None, iceServers=NO_ICE_SERVERS)
        self.transport.on("connect", self._on_connect)

    def _on_connect(self, dtls_parameters: Any) -> None:
        # Runs synchronously inside pymediasoup, after the transceivers exist and before
        # aiortc starts its ICE checks, so the TCP candidate is in place in time.
        self._add_tcp_candidates()
        parameters = dtls_parameters.model_dump(mode="json", exclude_none=True)
        self.connect_calls.append(parameters)
        if self._connect_task is None:
            self._connect_task = asyncio.create_task(self._connect(parameters))

    async def _connect(self, dtls_parameters: dict[str, Any]) -> None:
        assert self._sfu_transport is not None
        await self._sfu_transport.connect(dtls_parameters=dtls_parameters)

    def _add_tcp_candidates(self) -> None:
        assert self._sfu_transport is not None
        candidates = self._sfu_transport.ice_candidates
        if not candidates or any(candidate["protocol"] == "udp" for candidate in candidates):
            return
        for transceiver in self.transport.handler.pc.getTransceivers():
            connection = transceiver.receiver.transport.transport.iceGatherer._connection
            if id(connection) in self._tcp_patched:
                continue
            self._tcp_patched.add(id(connection))
            connection._protocols.append(ActiveTcpStunProtocol(connection, candidates[0]["ip"]))

    async def connected(self) -> None:
        """Wait for pysfu's `connect()` to return, at most SIGNALING_TIMEOUT seconds."""
        if self._connect_task is None:
            raise AssertionError(f"the {self.direction} transport never emitted 'connect'")
        await asyncio.wait_for(asyncio.shield(self._connect_task), SIGNALING_TIMEOUT)

    @property
    def peer_connection(self) -> RTCPeerConnection:
        connection: RTCPeerConnection = self.transport.handler.pc
        return connection

    def state(self) -> str:
        return str(self.transport.connectionState) if self.transport is not None else "none"

    async def close(self) -> None:
        task = self._connect_task
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=CLOSE_TIMEOUT)
            if task.done() and not task.cancelled():
                # Retrieve the error so that asyncio does not log it, because connected()
                # raised it to the caller or an earlier setup error already ended the call.
                task.exception()
        if self.transport is not None:
            await asyncio.wait_for(self.transport.close(), CLOSE_TIMEOUT)


class Publisher(ClientTransport):
    """A send transport that publishes a VP8 test pattern and an Opus sine wave."""

    def __init__(self, media: CallMedia) -> None:
        super().__init__("send")
        self.media = media
        self.produce_calls: list[tuple[str, dict[str, Any]]] = []  # (kind, rtpParameters)
        self.producers: list[Producer] = []
        self.client_producers: list[Any] = []

    async def open(self, router_capabilities: dict[str, Any], sfu: WebRtcTransport) -> None:
        await super().open(router_capabilities, sfu)
        self.transport.on("produce", self._on_produce)

    async def _on_produce(self, kind: str, rtp_parameters: Any, _app_data: Any) -> str:
        # pymediasoup awaits this handler, and its produce() raises any exception raised here.
        assert self._sfu_transport is not None
        parameters = rtp_parameters.model_dump(mode="json", exclude_none=True)
        self.produce_calls.append((kind, parameters))
        producer = await self._sfu_transport.produce(kind=kind, rtp_parameters=parameters)
        self.producers.append(producer)
        return producer.id

    async def publish(self) -> list[Producer]:
        """Produce the video track with VP8 forced, then the audio track.

        Return the pysfu producers in that order.
        """
        codecs = self.device.sendRtpCapabilities.codecs
        vp8 = next((codec for codec in codecs if codec.mimeType.lower() == "video/vp8"), None)
        if vp8 is None:
            raise ValueError("the device cannot send VP8: the router capabilities lack video/VP8")
        for track, codec in ((self.media.video_source, vp8), (self.media.audio_source, None)):
            producer = await asyncio.wait_for(
                self.transport.produce(track=track, codec=codec, stopTracks=False),
                SIGNALING_TIMEOUT,
            )
            self.client_producers.append(producer)
        return list(self.producers)


class Subscriber(ClientTransport):
    """A receive transport that consumes pysfu producers and reads their tracks."""

    def __init__(self, media: CallMedia) -> None:
        super().__init__("recv")
        self.media = media
        self.consumers: list[Consumer] = []
        self.client_consumers: list[Any] = []
        self.resume_times: dict[str, float] = {}  # kind -> event loop time of resume()

    def receive_capabilities(self) -> dict[str, Any]:
        capabilities: dict[str, Any] = self.device.recvRtpCapabilities.model_dump(
            mode="json", exclude_none=True
        )
        return capabilities

    async def subscribe(self, producer: Producer) -> Consumer:
        """Consume paused on pysfu, consume on the device, start reading, then resume."""
        assert self._sfu_transport is not None
        consumer = await self._sfu_transport.consume(
            producer_id=producer.id, rtp_capabilities=self.receive_capabilities(), paused=True
        )
        self.consumers.append(consumer)
        client_consumer = await asyncio.wait_for(
            self.transport.consume(
                id=consumer.id,
                producerId=producer.id,
                kind=consumer.kind,
                rtpParameters=consumer.rtp_parameters,
            ),
            SIGNALING_TIMEOUT,
        )
        self.client_consumers.append(client_consumer)
        self.media.read(client_consumer.track)
        await consumer.resume()
        self.resume_times[consumer.kind] = asyncio.get_running_loop().time()
        return consumer


def _sfu_states(**transports: WebRtcTransport) -> dict[str, str]:
    states: dict[str, str] = {}
    for name, transport in transports.items():
        selected = transport.ice_selected_tuple
        states[f"{name}.ice"] = transport.ice_state
        states[f"{name}.dtls"] = transport.dtls_state
        states[f"{name}.protocol"] = selected["protocol"] if selected else "none"
    return states


async def run_call(
    router: Router, *, transport_options: dict[str, Any], duration: float
) -> CallResult:
    """Publish VP8 and Opus through `router` to one subscriber and count what arrives.

    `transport_options` are the keyword arguments of `router.create_webrtc_transport()`
    for both the send and the receive transport. Signaling errors from pysfu or
    pymediasoup are raised, but media that never arrives is only reported in the result.
    """
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION}] seconds, got {duration!r}")
    media = CallMedia()
    publisher = Publisher(media)
    subscriber = Subscriber(media)
    sfu_transports: list[WebRtcTransport] = []
    try:
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            send = await router.create_webrtc_transport(**transport_options)
            sfu_transports.append(send)
            recv = await router.create_webrtc_transport(**transport_options)
            sfu_transports.append(recv)
            await publisher.open(router.rtp_capabilities, send)
            await subscriber.open(router.rtp_capabilities, recv)
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            for producer in await publisher.publish():
                await subscriber.subscribe(producer)
        await publisher.connected()
        await subscriber.connected()

        def states() -> dict[str, str]:
            return {
                **_sfu_states(send_transport=send, recv_transport=recv),
                "publisher": publisher.state(),
                "subscriber": subscriber.state(),
            }

        return await media.measure(subscriber.resume_times, duration, states)
    finally:
        await close_all(
            [subscriber.close, publisher.close, media.close],
            [transport.close for transport in sfu_transports],
        )


async def run_direct_call(*, duration: float) -> CallResult:
    """Run the same media between two aiortc peers without pysfu.

    This checks the harness itself: sources, VP8/Opus coding and frame counting on
    this machine, with nothing in between that could lose frames.
    """
    loop = asyncio.get_running_loop()
    media = CallMedia()
    sender = RTCPeerConnection(RTCConfiguration(iceServers=NO_ICE_SERVERS))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=NO_ICE_SERVERS))
    try:
        video = sender.addTransceiver(media.video_source, direction="sendonly")
        video.setCodecPreferences(
            [
                codec
                for codec in RTCRtpSender.getCapabilities("video").codecs
                if codec.mimeType in ("video/VP8", "video/rtx")
            ]
        )
        sender.addTransceiver(media.audio_source, direction="sendonly")
        receiver.on("track", media.read)
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            await sender.setLocalDescription(await sender.createOffer())
            await receiver.setRemoteDescription(sender.localDescription)
            await receiver.setLocalDescription(await receiver.createAnswer())
            await sender.setRemoteDescription(receiver.localDescription)

        def states() -> dict[str, str]:
            return {"sender": sender.connectionState, "receiver": receiver.connectionState}

        started = loop.time()
        return await media.measure({"video": started, "audio": started}, duration, states)
    finally:
        await close_all([media.close, receiver.close, sender.close], [])


async def close_all(steps: list[Callable[[], Any]], sync_steps: list[Callable[[], None]]) -> None:
    """Run every close step, each bounded by CLOSE_TIMEOUT, then raise the first error."""
    errors: list[BaseException] = []
    for step in steps:
        try:
            await asyncio.wait_for(step(), CLOSE_TIMEOUT)
        except Exception as error:
            errors.append(error)
    for sync_step in sync_steps:
        try:
            sync_step()
        except Exception as error:
            errors.append(error)
    if errors:
        raise errors[0]

"""PlainTransport with ffmpeg (Debian package) as an independent RTP peer.

ffmpeg publishes a VP8 test pattern into a PlainTransport producer (comedia), an aiortc
subscriber decodes it over WebRTC, and a second PlainTransport consumer feeds ffmpeg,
which records a WebM file that PyAV then decodes.
"""

import asyncio
import shutil
from pathlib import Path

import av

from sfu import PlainTransport, Producer, Router, WebRtcTransport
from tests.integration.conftest import LISTEN_UDP
from tests.media_client import SIGNALING_TIMEOUT, CallMedia, Subscriber, close_all

FFMPEG = shutil.which("ffmpeg")
VIDEO_SSRC = 22222222
VIDEO_PAYLOAD_TYPE = 101
PUBLISH_SECONDS = 8


def vp8_parameters() -> dict[str, object]:
    return {
        "codecs": [
            {
                "mimeType": "video/VP8",
                "payloadType": VIDEO_PAYLOAD_TYPE,
                "clockRate": 90000,
                "rtcpFeedback": [{"type": "nack", "parameter": "pli"}],
            }
        ],
        "encodings": [{"ssrc": VIDEO_SSRC}],
        "rtcp": {"cname": "ffmpeg"},
    }


async def start_ffmpeg(*arguments: str) -> asyncio.subprocess.Process:
    assert FFMPEG is not None, "ffmpeg is missing: install the Debian package ffmpeg"
    return await asyncio.create_subprocess_exec(
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        *arguments,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop(process: asyncio.subprocess.Process) -> str:
    """Stop ffmpeg with SIGINT (it finalises its output) and return what it printed."""
    if process.returncode is None:
        process.send_signal(2)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    return (await process.stderr.read()).decode(errors="replace")


async def publish_test_pattern(
    router: Router,
) -> tuple[PlainTransport, Producer, asyncio.subprocess.Process]:
    transport = await router.create_plain_transport(
        listen_info={"protocol": "udp", "ip": "127.0.0.1"}, comedia=True
    )
    producer = await transport.produce(kind="video", rtp_parameters=vp8_parameters())
    port = transport.tuple["localPort"]
    process = await start_ffmpeg(
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size=320x240:rate=30:duration={PUBLISH_SECONDS}",
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-b:v",
        "600k",
        "-g",
        "30",
        "-ssrc",
        str(VIDEO_SSRC),
        "-payload_type",
        str(VIDEO_PAYLOAD_TYPE),
        "-f",
        "rtp",
        f"rtp://127.0.0.1:{port}?rtcpport={port}&pkt_size=1200",
    )
    return transport, producer, process


async def test_ffmpeg_publishes_to_aiortc(router: Router) -> None:
    media = CallMedia()
    subscriber = Subscriber(media)
    transports: list[PlainTransport | WebRtcTransport] = []
    process = None
    try:
        plain, producer, process = await publish_test_pattern(router)
        transports.append(plain)
        async with asyncio.timeout(SIGNALING_TIMEOUT):
            recv = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
            transports.append(recv)
            await subscriber.open(router.rtp_capabilities, recv)
            await subscriber.subscribe(producer)
        await subscriber.connected()
        await asyncio.sleep(4)
        reader = media.video_reader
        assert reader is not None
        frames = list(reader.video_frames)
        stats = await producer.get_stats()
        tuple_ = plain.tuple
    finally:
        output = await stop(process) if process is not None else ""
        await close_all([subscriber.close, media.close], [t.close for t in transports])
    assert tuple_["remotePort"] > 0, "comedia did not learn ffmpeg's address"
    assert stats and stats[0]["packetCount"] > 100, (stats, output)
    # 4 s at 30 fps, minus the wait for the first key frame (ffmpeg sends one per second).
    assert len(frames) >= 60, output
    assert {(frame.width, frame.height) for frame in frames} == {(320, 240)}


async def test_plain_consumer_records_webm(router: Router, tmp_path: Path) -> None:
    source, producer, publisher = await publish_test_pattern(router)
    sink = await router.create_plain_transport(
        listen_info={"protocol": "udp", "ip": "127.0.0.1"}, rtcp_mux=False
    )
    consumer = await sink.consume(
        producer_id=producer.id, rtp_capabilities=router.rtp_capabilities, paused=True
    )
    codec = consumer.rtp_parameters["codecs"][0]
    recorder_port = 42000 + (sink.tuple["localPort"] % 1000) * 2
    sdp = tmp_path / "input.sdp"
    sdp.write_text(
        "v=0\n"
        "o=- 0 0 IN IP4 127.0.0.1\n"
        "s=pysfu\n"
        "c=IN IP4 127.0.0.1\n"
        "t=0 0\n"
        f"m=video {recorder_port} RTP/AVP {codec['payloadType']}\n"
        f"a=rtcp:{recorder_port + 1}\n"
        f"a=rtpmap:{codec['payloadType']} VP8/90000\n"
        "a=recvonly\n"
    )
    output = tmp_path / "recording.webm"
    recorder = await start_ffmpeg(
        "-protocol_whitelist",
        "file,udp,rtp",
        "-i",
        str(sdp),
        "-c:v",
        "copy",
        "-y",
        str(output),
    )
    try:
        await asyncio.sleep(1.0)
        await sink.connect(ip="127.0.0.1", port=recorder_port, rtcp_port=recorder_port + 1)
        await consumer.resume()
        await asyncio.sleep(4)
        stats = await consumer.get_stats()
    finally:
        recorder_output = await stop(recorder)
        await stop(publisher)
        sink.close()
        source.close()
    assert stats[0]["packetCount"] > 100, recorder_output
    assert output.exists(), recorder_output
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp8"
        frames = [frame for frame in container.decode(stream)]
    assert len(frames) >= 60, recorder_output
    assert (frames[0].width, frames[0].height) == (320, 240)

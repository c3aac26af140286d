"""Bad input to the control plane raises a typed error that names the value."""

import asyncio
import os
import signal
import sys

import pytest
import structlog

from sfu import (
    InvalidParameterError,
    InvalidStateError,
    NotFoundError,
    RequestTimeoutError,
    Router,
    UnsupportedError,
    Worker,
    WorkerStartError,
    create_worker,
)
from tests.integration.conftest import LISTEN_UDP
from tests.media_parameters import MEDIA_CODECS, device_capabilities, opus_producer_parameters


async def test_unsupported_router_codec(worker: Worker) -> None:
    with pytest.raises(UnsupportedError, match="video/H265"):
        await worker.create_router(
            media_codecs=[{"kind": "video", "mimeType": "video/H265", "clockRate": 90000}]
        )


async def test_router_codec_wrong_type(worker: Worker) -> None:
    with pytest.raises(InvalidParameterError, match="clockRate"):
        await worker.create_router(
            media_codecs=[{"kind": "audio", "mimeType": "audio/opus", "clockRate": "48000"}]
        )


async def test_router_duplicate_payload_type(worker: Worker) -> None:
    codecs = [
        {
            "kind": "audio",
            "mimeType": "audio/opus",
            "clockRate": 48000,
            "channels": 2,
            "preferredPayloadType": 100,
        },
        {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 100},
    ]
    with pytest.raises(InvalidParameterError, match="100"):
        await worker.create_router(media_codecs=codecs)


async def test_produce_unknown_kind(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    with pytest.raises(InvalidParameterError, match="'data'"):
        await transport.produce(kind="data", rtp_parameters=opus_producer_parameters())


async def test_produce_kind_mismatch(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    with pytest.raises(InvalidParameterError, match="audio/opus"):
        await transport.produce(kind="video", rtp_parameters=opus_producer_parameters())


async def test_produce_wrong_parameter_types(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    parameters = opus_producer_parameters()
    parameters["codecs"][0]["payloadType"] = "111"
    with pytest.raises(InvalidParameterError, match="payloadType"):
        await transport.produce(kind="audio", rtp_parameters=parameters)


async def test_produce_duplicate_ssrc_rejected_by_worker(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    await transport.produce(kind="audio", rtp_parameters=opus_producer_parameters(ssrc=5, mid="0"))
    with pytest.raises(InvalidParameterError, match="ssrc 5"):
        await transport.produce(
            kind="audio", rtp_parameters=opus_producer_parameters(ssrc=5, mid="1")
        )
    assert len((await transport.dump())["producerIds"]) == 1


async def test_produce_unsupported_codec(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    parameters = opus_producer_parameters()
    parameters["codecs"][0]["mimeType"] = "audio/PCMU"
    parameters["codecs"][0]["clockRate"] = 8000
    parameters["codecs"][0]["channels"] = 1
    with pytest.raises(UnsupportedError, match="audio/PCMU"):
        await transport.produce(kind="audio", rtp_parameters=parameters)


async def test_consume_unknown_producer(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    with pytest.raises(NotFoundError, match="no-such-producer"):
        await transport.consume(
            producer_id="no-such-producer",
            rtp_capabilities=device_capabilities(router.rtp_capabilities),
        )


async def test_consume_incompatible_device(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    producer = await transport.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    video_only = device_capabilities(router.rtp_capabilities)
    video_only["codecs"] = [codec for codec in video_only["codecs"] if codec["kind"] == "video"]
    assert not router.can_consume(producer_id=producer.id, rtp_capabilities=video_only)
    with pytest.raises(UnsupportedError, match=producer.id):
        await transport.consume(producer_id=producer.id, rtp_capabilities=video_only)


async def test_calls_on_closed_objects(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    producer = await transport.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    transport.close()
    with pytest.raises(InvalidStateError, match=f"WebRtcTransport {transport.id} is closed"):
        await transport.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    with pytest.raises(InvalidStateError, match=f"Producer {producer.id} is closed"):
        await producer.pause()
    router.close()
    with pytest.raises(InvalidStateError, match="Router"):
        await router.create_webrtc_transport(listen_infos=LISTEN_UDP)


@pytest.mark.parametrize(
    ("listen_infos", "message"),
    [
        ([{"protocol": "sctp", "ip": "127.0.0.1"}], "protocol"),
        ([{"protocol": "udp", "ip": "not-an-ip"}], "not-an-ip"),
        ([{"protocol": "udp", "ip": "127.0.0.1", "port": 70000}], "70000"),
        (
            [{"protocol": "udp", "ip": "127.0.0.1", "portRange": {"min": 20, "max": 10}}],
            "portRange",
        ),
        ([], "non-empty"),
    ],
)
async def test_bad_listen_infos(
    router: Router, listen_infos: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        await router.create_webrtc_transport(listen_infos=listen_infos)
    assert (await router.dump())["transportIds"] == []


async def test_bad_dtls_parameters(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    with pytest.raises(InvalidParameterError, match="fingerprints"):
        await transport.connect(dtls_parameters={"role": "client", "fingerprints": []})
    with pytest.raises(InvalidParameterError, match="'boss'"):
        await transport.connect(dtls_parameters={"role": "boss", "fingerprints": []})


async def test_bad_priority(router: Router) -> None:
    send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    producer = await send.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    consumer = await send.consume(
        producer_id=producer.id, rtp_capabilities=device_capabilities(router.rtp_capabilities)
    )
    with pytest.raises(InvalidParameterError, match="256"):
        await consumer.set_priority(256)


async def test_missing_worker_binary() -> None:
    with pytest.raises(WorkerStartError, match="/no/such/worker"):
        await create_worker(worker_bin="/no/such/worker")


async def test_worker_binary_exits_at_start() -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; print('boom: bad build', file=sys.stderr); sys.exit(3)",
    ]
    with pytest.raises(WorkerStartError, match=r"exited with code 3.*boom: bad build"):
        await create_worker(worker_bin=command)


async def test_worker_rejects_bad_certificate_file(tmp_path: object) -> None:
    with pytest.raises(WorkerStartError, match="invalid settings"):
        await create_worker(
            dtls_certificate_file="/no/cert.pem", dtls_private_key_file="/no/key.pem"
        )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"log_level": "loud"}, "log_level"),
        ({"rtc_min_port": 0}, "rtc_min_port"),
        ({"rtc_min_port": 3000, "rtc_max_port": 2000}, "greater"),
        ({"dtls_certificate_file": "/x.pem"}, "together"),
        ({"app_data": "text"}, "app_data"),
    ],
)
async def test_bad_worker_settings(settings: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        await create_worker(**settings)  # type: ignore[arg-type]


async def test_request_timeout() -> None:
    worker = await create_worker(request_timeout=0.3)
    try:
        os.kill(worker.pid, signal.SIGSTOP)
        with pytest.raises(RequestTimeoutError, match=r"worker\.dump"):
            await worker.dump()
        os.kill(worker.pid, signal.SIGCONT)
        assert (await worker.dump())["pid"] == worker.pid
    finally:
        worker.close()
        await worker.wait_closed()


async def test_worker_logs_reach_parent() -> None:
    worker = await create_worker(log_level="warn")
    try:
        with structlog.testing.capture_logs() as records:
            router = await worker.create_router(media_codecs=MEDIA_CODECS)
            await worker.update_settings(log_level="debug")
            other = await worker.create_router(media_codecs=MEDIA_CODECS)
            await worker.dump()
        created = [record for record in records if record["event"] == "router created"]
        assert [record["router"] for record in created] == [other.id]
        assert router.id != other.id
        assert created[0]["worker"] == worker.pid
        assert created[0]["log_level"] == "debug"
    finally:
        worker.close()
        await worker.wait_closed()


async def test_close_while_pipe_closing() -> None:
    worker = await create_worker()
    os.kill(worker.pid, signal.SIGKILL)
    # Wait until the channel's pipe notices the dead process, before the exit is reaped.
    for _ in range(2000):
        await asyncio.sleep(0)
        writer = worker.channel._writer
        if worker.closed or (writer is not None and writer.is_closing()):
            break
    worker.close()
    assert worker.closed
    await worker.wait_closed()

"""Object model over real worker processes: creation, dumps, close cascades, worker death."""

import asyncio
import os
import signal
from typing import Any

import pytest

from sfu import (
    Consumer,
    InvalidStateError,
    Producer,
    Router,
    WebRtcTransport,
    Worker,
    WorkerDiedError,
    create_worker,
)
from tests.events import EventLog
from tests.integration.conftest import LISTEN_UDP
from tests.media_parameters import (
    MEDIA_CODECS,
    device_capabilities,
    opus_producer_parameters,
    vp8_simulcast_producer_parameters,
)

ALL_EVENTS = ("workerclose", "routerclose", "transportclose", "producerclose", "listenserverclose")


async def build_room(worker: Worker) -> dict[str, Any]:
    """One router, a sending and a receiving transport, two producers and their consumers."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    audio = await send.produce(kind="audio", rtp_parameters=opus_producer_parameters())
    video = await send.produce(kind="video", rtp_parameters=vp8_simulcast_producer_parameters())
    capabilities = device_capabilities(router.rtp_capabilities)
    audio_consumer = await recv.consume(producer_id=audio.id, rtp_capabilities=capabilities)
    video_consumer = await recv.consume(
        producer_id=video.id, rtp_capabilities=capabilities, paused=True
    )
    return {
        "router": router,
        "send": send,
        "recv": recv,
        "audio": audio,
        "video": video,
        "audio_consumer": audio_consumer,
        "video_consumer": video_consumer,
    }


def watch_room(log: EventLog, room: dict[str, Any]) -> None:
    for label, entity in room.items():
        log.watch(label, entity, *ALL_EVENTS)
        log.watch(label + ".observer", entity.observer, "close")


async def test_four_workers_build_rooms() -> None:
    workers = [await create_worker() for _ in range(4)]
    try:
        assert len({worker.pid for worker in workers}) == 4
        rooms = [await build_room(worker) for worker in workers]
        for worker, room in zip(workers, rooms, strict=True):
            dump = await worker.dump()
            assert dump["routerIds"] == [room["router"].id]
            router_dump = await room["router"].dump()
            assert router_dump["transportIds"] == [room["send"].id, room["recv"].id]
            consumer_ids = {
                entry["key"]: entry["values"] for entry in router_dump["mapProducerIdConsumerIds"]
            }
            assert consumer_ids == {
                room["audio"].id: [room["audio_consumer"].id],
                room["video"].id: [room["video_consumer"].id],
            }
    finally:
        for worker in workers:
            worker.close()
        for worker in workers:
            await worker.wait_closed()


async def test_transport_parameters_shape(router: Router) -> None:
    transport = await router.create_webrtc_transport(
        listen_infos=[
            {"protocol": "udp", "ip": "127.0.0.1"},
            {"protocol": "tcp", "ip": "127.0.0.1"},
        ],
        enable_tcp=True,
    )
    ice = transport.ice_parameters
    assert ice["iceLite"] is True
    assert len(ice["usernameFragment"]) == 32
    assert len(ice["password"]) == 32
    assert [c["protocol"] for c in transport.ice_candidates] == ["udp", "tcp"]
    assert transport.ice_candidates[1]["tcpType"] == "passive"
    assert transport.ice_candidates[0]["priority"] > transport.ice_candidates[1]["priority"]
    assert transport.dtls_parameters["role"] == "auto"
    assert transport.dtls_parameters["fingerprints"][-1]["algorithm"] == "sha-512"
    assert transport.ice_role == "controlled"
    assert transport.ice_state == "new"
    assert transport.dtls_state == "new"


async def test_transports_share_worker_certificate(worker: Worker, router: Router) -> None:
    other_router = await worker.create_router(media_codecs=MEDIA_CODECS)
    first = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    second = await other_router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    assert first.dtls_parameters["fingerprints"] == second.dtls_parameters["fingerprints"]
    assert first.ice_parameters["usernameFragment"] != second.ice_parameters["usernameFragment"]


async def test_consumer_parameters(router: Router) -> None:
    room_send = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    room_recv = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    video = await room_send.produce(
        kind="video", rtp_parameters=vp8_simulcast_producer_parameters()
    )
    assert video.type == "simulcast"
    capabilities = device_capabilities(router.rtp_capabilities)
    first = await room_recv.consume(producer_id=video.id, rtp_capabilities=capabilities)
    second = await room_recv.consume(producer_id=video.id, rtp_capabilities=capabilities)
    parameters = first.rtp_parameters
    assert parameters["mid"] == "0"
    assert second.rtp_parameters["mid"] == "1"
    assert len(parameters["encodings"]) == 1
    encoding = parameters["encodings"][0]
    assert encoding["rtx"]["ssrc"] == encoding["ssrc"] + 1
    assert encoding["scalabilityMode"] == "L3T3"
    assert parameters["rtcp"]["cname"] == "test-cname"
    assert first.type == "simulcast"


async def test_close_router_cascade(worker: Worker) -> None:
    room = await build_room(worker)
    log = EventLog()
    watch_room(log, room)
    room["router"].close()
    assert log.entries == [
        ("audio", "transportclose"),
        ("audio.observer", "close"),
        ("video", "transportclose"),
        ("video.observer", "close"),
        ("send", "routerclose"),
        ("send.observer", "close"),
        ("audio_consumer", "transportclose"),
        ("audio_consumer.observer", "close"),
        ("video_consumer", "transportclose"),
        ("video_consumer.observer", "close"),
        ("recv", "routerclose"),
        ("recv.observer", "close"),
        ("router.observer", "close"),
    ]
    assert all(entity.closed for entity in room.values())
    assert (await worker.dump())["routerIds"] == []


async def test_close_send_transport_cascade(worker: Worker) -> None:
    room = await build_room(worker)
    log = EventLog()
    watch_room(log, room)
    room["send"].close()
    assert log.entries == [
        ("audio_consumer", "producerclose"),
        ("audio_consumer.observer", "close"),
        ("audio", "transportclose"),
        ("audio.observer", "close"),
        ("video_consumer", "producerclose"),
        ("video_consumer.observer", "close"),
        ("video", "transportclose"),
        ("video.observer", "close"),
        ("send.observer", "close"),
    ]
    assert not room["recv"].closed
    router_dump = await room["router"].dump()
    assert router_dump["transportIds"] == [room["recv"].id]
    assert router_dump["mapProducerIdConsumerIds"] == []
    assert router_dump["mapConsumerIdProducerId"] == []
    recv_dump = await room["recv"].dump()
    assert recv_dump["consumerIds"] == []


async def test_close_producer_closes_consumers(worker: Worker) -> None:
    room = await build_room(worker)
    log = EventLog()
    watch_room(log, room)
    room["video"].close()
    room["video"].close()
    assert log.entries == [
        ("video_consumer", "producerclose"),
        ("video_consumer.observer", "close"),
        ("video.observer", "close"),
    ]
    router_dump = await room["router"].dump()
    assert router_dump["mapConsumerIdProducerId"] == [
        {"key": room["audio_consumer"].id, "value": room["audio"].id}
    ]
    send_dump = await room["send"].dump()
    assert send_dump["producerIds"] == [room["audio"].id]
    with pytest.raises(InvalidStateError, match="closed"):
        await room["video_consumer"].resume()


async def test_close_consumer_only(worker: Worker) -> None:
    room = await build_room(worker)
    log = EventLog()
    watch_room(log, room)
    room["audio_consumer"].close()
    assert log.entries == [("audio_consumer.observer", "close")]
    assert not room["audio"].closed
    recv_dump = await room["recv"].dump()
    assert recv_dump["consumerIds"] == [room["video_consumer"].id]


async def test_close_worker_cascade(worker: Worker) -> None:
    room = await build_room(worker)
    server = await worker.create_webrtc_server(listen_infos=LISTEN_UDP)
    log = EventLog()
    watch_room(log, room)
    log.watch("server", server, *ALL_EVENTS)
    subprocess_closed = asyncio.Event()
    worker.on("subprocessclose", subprocess_closed.set)
    died: list[Any] = []
    worker.on("died", died.append)
    worker.close()
    assert log.count("router", "workerclose") == 1
    assert log.count("server", "workerclose") == 1
    assert log.count("send", "routerclose") == 1
    assert log.count("audio_consumer", "transportclose") == 1
    assert log.entries[-1] == ("server", "workerclose")
    assert await asyncio.wait_for(worker.wait_closed(), 5) == 0
    await asyncio.wait_for(subprocess_closed.wait(), 5)
    assert died == []
    with pytest.raises(InvalidStateError):
        await worker.dump()


async def test_webrtc_server_close_cascade(worker: Worker, router: Router) -> None:
    server = await worker.create_webrtc_server(
        listen_infos=[
            {"protocol": "udp", "ip": "127.0.0.1"},
            {"protocol": "tcp", "ip": "127.0.0.1"},
        ]
    )
    transport = await router.create_webrtc_transport(webrtc_server=server)
    udp_port = server.listen_infos[0]["port"]
    assert transport.ice_candidates[0]["port"] == udp_port
    dump = await server.dump()
    assert dump["webRtcTransportIds"] == [transport.id]
    log = EventLog()
    log.watch("transport", transport, *ALL_EVENTS)
    server.close()
    assert log.entries == [("transport", "listenserverclose")]
    assert transport.closed
    assert (await router.dump())["transportIds"] == []


async def test_worker_sigkill_cascade() -> None:
    worker = await create_worker()
    room = await build_room(worker)
    log = EventLog()
    watch_room(log, room)
    died: list[WorkerDiedError] = []
    worker.on("died", died.append)
    os.kill(worker.pid, signal.SIGKILL)
    await asyncio.wait_for(worker.wait_closed(), 5)
    for _ in range(100):
        if died:
            break
        await asyncio.sleep(0.01)
    assert len(died) == 1
    assert died[0].signal == "SIGKILL"
    assert worker.closed
    assert worker.died
    assert log.count("router", "workerclose") == 1
    assert log.count("send", "routerclose") == 1
    assert log.count("recv", "routerclose") == 1
    assert log.count("video_consumer", "transportclose") == 1
    assert log.count("video", "transportclose") == 1
    assert all(entity.closed for entity in room.values())
    with pytest.raises(InvalidStateError):
        await room["video"].pause()


async def test_pending_request_fails_when_worker_dies() -> None:
    worker = await create_worker()
    # SIGSTOP keeps the request unanswered; SIGKILL then ends the process with it pending.
    os.kill(worker.pid, signal.SIGSTOP)
    pending = asyncio.ensure_future(worker.dump())
    await asyncio.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(InvalidStateError, match="closed"):
        await asyncio.wait_for(pending, 5)
    await worker.wait_closed()


async def test_producer_pause_notifies_consumers(worker: Worker) -> None:
    room = await build_room(worker)
    consumer: Consumer = room["audio_consumer"]
    producer: Producer = room["audio"]
    log = EventLog()
    log.watch("consumer", consumer, "producerpause", "producerresume")
    await producer.pause()
    await producer.dump()
    assert consumer.producer_paused
    await producer.resume()
    await producer.dump()
    assert log.entries == [("consumer", "producerpause"), ("consumer", "producerresume")]
    assert not consumer.producer_paused
    late = await room["recv"].consume(
        producer_id=producer.id,
        rtp_capabilities=device_capabilities(room["router"].rtp_capabilities),
    )
    assert late.producer_paused is False


async def test_consumer_requests(worker: Worker) -> None:
    room = await build_room(worker)
    consumer: Consumer = room["video_consumer"]
    assert consumer.paused
    await consumer.resume()
    assert not consumer.paused
    await consumer.set_priority(7)
    assert consumer.priority == 7
    await consumer.set_preferred_layers(spatial_layer=1, temporal_layer=0)
    assert consumer.preferred_layers == {"spatialLayer": 1, "temporalLayer": 0}
    await consumer.request_key_frame()
    dump = await consumer.dump()
    assert dump["priority"] == 7
    assert dump["paused"] is False
    assert dump["rtpParameters"] == consumer.rtp_parameters


async def test_connect_twice_rejected(router: Router) -> None:
    transport: WebRtcTransport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    fingerprint = {"algorithm": "sha-256", "value": "AB:" * 31 + "AB"}
    await transport.connect(dtls_parameters={"role": "client", "fingerprints": [fingerprint]})
    assert transport.dtls_parameters["role"] == "server"
    with pytest.raises(InvalidStateError, match="already called"):
        await transport.connect(dtls_parameters={"role": "client", "fingerprints": [fingerprint]})


async def test_restart_ice_changes_credentials(router: Router) -> None:
    transport = await router.create_webrtc_transport(listen_infos=LISTEN_UDP)
    before = transport.ice_parameters
    after = await transport.restart_ice()
    assert after["usernameFragment"] != before["usernameFragment"]
    assert after["password"] != before["password"]
    assert transport.ice_parameters == after

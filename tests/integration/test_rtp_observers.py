"""Audio level and active speaker observers over real RTP with controlled audio levels."""

import asyncio
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from sfu import Producer, Router

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
PAYLOAD_TYPE = 100
# Levels in -dBov (RFC 6464): 0 is the loudest, 127 silence.
LEVELS = {"quiet": 50, "loud": 10, "medium": 30}


# Level of the room noise between words (-70 dBov): the active speaker algorithm measures
# speech against each producer's noise floor, so a voice at one constant level would count
# as noise. Speakers here drop to this level for 2 packets of every 10, as speech does.
BACKGROUND = 70


def speech_level(level: int, seq: int) -> int:
    return BACKGROUND if seq % 10 < 2 else level


def audio_packet(ssrc: int, seq: int, level: int) -> bytes:
    """An RTP packet with a one-byte header extension (id 1) carrying the audio level."""
    header = struct.pack("!BBHII", 0x90, PAYLOAD_TYPE, seq & 0xFFFF, seq * 960, ssrc)
    extension = struct.pack("!HH", 0xBEDE, 1) + bytes((0x10, 0x80 | level, 0, 0))
    return header + extension + b"\xf8\xff\xfe"


async def create_producer(router: Router, ssrc: int) -> tuple[Producer, int]:
    transport = await router.create_plain_transport(
        listen_info={"protocol": "udp", "ip": "127.0.0.1"}, comedia=True
    )
    producer = await transport.produce(
        kind="audio",
        rtp_parameters={
            "codecs": [
                {
                    "mimeType": "audio/opus",
                    "payloadType": PAYLOAD_TYPE,
                    "clockRate": 48000,
                    "channels": 2,
                }
            ],
            "headerExtensions": [{"uri": AUDIO_LEVEL_URI, "id": 1}],
            "encodings": [{"ssrc": ssrc}],
        },
    )
    return producer, transport.tuple["localPort"]


async def send_levels(
    sock: socket.socket,
    targets: dict[str, tuple[int, int]],
    seconds: float,
    levels: dict[str, int] | None = None,
    first_seq: int = 0,
    speech: bool = False,
) -> int:
    """Send 50 packets per second per producer at fixed levels; return the next seq.

    With `speech`, each producer's level alternates with the background as in speech.
    """
    levels = levels or LEVELS
    seq = first_seq
    for seq in range(first_seq, first_seq + int(seconds * 50)):
        for name, (ssrc, port) in targets.items():
            level = speech_level(levels[name], seq) if speech else levels[name]
            sock.sendto(audio_packet(ssrc, seq, level), ("127.0.0.1", port))
        await asyncio.sleep(0.02)
    return seq + 1


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    """One UDP socket for a whole test: comedia binds each producer to its first source."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield sock
    sock.close()


async def test_observers_report_loudest(router: Router, sender: socket.socket) -> None:
    producers: dict[str, Producer] = {}
    targets: dict[str, tuple[int, int]] = {}
    for index, name in enumerate(LEVELS):
        producer, port = await create_producer(router, 1000 + index)
        producers[name] = producer
        targets[name] = (1000 + index, port)
    levels = await router.create_audio_level_observer(max_entries=2, threshold=-70, interval=500)
    volumes: list[list[dict[str, Any]]] = []
    levels.on("volumes", volumes.append)
    for producer in producers.values():
        await levels.add_producer(producer_id=producer.id)
    await send_levels(sender, targets, 2.0)
    await asyncio.sleep(0.6)

    assert volumes, "no volumes event"
    last = volumes[-1]
    assert [entry["producer"] for entry in last] == [producers["loud"], producers["medium"]]
    assert [entry["volume"] for entry in last] == [-10, -30]
    dump = await levels.dump()
    assert sorted(dump["producerIds"]) == sorted(p.id for p in producers.values())


async def test_observer_silence_and_removal(router: Router, sender: socket.socket) -> None:
    producer, port = await create_producer(router, 2000)
    levels = await router.create_audio_level_observer(threshold=-40, interval=300)
    events: list[str] = []
    levels.on("volumes", lambda _volumes: events.append("volumes"))
    levels.on("silence", lambda: events.append("silence"))
    await levels.add_producer(producer_id=producer.id)
    await send_levels(sender, {"medium": (2000, port)}, 1.0)
    await asyncio.sleep(0.7)
    assert events[0] == "volumes"
    assert events[-1] == "silence"
    assert events.count("silence") == 1
    producer.close()
    await asyncio.sleep(0.05)
    assert (await levels.dump())["producerIds"] == []
    router.close()
    assert levels.closed


async def test_active_speaker_follows_turns(router: Router, sender: socket.socket) -> None:
    producers: dict[str, Producer] = {}
    targets: dict[str, tuple[int, int]] = {}
    for index, name in enumerate(LEVELS):
        producer, port = await create_producer(router, 3000 + index)
        producers[name] = producer
        targets[name] = (3000 + index, port)
    speaker = await router.create_active_speaker_observer(interval=300)
    dominant: list[Producer] = []
    speaker.on("dominantspeaker", lambda event: dominant.append(event["producer"]))
    for producer in producers.values():
        await speaker.add_producer(producer_id=producer.id)
    silent = dict.fromkeys(LEVELS, BACKGROUND)
    seq = await send_levels(sender, targets, 0.6, silent, speech=True)
    seq = await send_levels(sender, targets, 2.0, {**silent, "loud": 10}, seq, speech=True)
    assert dominant, "no dominantspeaker event"
    assert dominant[-1] is producers["loud"]
    await send_levels(sender, targets, 2.5, {**silent, "medium": 20}, seq, speech=True)
    await asyncio.sleep(0.4)
    assert dominant[-1] is producers["medium"]

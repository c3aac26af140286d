"""A worker under a flood of hostile packets keeps a real call decoding.

While an aiortc publisher sends VP8 and Opus to an aiortc subscriber through one worker,
the test fires 100,000 random and mutated STUN, DTLS, RTP and RTCP datagrams at the
transports' UDP ports (from a validated ICE tuple and from unknown ones), and RFC 4571
frames at their TCP ports, some with lying lengths.
"""

import asyncio
import os
import socket
from typing import Any

from sfu import Router, WebRtcTransport, Worker
from tests.fuzz_packets import PacketFuzzer, stun_request
from tests.media_client import run_call

DATAGRAMS = 100_000
TCP_CONNECTIONS = 20
BATCH = 500
# Growth of the worker's resident memory allowed across the flood. The worker's baseline is
# about 60 MiB; a leak of per-packet state would pass this within the flood.
MAX_RSS_GROWTH_KIB = 40 * 1024


def resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def total_drops(stats: list[dict[str, Any]]) -> int:
    return sum(sum(entry.get("dropCounters", {}).values()) for entry in stats)


async def flood(transports: list[WebRtcTransport], fuzzer: PacketFuzzer) -> int:
    """Send the datagrams and TCP garbage; return the number of UDP datagrams sent."""
    udp_targets = [
        ("127.0.0.1", candidate["port"])
        for transport in transports
        for candidate in transport.ice_candidates
        if candidate["protocol"] == "udp"
    ]
    tcp_targets = [
        ("127.0.0.1", candidate["port"])
        for transport in transports
        for candidate in transport.ice_candidates
        if candidate["protocol"] == "tcp"
    ]
    validated = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unknown = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for sock in (validated, unknown):
        sock.setblocking(False)
    try:
        # A valid Binding request makes `validated` a known ICE tuple of each transport, so
        # its DTLS, RTP and RTCP garbage reaches the parsers behind the ICE check.
        for transport, target in zip(transports, udp_targets, strict=True):
            ice = transport.ice_parameters
            request = stun_request(f"{ice['usernameFragment']}:fuzz", ice["password"])
            validated.sendto(request, target)
        await asyncio.sleep(0.1)
        sent = 0
        while sent < DATAGRAMS:
            for _ in range(BATCH):
                sock = validated if sent % 3 else unknown
                try:
                    sock.sendto(fuzzer.next(), udp_targets[sent % len(udp_targets)])
                except (BlockingIOError, OSError):
                    pass
                sent += 1
            await asyncio.sleep(0.005)
        await flood_tcp(tcp_targets, fuzzer)
        return sent
    finally:
        validated.close()
        unknown.close()


async def flood_tcp(targets: list[tuple[str, int]], fuzzer: PacketFuzzer) -> None:
    for index in range(TCP_CONNECTIONS):
        host, port = targets[index % len(targets)]
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
        except (OSError, TimeoutError):
            continue
        try:
            for _ in range(50):
                writer.write(fuzzer.tcp_chunk())
            writer.write(os.urandom(3000))
            await asyncio.wait_for(writer.drain(), 2)
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()
            del reader


async def test_flood_during_call(worker: Worker, router: Router) -> None:
    transports: list[WebRtcTransport] = []
    router.observer.on("newtransport", transports.append)
    options = {
        "listen_infos": [
            {"protocol": "udp", "ip": "127.0.0.1"},
            {"protocol": "tcp", "ip": "127.0.0.1"},
        ],
        "enable_tcp": True,
    }
    call = asyncio.ensure_future(run_call(router, transport_options=options, duration=10.0))
    for _ in range(200):
        if len(transports) == 2 and all(t.dtls_state == "connected" for t in transports):
            break
        await asyncio.sleep(0.05)
    assert [t.dtls_state for t in transports] == ["connected", "connected"]
    await asyncio.sleep(1.0)
    rss_before = resident_kib(worker.pid)
    drops_before = sum([total_drops(await t.get_stats()) for t in transports])

    fuzzer = PacketFuzzer(seed=20261204, username="x", password="y")
    sent = await flood(transports, fuzzer)
    drops_after = sum([total_drops(await t.get_stats()) for t in transports])
    rss_after = resident_kib(worker.pid)
    result = await asyncio.wait_for(call, 60)

    assert sent >= DATAGRAMS
    assert not worker.closed
    assert (await worker.dump())["routerIds"] == [router.id]
    assert drops_after - drops_before >= DATAGRAMS // 2, (drops_before, drops_after)
    assert rss_after - rss_before < MAX_RSS_GROWTH_KIB, (rss_before, rss_after)
    assert result.video_ratio >= 0.9, result
    assert result.audio_frames_received >= 0.8 * result.audio_frames_sent, result

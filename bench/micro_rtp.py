"""Time the per-packet RTP work of the forwarding path and print microseconds per packet.

Run from the repository root: `python bench/micro_rtp.py [--packets N]`. The packet is a
1200-byte VP8 packet as Chrome sends it (abs-send-time, transport-cc and video orientation
in one-byte header extensions). Figures vary between runs on shared machines, so compare
only figures from one run.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers.codecs import vp8_is_key_frame
from workers.rtp import (
    OutgoingHeaderExtensions,
    RtpPacket,
    remap_extensions,
    rewrite_header,
    rewrite_packet,
)
from workers.seq_manager import SeqManager

# Producer IDs as Chrome offers them: abs-send-time 2, transport-cc 3, video orientation 13.
PRODUCER_TO_ROUTER_IDS = {2: 4, 3: 5, 13: 8}
ROUTER_MID_ID = 1
ROUTER_ABS_SEND_TIME_ID = 4
ROUTER_TRANSPORT_CC_ID = 5


def _sample_packet() -> bytes:
    payload = bytes.fromhex("9080e2051000") + bytes(1200 - 12 - 12 - 6)
    packet = RtpPacket(
        96,
        65000,
        123456,
        0x11223344,
        extensions={2: b"\x01\x02\x03", 3: b"\x00\x07", 13: b"\x00"},
        payload=payload,
    )
    return packet.serialize()


def _measure(name: str, function: Callable[[], object], count: int) -> None:
    seconds = min(timeit.repeat(function, number=count, repeat=5))
    print(f"{name:<62} {seconds / count * 1e6:7.3f} µs/packet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--packets", type=int, default=100_000, help="packets per timing run (default 100000)"
    )
    count = parser.parse_args().packets
    data = _sample_packet()
    packet = RtpPacket.parse(data)
    template = OutgoingHeaderExtensions(
        remap_extensions(packet.extensions, PRODUCER_TO_ROUTER_IDS),
        mid_id=ROUTER_MID_ID,
        abs_send_time_id=ROUTER_ABS_SEND_TIME_ID,
        transport_cc_id=ROUTER_TRANSPORT_CC_ID,
    )
    seq_manager = SeqManager()
    counter = iter(range(1 << 62))
    now = 1_700_000_000.0

    def incoming() -> object:
        parsed = RtpPacket.parse(data)
        vp8_is_key_frame(parsed.buffer, parsed.payload_offset, parsed.payload_end)
        proxied = remap_extensions(parsed.extensions, PRODUCER_TO_ROUTER_IDS)
        return OutgoingHeaderExtensions(
            proxied,
            mid_id=ROUTER_MID_ID,
            abs_send_time_id=ROUTER_ABS_SEND_TIME_ID,
            transport_cc_id=ROUTER_TRANSPORT_CC_ID,
        )

    def outgoing_join() -> bytes:
        index = next(counter)
        output_seq = seq_manager.input(index & 0xFFFF)
        block = template.build(mid=b"3", now=now, transport_sequence_number=index & 0xFFFF)
        return rewrite_packet(
            packet,
            payload_type=101,
            sequence_number=output_seq or 0,
            timestamp=packet.timestamp,
            ssrc=0x55667788,
            extension_block=block,
        )

    def outgoing_in_place() -> bytes:
        buffer = bytearray(data)
        rewrite_header(buffer, 101, 1, packet.timestamp, 0x55667788)
        return bytes(buffer)

    print(f"{len(data)}-byte packet, {count} packets per run, best of 5 runs")
    _measure("RtpPacket.parse", lambda: RtpPacket.parse(data), count)
    _measure("incoming: parse + VP8 key frame + extension remap", incoming, count)
    _measure(
        "extension block build (mid, abs-send-time, transport-cc)",
        lambda: template.build(mid=b"3", now=now, transport_sequence_number=7),
        count,
    )
    _measure("per consumer: seq rewrite + extension block + rewrite_packet", outgoing_join, count)
    _measure("per consumer: bytearray copy + rewrite_header + bytes()", outgoing_in_place, count)


if __name__ == "__main__":
    main()

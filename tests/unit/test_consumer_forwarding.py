"""Worker-side consumer forwarding: sequence continuity, key-frame gating, simulcast switch."""

from typing import Any

from workers.consumer import Consumer, ConsumerLinks
from workers.producer import ForwardedPacket
from workers.rtp import OutgoingHeaderExtensions, RtpPacket

CONSUMER_SSRC = 222222


class FakeChannel:
    """Records notifications the consumer sends to the control plane."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, str, Any]] = []

    def notify(self, target_id: str, event: str, data: Any = None) -> None:
        self.notifications.append((target_id, event, data))


class Harness:
    def __init__(
        self,
        *,
        kind: str = "video",
        consumer_type: str = "simple",
        encodings: int = 1,
        active_encodings: set[int] | None = None,
    ) -> None:
        # Encodings the producer is receiving; None means all of them.
        self.active_encodings = active_encodings
        self.sent: list[RtpPacket] = []
        self.key_frame_requests: list[int | None] = []
        self.connected = True
        self.channel = FakeChannel()
        links = ConsumerLinks(
            send_rtp=lambda data: self.sent.append(RtpPacket.parse(data)),
            transport_connected=lambda: self.connected,
            next_transport_sequence_number=lambda: 1,
            request_key_frame=lambda now, index: self.key_frame_requests.append(index),
            encoding_active=lambda index, now: (
                self.active_encodings is None or index in self.active_encodings
            ),
        )
        mime = "video/VP8" if kind == "video" else "audio/opus"
        data = {
            "consumerId": "c1",
            "producerId": "p1",
            "kind": kind,
            "type": consumer_type,
            "rtpParameters": {
                "mid": "0",
                "codecs": [{"mimeType": mime, "payloadType": 101, "clockRate": 90000}],
                "headerExtensions": [],
                "encodings": [{"ssrc": CONSUMER_SSRC}],
                "rtcp": {"cname": "x"},
            },
            "consumableRtpEncodings": [{"ssrc": 1000 + i} for i in range(encodings)],
            "paused": False,
        }
        self.now = 0.0
        self.consumer = Consumer(self.channel, "t1", data, links, lambda: self.now)  # type: ignore[arg-type]
        self.consumer.update_active()

    def feed(
        self,
        seq: int,
        *,
        key: bool = False,
        encoding: int = 0,
        pt: int = 101,
        marker: bool = False,
        at: float | None = None,
    ) -> None:
        if at is not None:
            self.now = at
        packet = RtpPacket(
            pt, seq, seq * 3000, 1000 + encoding, marker=marker, payload=b"\x10\x00\x00"
        )
        forwarded = ForwardedPacket(packet, encoding, key, OutgoingHeaderExtensions({}), self.now)
        self.consumer.send(forwarded)

    def sequence_numbers(self) -> list[int]:
        return [packet.sequence_number for packet in self.sent]


def test_video_waits_for_key_frame() -> None:
    harness = Harness()
    assert harness.key_frame_requests == [None]
    harness.feed(10)
    harness.feed(11)
    assert harness.sent == []
    harness.feed(12, key=True)
    harness.feed(13)
    assert len(harness.sent) == 2
    assert all(packet.ssrc == CONSUMER_SSRC for packet in harness.sent)
    first = harness.sent[0].sequence_number
    assert harness.sequence_numbers() == [first, (first + 1) & 0xFFFF]


def test_audio_starts_at_once() -> None:
    harness = Harness(kind="audio")
    harness.feed(5)
    assert len(harness.sent) == 1
    assert harness.key_frame_requests == []


def test_sequence_continuous_across_pause_resume() -> None:
    harness = Harness()
    harness.feed(100, key=True)
    harness.feed(101)
    harness.consumer.handle_request("consumer.pause", {})
    harness.feed(102)
    harness.feed(103)
    harness.consumer.handle_request("consumer.resume", {})
    assert harness.key_frame_requests == [None, None]
    harness.feed(104)
    harness.feed(105, key=True)
    harness.feed(106)
    numbers = harness.sequence_numbers()
    assert len(numbers) == 4
    assert [(n - numbers[0]) & 0xFFFF for n in numbers] == [0, 1, 2, 3]


def test_sequence_continuous_across_wrap() -> None:
    harness = Harness(kind="audio")
    for seq in (65533, 65534, 65535, 0, 1):
        harness.feed(seq)
    numbers = harness.sequence_numbers()
    assert [(n - numbers[0]) & 0xFFFF for n in numbers] == [0, 1, 2, 3, 4]


def test_unknown_payload_type_leaves_no_gap() -> None:
    harness = Harness(kind="audio")
    harness.feed(1)
    harness.feed(2, pt=99)
    harness.feed(3)
    numbers = harness.sequence_numbers()
    assert [(n - numbers[0]) & 0xFFFF for n in numbers] == [0, 1]
    assert harness.consumer.drop_counters["payload_type"] == 1


def test_producer_pause_notifies_and_resyncs() -> None:
    harness = Harness()
    harness.feed(1, key=True)
    harness.consumer.set_producer_paused(True)
    harness.consumer.set_producer_paused(True)
    harness.consumer.set_producer_paused(False)
    events = [event for _target, event, _data in harness.channel.notifications]
    assert events == ["producerpause", "producerresume"]
    harness.feed(2)
    assert len(harness.sent) == 1
    harness.feed(3, key=True)
    assert len(harness.sent) == 2


def test_inactive_until_transport_connected() -> None:
    harness = Harness(kind="audio")
    harness.connected = False
    # The transport calls update_active() whenever its connection state changes.
    harness.consumer.update_active()
    harness.feed(1)
    assert harness.sent == []


def test_simulcast_switches_on_key_frame() -> None:
    harness = Harness(consumer_type="simulcast", encodings=3)
    assert harness.consumer.target_encoding == 2
    harness.feed(10, encoding=0, key=True)
    harness.feed(50, encoding=2)
    assert harness.sent == []
    harness.feed(51, encoding=2, key=True)
    harness.feed(11, encoding=0)
    harness.feed(52, encoding=2)
    assert [packet.ssrc for packet in harness.sent] == [CONSUMER_SSRC, CONSUMER_SSRC]
    harness.consumer.handle_request("consumer.setPreferredLayers", {"spatialLayer": 0})
    assert harness.key_frame_requests[-1] == 0
    harness.feed(53, encoding=2)
    harness.feed(12, encoding=0, key=True)
    harness.feed(13, encoding=0)
    numbers = harness.sequence_numbers()
    assert len(numbers) == 5
    # The last packet before the switch did not end a frame, so one number is skipped.
    assert [(n - numbers[0]) & 0xFFFF for n in numbers] == [0, 1, 2, 4, 5]
    timestamps = [packet.timestamp for packet in harness.sent]
    # Encoding 2 runs on its own timestamps; the switch continues one tick after the last.
    assert timestamps[:3] == [51 * 3000, 52 * 3000, 53 * 3000]
    assert timestamps[3:] == [53 * 3000 + 1, 53 * 3000 + 1 + 3000]
    layer_events = [
        data for _t, event, data in harness.channel.notifications if event == "layerschange"
    ]
    assert layer_events == [
        {"spatialLayer": 2, "temporalLayer": None},
        {"spatialLayer": 0, "temporalLayer": None},
    ]


def test_sender_report_after_sending() -> None:
    harness = Harness(kind="audio")
    assert harness.consumer.sender_report(1000.0) is None
    harness.feed(1)
    report = harness.consumer.sender_report(harness.consumer.last_sent_at + 0.5)
    assert report is not None
    assert report[1] == 200


def test_simulcast_switch_after_frame_end() -> None:
    harness = Harness(consumer_type="simulcast", encodings=2)
    harness.feed(20, encoding=1, key=True)
    harness.feed(21, encoding=1, marker=True)
    harness.consumer.handle_request("consumer.setPreferredLayers", {"spatialLayer": 0})
    harness.feed(7, encoding=0, key=True)
    numbers = harness.sequence_numbers()
    assert [(n - numbers[0]) & 0xFFFF for n in numbers] == [0, 1, 2]


def test_pause_resume_keeps_timestamps() -> None:
    harness = Harness()
    harness.feed(100, key=True)
    harness.consumer.handle_request("consumer.pause", {})
    harness.consumer.handle_request("consumer.resume", {})
    harness.feed(104, key=True)
    assert [packet.timestamp for packet in harness.sent] == [100 * 3000, 104 * 3000]


def test_simulcast_falls_back_to_received_layer() -> None:
    harness = Harness(consumer_type="simulcast", encodings=3, active_encodings={0, 1})
    harness.feed(5, encoding=0, key=True)
    harness.feed(40, encoding=1, key=True)
    harness.feed(41, encoding=1)
    assert harness.consumer.current_encoding == 1
    assert len(harness.sent) == 2
    # The top layer starts arriving: the consumer moves up on its next key frame.
    harness.active_encodings = {0, 1, 2}
    harness.feed(42, encoding=1, marker=True)
    harness.feed(90, encoding=2)
    harness.feed(91, encoding=2, key=True)
    assert harness.consumer.current_encoding == 2
    numbers = harness.sequence_numbers()
    assert [(n - numbers[0]) & 0xFFFF for n in numbers] == [0, 1, 2, 3]


def test_key_frame_requested_again_while_waiting() -> None:
    harness = Harness()
    assert harness.key_frame_requests == [None]
    harness.feed(1, at=0.5)
    harness.feed(2, at=0.9)
    assert harness.key_frame_requests == [None]
    harness.feed(3, at=1.2)
    assert harness.key_frame_requests == [None, None]
    harness.feed(4, at=1.5)
    assert harness.key_frame_requests == [None, None]
    harness.feed(5, at=1.6, key=True)
    harness.feed(6, at=3.0)
    assert harness.key_frame_requests == [None, None]
    assert len(harness.sent) == 2

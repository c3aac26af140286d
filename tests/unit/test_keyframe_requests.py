"""Key-frame request throttling in virtual time."""

import pytest

from workers.keyframe_requests import KeyFrameRequest, KeyFrameRequestManager
from workers.rtcp import Fir, Pli, read_compound

SSRC = 0x1111
OTHER_SSRC = 0x2222


def test_first_request_sent() -> None:
    manager = KeyFrameRequestManager()
    assert manager.key_frame_needed(SSRC, 0.0) == [KeyFrameRequest(SSRC)]
    assert manager.next_timeout() == 1.0


def test_pending_request_marks_retry() -> None:
    manager = KeyFrameRequestManager()
    manager.key_frame_needed(SSRC, 0.0)
    assert manager.key_frame_needed(SSRC, 0.2) == []
    assert manager.key_frame_needed(SSRC, 0.4) == []
    assert manager.handle_timeout(0.999) == []
    # Several marks still give a single retry.
    assert manager.handle_timeout(1.0) == [KeyFrameRequest(SSRC)]
    assert manager.next_timeout() == 2.0
    assert manager.handle_timeout(2.0) == []
    assert manager.next_timeout() is None


def test_unmarked_request_expires_silently() -> None:
    manager = KeyFrameRequestManager()
    manager.key_frame_needed(SSRC, 0.0)
    assert manager.handle_timeout(1.0) == []
    assert manager.next_timeout() is None
    assert manager.key_frame_needed(SSRC, 1.1) == [KeyFrameRequest(SSRC)]


def test_key_frame_clears_pending() -> None:
    manager = KeyFrameRequestManager()
    manager.key_frame_needed(SSRC, 0.0)
    manager.key_frame_needed(SSRC, 0.1)
    manager.key_frame_received(SSRC)
    assert manager.next_timeout() is None
    assert manager.handle_timeout(1.0) == []
    assert manager.key_frame_needed(SSRC, 0.5) == [KeyFrameRequest(SSRC)]


def test_at_most_one_per_second() -> None:
    # A receiver requests a key frame every 100 ms for 5 s and none arrives.
    manager = KeyFrameRequestManager()
    sent_at = []
    for step in range(51):
        now = step / 10
        timeout = manager.next_timeout()
        if timeout is not None and timeout <= now:
            sent_at.extend(now for _ in manager.handle_timeout(now))
        sent_at.extend(now for _ in manager.key_frame_needed(SSRC, now))
    assert sent_at == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_ssrcs_independent() -> None:
    manager = KeyFrameRequestManager()
    assert manager.key_frame_needed(SSRC, 0.0) == [KeyFrameRequest(SSRC)]
    assert manager.key_frame_needed(OTHER_SSRC, 0.5) == [KeyFrameRequest(OTHER_SSRC)]
    manager.key_frame_needed(SSRC, 0.6)
    manager.key_frame_needed(OTHER_SSRC, 0.6)
    assert manager.handle_timeout(1.0) == [KeyFrameRequest(SSRC)]
    assert manager.next_timeout() == 1.5
    manager.key_frame_received(OTHER_SSRC)
    assert manager.handle_timeout(1.5) == []


def test_fir_sequence_numbers_increment() -> None:
    manager = KeyFrameRequestManager(use_fir=True)
    assert manager.key_frame_needed(SSRC, 0.0) == [KeyFrameRequest(SSRC, 0)]
    manager.key_frame_needed(SSRC, 0.5)
    assert manager.handle_timeout(1.0) == [KeyFrameRequest(SSRC, 1)]
    manager.key_frame_received(SSRC)
    assert manager.key_frame_needed(SSRC, 1.2) == [KeyFrameRequest(SSRC, 2)]
    assert manager.key_frame_needed(OTHER_SSRC, 1.2) == [KeyFrameRequest(OTHER_SSRC, 0)]


def test_fir_sequence_number_wraps() -> None:
    manager = KeyFrameRequestManager(use_fir=True)
    numbers = []
    for step in range(257):
        numbers.extend(r.fir_sequence_number for r in manager.key_frame_needed(SSRC, step))
        manager.key_frame_received(SSRC)
    assert numbers[:2] == [0, 1]
    assert numbers[255:] == [255, 0]


def test_request_to_pli() -> None:
    result = read_compound(KeyFrameRequest(SSRC).to_rtcp())
    assert result.packets == [Pli(SSRC, SSRC)]


def test_request_to_fir() -> None:
    data = KeyFrameRequest(SSRC, 7).to_rtcp()
    assert data == bytes.fromhex("84ce0004 00001111 00000000 00001111 07000000")
    assert read_compound(data).packets == [Fir(SSRC, [(SSRC, 7)])]


def test_delay_collapses_requests() -> None:
    manager = KeyFrameRequestManager(key_frame_request_delay=2.0)
    assert manager.key_frame_needed(SSRC, 0.0) == [KeyFrameRequest(SSRC)]
    assert manager.key_frame_needed(SSRC, 0.5) == []
    assert manager.key_frame_needed(SSRC, 1.5) == []
    # The pending request expires unmarked, because the delay absorbed the later ones.
    assert manager.handle_timeout(1.0) == []
    assert manager.next_timeout() == 2.0
    assert manager.handle_timeout(2.0) == [KeyFrameRequest(SSRC)]
    # A new delay window starts with that request.
    assert manager.key_frame_needed(SSRC, 2.5) == []
    assert manager.next_timeout() == 3.0


def test_delay_without_later_request() -> None:
    manager = KeyFrameRequestManager(key_frame_request_delay=2.0)
    manager.key_frame_needed(SSRC, 0.0)
    assert manager.handle_timeout(1.0) == []
    assert manager.handle_timeout(2.0) == []
    assert manager.next_timeout() is None
    assert manager.key_frame_needed(SSRC, 2.1) == [KeyFrameRequest(SSRC)]


def test_delay_collapsed_request_cleared_by_key_frame() -> None:
    manager = KeyFrameRequestManager(key_frame_request_delay=2.0)
    manager.key_frame_needed(SSRC, 0.0)
    manager.key_frame_needed(SSRC, 0.5)
    manager.key_frame_received(SSRC)
    assert manager.handle_timeout(2.0) == []


def test_force_bypasses_pending_and_delay() -> None:
    manager = KeyFrameRequestManager(key_frame_request_delay=2.0)
    manager.key_frame_needed(SSRC, 0.0)
    assert manager.force_key_frame_needed(SSRC, 0.5) == [KeyFrameRequest(SSRC)]
    # The pending wait restarted at 0.5 and is marked for one retry.
    assert manager.handle_timeout(1.0) == []
    assert manager.handle_timeout(1.5) == [KeyFrameRequest(SSRC)]


def test_force_without_pending() -> None:
    manager = KeyFrameRequestManager()
    assert manager.force_key_frame_needed(SSRC, 3.0) == [KeyFrameRequest(SSRC)]
    assert manager.key_frame_needed(SSRC, 3.1) == []


def test_remove_ssrc() -> None:
    manager = KeyFrameRequestManager(key_frame_request_delay=1.0, use_fir=True)
    manager.key_frame_needed(SSRC, 0.0)
    manager.key_frame_needed(SSRC, 0.1)
    manager.remove_ssrc(SSRC)
    assert manager.next_timeout() is None
    assert manager.key_frame_needed(SSRC, 0.2) == [KeyFrameRequest(SSRC, 0)]


def test_negative_delay_rejected() -> None:
    with pytest.raises(ValueError) as error:
        KeyFrameRequestManager(key_frame_request_delay=-1.0)
    assert str(error.value) == "key_frame_request_delay -1.0 is invalid, expected >= 0"

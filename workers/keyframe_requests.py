"""Throttling of key-frame requests (PLI or FIR) sent to a producing endpoint.

Consumers ask for key frames often: on join, on resume, on every PLI from a receiver. The
sender needs only one request per stream at a time. This manager, one per producer, keeps at
most one request outstanding per SSRC and decides when another may go out. It runs in
virtual time: callers pass `now` in seconds, call `handle_timeout` at `next_timeout()`, and
send the RTCP that the returned `KeyFrameRequest`s describe.

Callers skip the request themselves when the packet being processed is already a key frame
or the producer is paused.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.rtcp import Fir, Pli

# A pending request is re-sent once after this long without a key frame, but only if
# another request arrived meanwhile. mediasoup 3.32 waits 1000 ms.
RETRY_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class KeyFrameRequest:
    """A key-frame request to send for one SSRC.

    `fir_sequence_number` is None when the manager sends PLI. With FIR it is the 8-bit
    sequence number of this request, one higher than the previous FIR for the same SSRC.
    """

    ssrc: int
    fir_sequence_number: int | None = None

    def to_rtcp(self) -> bytes:
        """Return the PLI or FIR packet for this request.

        The sender SSRC is the media SSRC, because some stacks reject feedback with sender
        SSRC 0.
        """
        if self.fir_sequence_number is None:
            return bytes(Pli(self.ssrc, self.ssrc))
        return bytes(Fir(self.ssrc, [(self.ssrc, self.fir_sequence_number)]))


class _Pending:
    __slots__ = ("deadline", "retry")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.retry = False


class _Delayer:
    __slots__ = ("deadline", "requested")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.requested = False


class KeyFrameRequestManager:
    """Decides when to send PLI or FIR for each SSRC of one producer.

    With `key_frame_request_delay` (seconds, 0 to disable) the first request for an SSRC goes
    out at once and further ones within the delay collapse into one, which is handled when
    the delay ends. `use_fir` selects FIR (RFC 5104 §4.3.1) instead of PLI, for codecs that
    negotiated `ccm fir` but not `nack pli`.
    """

    def __init__(self, *, key_frame_request_delay: float = 0.0, use_fir: bool = False) -> None:
        if key_frame_request_delay < 0:
            raise ValueError(
                f"key_frame_request_delay {key_frame_request_delay} is invalid, expected >= 0"
            )
        self._delay = key_frame_request_delay
        self._use_fir = use_fir
        self._pending: dict[int, _Pending] = {}
        self._delayers: dict[int, _Delayer] = {}
        self._fir_sequence_numbers: dict[int, int] = {}

    def key_frame_needed(self, ssrc: int, now: float) -> list[KeyFrameRequest]:
        """Register that a key frame is needed for `ssrc` and return what to send now.

        Returns one request when none is outstanding for the SSRC. Otherwise returns none and
        marks the outstanding request for one retry at its deadline.
        """
        if self._delay > 0:
            delayer = self._delayers.get(ssrc)
            if delayer is not None:
                delayer.requested = True
                return []
            self._delayers[ssrc] = _Delayer(now + self._delay)

        pending = self._pending.get(ssrc)
        if pending is not None:
            pending.retry = True
            return []
        self._pending[ssrc] = _Pending(now + RETRY_INTERVAL)
        return [self._request(ssrc)]

    def force_key_frame_needed(self, ssrc: int, now: float) -> list[KeyFrameRequest]:
        """Send a request for `ssrc` now, even if one is outstanding or a delay is running.

        The outstanding request, if any, restarts its wait and will be retried once.
        """
        pending = self._pending.get(ssrc)
        if pending is None:
            self._pending[ssrc] = _Pending(now + RETRY_INTERVAL)
        else:
            pending.deadline = now + RETRY_INTERVAL
            pending.retry = True
        return [self._request(ssrc)]

    def key_frame_received(self, ssrc: int) -> None:
        """Clear the outstanding request of `ssrc`, and any request collapsed by the delay.

        The delay window itself keeps running.
        """
        self._pending.pop(ssrc, None)
        delayer = self._delayers.get(ssrc)
        if delayer is not None:
            delayer.requested = False

    def remove_ssrc(self, ssrc: int) -> None:
        """Forget every state of `ssrc`, for a stream that has gone away."""
        self._pending.pop(ssrc, None)
        self._delayers.pop(ssrc, None)
        self._fir_sequence_numbers.pop(ssrc, None)

    def next_timeout(self) -> float | None:
        """Return when `handle_timeout` must run next, or None when nothing is waiting."""
        deadlines = [pending.deadline for pending in self._pending.values()]
        deadlines.extend(delayer.deadline for delayer in self._delayers.values())
        return min(deadlines, default=None)

    def handle_timeout(self, now: float) -> list[KeyFrameRequest]:
        """Expire the waits that are due at `now` and return the requests to send."""
        requests: list[KeyFrameRequest] = []
        for ssrc, pending in list(self._pending.items()):
            if pending.deadline > now:
                continue
            if not pending.retry:
                del self._pending[ssrc]
                continue
            # The request or its key frame may have been lost. Retry once: the retry flag is
            # cleared, so it repeats only if yet another request arrives meanwhile.
            pending.retry = False
            pending.deadline = now + RETRY_INTERVAL
            requests.append(self._request(ssrc))

        for ssrc, delayer in list(self._delayers.items()):
            if delayer.deadline > now:
                continue
            del self._delayers[ssrc]
            if delayer.requested:
                requests.extend(self.key_frame_needed(ssrc, now))
        return requests

    def _request(self, ssrc: int) -> KeyFrameRequest:
        if not self._use_fir:
            return KeyFrameRequest(ssrc)
        sequence_number = (self._fir_sequence_numbers.get(ssrc, -1) + 1) & 0xFF
        self._fir_sequence_numbers[ssrc] = sequence_number
        return KeyFrameRequest(ssrc, sequence_number)

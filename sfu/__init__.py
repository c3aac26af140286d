"""pysfu control plane: a mediasoup-style API over media worker processes."""

from sfu.consumer import Consumer
from sfu.errors import (
    InvalidParameterError,
    InvalidStateError,
    NotFoundError,
    RequestTimeoutError,
    SfuError,
    UnsupportedError,
    WorkerStartError,
)
from sfu.pipe_transport import PipeTransport
from sfu.plain_transport import PlainTransport
from sfu.producer import Producer
from sfu.router import PipeToRouterResult, Router
from sfu.rtp_observer import ActiveSpeakerObserver, AudioLevelObserver, RtpObserver
from sfu.transport import Transport
from sfu.webrtc_server import WebRtcServer
from sfu.webrtc_transport import WebRtcTransport
from sfu.worker import Worker, WorkerDiedError, create_worker

__all__ = [
    "ActiveSpeakerObserver",
    "AudioLevelObserver",
    "Consumer",
    "InvalidParameterError",
    "InvalidStateError",
    "NotFoundError",
    "PipeToRouterResult",
    "PipeTransport",
    "PlainTransport",
    "Producer",
    "RequestTimeoutError",
    "Router",
    "RtpObserver",
    "SfuError",
    "Transport",
    "UnsupportedError",
    "WebRtcServer",
    "WebRtcTransport",
    "Worker",
    "WorkerDiedError",
    "WorkerStartError",
    "create_worker",
]

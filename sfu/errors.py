"""Typed errors raised by the pysfu control plane."""


class SfuError(Exception):
    """Base class of every error that pysfu raises on purpose."""


class InvalidStateError(SfuError):
    """The object is closed, or the call does not fit its current state."""


class UnsupportedError(SfuError):
    """The request is well formed but requests something pysfu cannot do (a codec, a mode)."""


class InvalidParameterError(SfuError, ValueError):
    """A caller passed a value of the wrong type or out of range; the message names it."""


class NotFoundError(SfuError, LookupError):
    """An id (producer, router, transport) does not name a live object."""


class RequestTimeoutError(SfuError, TimeoutError):
    """A request to a worker process got no response in time."""


class WorkerStartError(SfuError):
    """The worker process could not be started or did not report ready."""

"""Errors a worker reports back in a response; the control plane maps the class names."""


class WorkerRequestError(Exception):
    """Base: `name` is the error class the control plane raises (see sfu/channel.py)."""

    name = "SfuError"


class InvalidStateError(WorkerRequestError):
    name = "InvalidStateError"


class InvalidParameterError(WorkerRequestError):
    name = "InvalidParameterError"


class NotFoundError(WorkerRequestError):
    name = "NotFoundError"


class UnsupportedError(WorkerRequestError):
    name = "UnsupportedError"

"""Errors returned to room requests, and their mapping from control-plane errors."""

from typing import Any, Literal

from sfu import InvalidParameterError, InvalidStateError, NotFoundError, UnsupportedError

ErrorCode = Literal[
    "invalid_payload",
    "not_joined",
    "already_joined",
    "not_found",
    "forbidden",
    "unsupported",
    "invalid_state",
    "payload_too_large",
    "rate_limited",
    "internal",
]


class RequestError(Exception):
    """A request failed; the client gets `{"error": {"code", "message"}}`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message

    def answer(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class PayloadError(RequestError):
    """A payload field is missing or has the wrong type or size; the message names it."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_payload", message)


def from_sfu_error(error: Exception) -> RequestError | None:
    """Return the RequestError for an error raised by the `sfu` control plane, or None."""
    if isinstance(error, InvalidParameterError):
        return PayloadError(str(error))
    if isinstance(error, UnsupportedError):
        return RequestError("unsupported", str(error))
    if isinstance(error, NotFoundError):
        return RequestError("not_found", str(error))
    if isinstance(error, InvalidStateError):
        return RequestError("invalid_state", str(error))
    return None

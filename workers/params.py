"""Readers for request data that name the bad field in their errors."""

from typing import Any, TypeVar

from workers.errors import InvalidParameterError

T = TypeVar("T")


def require(data: dict[str, Any], key: str, kind: type[T]) -> T:
    """Return `data[key]` if it is a `kind`; bools never count as ints."""
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidParameterError(f"{key} must be a {kind.__name__}, got {value!r}")
    return value


def optional(data: dict[str, Any], key: str, kind: type[T], default: T) -> T:
    """Return `data[key]` if present and a `kind`, `default` if absent or None."""
    if data.get(key) is None:
        return default
    return require(data, key, kind)

"""Lookup of the worker's live objects by id, for routing requests."""

from typing import Any, Protocol

from workers.errors import NotFoundError


class RequestTarget(Protocol):
    """A worker object that handles requests addressed to its id."""

    id: str

    def handle_request(self, method: str, data: dict[str, Any]) -> Any: ...


class Registry:
    """All live objects of one worker by id; objects add themselves and remove themselves."""

    def __init__(self) -> None:
        self._objects: dict[str, RequestTarget] = {}

    def add(self, target: RequestTarget) -> None:
        if target.id in self._objects:
            raise NotFoundError(f"id {target.id!r} is already in use")
        self._objects[target.id] = target

    def remove(self, target_id: str) -> None:
        self._objects.pop(target_id, None)

    def get(self, target_id: str | None) -> RequestTarget:
        target = self._objects.get(target_id or "")
        if target is None:
            raise NotFoundError(f"no object with id {target_id!r} in this worker")
        return target

    def __contains__(self, target_id: str) -> bool:
        return target_id in self._objects

    def __len__(self) -> int:
        return len(self._objects)

"""Lifecycle shared by every control-plane object: ids, events, app data and the close cascade.

The cascade is written once here. An object closed by its owner's `close()` sends a close
request to the worker and removes itself from its parent. An object closed because its parent
closed sends nothing (the worker closes its own copy as part of the parent's close) and
emits the event its parent names, such as `routerclose` or `transportclose`.
"""

from collections.abc import Callable
from typing import Any

import structlog
from pyee import EventEmitter

from sfu.errors import InvalidStateError

_logger = structlog.get_logger("sfu")


class SafeEventEmitter(EventEmitter):
    """pyee emitter whose listeners cannot break the caller: their exceptions are logged."""

    def _emit_run(
        self, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        try:
            f(*args, **kwargs)
        except Exception:
            _logger.exception("event listener raised", listener=getattr(f, "__qualname__", f))


class Entity(SafeEventEmitter):
    """Base of Worker, Router, transports, producers, consumers, servers and observers.

    Subclasses list their child registries in `_children()` and name the event a child
    emits when this object closes (`child_close_event`).
    """

    child_close_event = ""

    def __init__(self, id: str, app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self._id = id
        self._closed = False
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = SafeEventEmitter()
        self._on_forget: Callable[[], None] | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close this object and everything under it; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        self._request_close()
        if self._on_forget is not None:
            self._on_forget()
        self._close_children()
        self._after_close()
        self.observer.emit("close")

    def parent_closed(self, event: str) -> None:
        """Close because an owner closed; emit `event` (for example `routerclose`) once."""
        if self._closed:
            return
        self._closed = True
        self._close_children()
        self._after_close()
        self.emit(event)
        self.observer.emit("close")

    def _children(self) -> list[dict[str, "Entity"]]:
        """Return the registries of objects that close with this one."""
        return []

    def _close_children(self) -> None:
        for registry in self._children():
            for child in list(registry.values()):
                child.parent_closed(self.child_close_event)
            registry.clear()

    def _request_close(self) -> None:
        """Ask the worker to close its copy of this object; subclasses override."""

    def _after_close(self) -> None:
        """Release what this object holds besides its children (channel subscriptions)."""

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise InvalidStateError(f"cannot {action}: {type(self).__name__} {self._id} is closed")

    def _adopt(self, registry: dict[str, "Entity"], child: "Entity") -> None:
        """Register `child` so that it closes with this object and is forgotten on its close."""
        registry[child.id] = child

        def forget() -> None:
            registry.pop(child.id, None)

        child._on_forget = forget

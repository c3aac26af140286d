"""Record events of control-plane objects in the order they fire."""

from typing import Any


class EventLog:
    """Subscribe to named events of several objects and keep `(label, event)` in order."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def watch(self, label: str, emitter: Any, *events: str) -> None:
        for event in events:
            emitter.on(event, self._recorder(label, event))

    def _recorder(self, label: str, event: str) -> Any:
        def record(*_args: Any) -> None:
            self.entries.append((label, event))

        return record

    def count(self, label: str, event: str) -> int:
        return self.entries.count((label, event))

"""What command handlers need from the outside world, as protocols (the Redis store implements them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.envelope import EventOrigin, NewEvent, Position, StoredEvent


class EventStore(Protocol):
    async def read_stream(self, stream: str, from_version: int = 1) -> list[StoredEvent]: ...

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int, origin: EventOrigin
    ) -> list[Position]: ...

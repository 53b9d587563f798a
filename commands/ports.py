"""What command handlers need from the outside world, as protocols (the Redis store implements them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.envelope import EventOrigin, NewEvent, Position, StoredEvent


class EventStore(Protocol):
    async def read_stream(self, stream: str, from_version: int = 1) -> list[StoredEvent]: ...

    async def load_snapshot(self, stream: str, name: str) -> bytes | None: ...

    async def save_snapshot(self, stream: str, name: str, version: int, snapshot: bytes) -> None:
        """Keep it unless a snapshot at a later version is already there."""

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int, origin: EventOrigin
    ) -> list[Position]: ...

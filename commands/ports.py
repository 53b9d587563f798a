"""What command handlers need from the outside world, as protocols (the Redis store implements them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeGuard

from domain.envelope import EventOrigin, NewEvent, Position, StoredEvent


class EventStore(Protocol):
    async def read_stream(self, stream: str, from_version: int = 1) -> list[StoredEvent]: ...

    async def load_snapshot(self, stream: str, name: str) -> bytes | None: ...

    async def save_snapshot(
        self, stream: str, name: str, version: int, snapshot: bytes, *, tenant: str = ""
    ) -> None:
        """Keep it unless a snapshot at a later version is already there."""

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int, origin: EventOrigin
    ) -> list[Position]: ...

    async def positions_of(self, stream: str, event_ids: Sequence[str]) -> list[Position | None]:
        """Where each event landed in `stream`; None for one that is not stored there."""


class StreamHead(Protocol):
    """A stream's version and the hash of its newest event (what an append chains to)."""

    @property
    def version(self) -> int: ...
    @property
    def hash(self) -> str: ...


class VerifyingStore(EventStore, Protocol):
    """A store a cached fold can be checked against (commands/fold_cache.py): the events after a version
    with the head in one round trip, and an append told the head it chains to (no second read of it)."""

    async def read_after(self, stream: str, version: int) -> tuple[list[StoredEvent], StreamHead]: ...

    async def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_version: int,
        origin: EventOrigin,
        *,
        head: StreamHead | None = None,
    ) -> list[Position]: ...


def verifying(store: EventStore) -> TypeGuard[VerifyingStore]:
    return hasattr(store, "read_after")


class VaultCredential(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...


class CredentialVault(Protocol):
    """Where a tenant's credentials live (its n8n instance): it encrypts and keeps the data; we keep
    only what it names them by."""

    async def credential_schema(self, type: str) -> dict[str, Any] | None:
        """None: the instance has no credential type of that name."""

    async def create_credential(self, name: str, type: str, data: Mapping[str, Any]) -> VaultCredential: ...

    async def delete_credential(self, credential_id: str) -> None: ...

    async def list_credentials(self) -> Sequence[VaultCredential]: ...

"""What command handlers need from the outside world, as protocols (the Redis store implements them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

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

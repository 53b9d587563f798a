"""Events and snapshots, sealed for the log and opened for authorised readers.

`seal` runs in the store's append, which knows the version each event will have (the associated data
binds it); `open` runs where an authorised reader needs the text (the store's reads for the process
managers, the API for the tenant that owns the event). A field whose subject was shredded opens as
`[shredded]`; one that does not open where it is found (moved, edited) raises FieldTampered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from domain.canonical import content_digest
from domain.envelope import Envelope, NewEvent, aggregate_id
from domain.errors import MalformedEvent, UnknownEventType
from domain.registry import EventRegistry
from domain.sealed_fields import map_paths, sealed_paths
from infra.crypto.datakeys import DataKey, DataKeys
from infra.crypto.fields import (
    ALGORITHM,
    PREFIX,
    SHREDDED,
    FieldContext,
    FieldTampered,
    is_sealed,
    keyed_digest,
    open_field,
    seal_field,
)

_SNAPSHOT: Final = b"aiwf:snap:1\n"
SEALED_STREAMS: Final = ("conversation-",)  # whose events may carry sealed fields (subject: the aggregate)


class SealedEvent(msgspec.Struct, frozen=True, kw_only=True):
    event: NewEvent  # with its sensitive fields sealed
    digest: str  # what the store's idempotency compares
    keyid: str | None = None
    encalg: str | None = None


def subject_of(stream: str) -> str | None:
    return aggregate_id(stream) if stream.startswith(SEALED_STREAMS) else None


class EventCipher:
    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    async def seal(
        self, tenant: str, stream: str, first_version: int, events: Sequence[NewEvent]
    ) -> list[SealedEvent]:
        subject = subject_of(stream)
        sealed: list[SealedEvent] = []
        for version, event in enumerate(events, start=first_version):
            paths = sealed_paths(event.data) if subject is not None else ()
            if not paths or subject is None:
                sealed.append(SealedEvent(event=event, digest=content_digest(event.data)))
                continue
            key = await self.keys.for_subject(tenant, subject)
            place = FieldContext(tenant=tenant, stream=stream, version=version, event_id=event.id, field="")

            def seal(path: str, value: str, key: DataKey = key, place: FieldContext = place) -> str:
                return seal_field(key.secret, msgspec.structs.replace(place, field=path), value)

            data = map_paths(event.data, paths, seal)
            digest = keyed_digest(key.secret, content_digest(event.data).encode())
            sealed.append(
                SealedEvent(
                    event=msgspec.structs.replace(event, data=data),
                    digest=digest,
                    keyid=key.key_id,
                    encalg=ALGORITHM,
                )
            )
        return sealed

    async def open(self, envelope: Envelope) -> Envelope:
        """The envelope with its sealed fields in clear, or `[shredded]`."""
        subject = subject_of(envelope.stream)
        if envelope.keyid is None or subject is None:
            return envelope
        paths = sealed_paths(envelope.data)
        if not paths:
            return envelope
        key = await self.keys.existing(envelope.tenant, subject)
        place = FieldContext(
            tenant=envelope.tenant,
            stream=envelope.stream,
            version=envelope.version,
            event_id=envelope.id,
            field="",
        )

        def reveal(path: str, value: str) -> str:
            if key is None or key.key_id != envelope.keyid:
                return SHREDDED
            if not is_sealed(value):
                return value
            return open_field(key.secret, msgspec.structs.replace(place, field=path), value)

        return msgspec.structs.replace(envelope, data=map_paths(envelope.data, paths, reveal))

    async def open_raw(self, registry: EventRegistry, raw: bytes) -> bytes:
        """A stored event as it is streamed to its tenant: sealed fields opened (the stored bytes, which
        the hash covers, stay in the log and the audit feed)."""
        if PREFIX.encode() not in raw:
            return raw
        try:
            envelope = registry.decode(raw)
        except (MalformedEvent, UnknownEventType):
            return raw
        return msgspec.json.encode(await self.open(envelope))

    async def seal_snapshot(self, tenant: str, stream: str, name: str, blob: bytes) -> bytes:
        """Sealed when the stream's subject has a key (it holds sealed fields): a snapshot holds plaintext."""
        subject = subject_of(stream)
        key = await self.keys.existing(tenant, subject) if subject is not None else None
        if key is None:
            return blob
        place = _snapshot_place(tenant, stream, name)
        return _SNAPSHOT + tenant.encode() + b"\n" + seal_field(key.secret, place, blob.decode()).encode()

    async def open_snapshot(self, stream: str, name: str, stored: bytes) -> bytes | None:
        """The snapshot in clear; None when it cannot be opened (shredded, or not ours): refold instead."""
        if not stored.startswith(_SNAPSHOT):
            return stored
        header, _, sealed = stored.removeprefix(_SNAPSHOT).partition(b"\n")
        tenant, subject = header.decode(), subject_of(stream)
        key = await self.keys.existing(tenant, subject) if subject is not None else None
        if key is None:
            return None
        try:
            return open_field(key.secret, _snapshot_place(tenant, stream, name), sealed.decode()).encode()
        except (FieldTampered, UnicodeDecodeError):  # a cache that does not open is one to rebuild
            return None


def _snapshot_place(tenant: str, stream: str, name: str) -> FieldContext:
    return FieldContext(tenant=tenant, stream=stream, version=0, event_id=f"snapshot:{name}", field="state")

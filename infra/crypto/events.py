"""Events and snapshots, sealed for the log and opened for authorised readers.

`seal` runs in the store's append, which knows the version each event will have (the associated data
binds it) and whose key seals the stream (domain/sealed_fields.py); `open` runs where an authorised reader
needs the text (the store's reads for the process managers, the API for the tenant that owns the event).
The envelope's `keyid` is `<subject>/<key id>`, so an event names the key that opens it wherever it is
read. A field whose subject was shredded opens as `[shredded]`; one that does not open where it is found
(moved, edited) raises FieldTampered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from domain.canonical import content_digest
from domain.envelope import Envelope, NewEvent
from domain.errors import MalformedEvent, UnknownEventType
from domain.registry import EventRegistry, type_name
from domain.sealed_fields import map_paths, own_subject, sealed_paths, with_digests
from infra.crypto.datakeys import DataKey, DataKeys
from infra.crypto.fields import (
    ALGORITHM,
    PREFIX,
    SHREDDED,
    FieldContext,
    FieldSealer,
    FieldTampered,
    is_sealed,
    keyed_digest,
    open_field,
    seal_field,
)

_SNAPSHOT: Final = b"aiwf:snap:1\n"  # then the tenant; the subject is the stream's own
_SNAPSHOT_OF: Final = b"aiwf:snap:2\n"  # then the tenant and the subject


class SealedEvent(msgspec.Struct, frozen=True, kw_only=True):
    event: NewEvent  # with its sensitive fields sealed
    digest: str  # what the store's idempotency compares
    keyid: str | None = None
    encalg: str | None = None


class UnsealableEvent(RuntimeError):
    """An event has fields to seal in a stream whose subject nobody named: refused rather than stored
    in clear."""


def keyid_of(subject: str, key: DataKey) -> str:
    return f"{subject}/{key.key_id}"


def subject_of_keyid(keyid: str, stream: str) -> tuple[str | None, str]:
    """(subject, key id) named by an envelope's `keyid`; events sealed before keyids named their
    subject were all in conversations, sealed under the conversation's own key."""
    subject, _, key_id = keyid.rpartition("/")
    return (subject or own_subject(stream)), key_id


class EventCipher:
    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    async def seal(
        self, tenant: str, stream: str, subject: str | None, first_version: int, events: Sequence[NewEvent]
    ) -> list[SealedEvent]:
        sealed: list[SealedEvent] = []
        for version, event in enumerate(events, start=first_version):
            paths = sealed_paths(event.data)
            if not paths:
                sealed.append(SealedEvent(event=event, digest=content_digest(event.data)))
                continue
            if subject is None:
                what = f"{type_name(type(event.data))} {event.id} in {stream}"
                raise UnsealableEvent(f"{what}: no subject to seal it for")
            key = await self.keys.for_subject(tenant, subject)
            place = FieldContext(tenant=tenant, stream=stream, version=version, event_id=event.id, field="")
            data = with_digests(map_paths(event.data, paths, FieldSealer(key.aead, place)))
            digest = keyed_digest(key.mac, content_digest(event.data).encode())
            sealed.append(
                SealedEvent(
                    event=msgspec.structs.replace(event, data=data),
                    digest=digest,
                    keyid=keyid_of(subject, key),
                    encalg=ALGORITHM,
                )
            )
        return sealed

    async def open(self, envelope: Envelope) -> Envelope:
        """The envelope with its sealed fields in clear, or `[shredded]`."""
        if envelope.keyid is None:
            return envelope
        paths = sealed_paths(envelope.data)
        subject, key_id = subject_of_keyid(envelope.keyid, envelope.stream)
        if not paths or subject is None:
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
            if key is None or key.key_id != key_id:
                return SHREDDED
            if not is_sealed(value):
                return value
            return open_field(key.aead, msgspec.structs.replace(place, field=path), value)

        return msgspec.structs.replace(envelope, data=with_digests(map_paths(envelope.data, paths, reveal)))

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

    async def seal_snapshot(
        self, tenant: str, stream: str, subject: str | None, name: str, blob: bytes
    ) -> bytes:
        """Sealed when the stream's subject has a key (it holds sealed fields): a snapshot holds plaintext."""
        key = await self.keys.existing(tenant, subject) if subject is not None else None
        if key is None or subject is None:
            return blob
        place = _snapshot_place(tenant, stream, name)
        header = _SNAPSHOT_OF + tenant.encode() + b"\n" + subject.encode() + b"\n"
        return header + seal_field(key.aead, place, blob.decode()).encode()

    async def open_snapshot(self, stream: str, name: str, stored: bytes) -> bytes | None:
        """The snapshot in clear; None when it cannot be opened (shredded, or not ours): refold instead."""
        if stored.startswith(_SNAPSHOT_OF):
            tenant, subject, sealed = stored.removeprefix(_SNAPSHOT_OF).split(b"\n", 2)
            return await self._open_snapshot(tenant.decode(), subject.decode(), stream, name, sealed)
        if stored.startswith(_SNAPSHOT):
            tenant, _, sealed = stored.removeprefix(_SNAPSHOT).partition(b"\n")
            return await self._open_snapshot(tenant.decode(), own_subject(stream), stream, name, sealed)
        return stored

    async def _open_snapshot(
        self, tenant: str, subject: str | None, stream: str, name: str, sealed: bytes
    ) -> bytes | None:
        key = await self.keys.existing(tenant, subject) if subject is not None else None
        if key is None:
            return None
        try:
            return open_field(key.aead, _snapshot_place(tenant, stream, name), sealed.decode()).encode()
        except (FieldTampered, UnicodeDecodeError):  # a cache that does not open is one to rebuild
            return None


def _snapshot_place(tenant: str, stream: str, name: str) -> FieldContext:
    return FieldContext(tenant=tenant, stream=stream, version=0, event_id=f"snapshot:{name}", field="state")

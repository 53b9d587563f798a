"""The CloudEvents 1.0 envelope every event travels in, on the stream and in the archive.

Structured-mode JSON: the CloudEvents attributes, our extensions, and the payload under `data`.
Attributes that are absent are omitted (never `null`), so the canonical form stays small and stable.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from domain.types import UtcDatetime

SPEC_VERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
GENESIS_HASH = "0" * 64

# `aiwf.<aggregate>.<event>.v<N>`: a new shape is a new version, never a rename.
EventTypeName = Annotated[str, msgspec.Meta(pattern=r"^aiwf\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$")]
# `<category>-<id>`: the category names the aggregate, the id is opaque.
StreamName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z_]*-[A-Za-z0-9._:-]{1,200}$")]


def aggregate_id(stream: str) -> str:
    """`conversation-<id>` → `<id>`: the aggregate's id, and the CloudEvents `subject` of its events."""
    return stream.partition("-")[2]


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of every payload. Subclasses name their wire type in `event_type` (a ClassVar).

    Fields at their default are left out of the JSON (smaller log, same canonical form everywhere)."""


class EnvelopeHeader(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Everything but the payload: what routing, auditing and chaining need."""

    specversion: str
    id: str
    source: str
    type: EventTypeName
    time: UtcDatetime
    datacontenttype: str
    tenant: str
    stream: StreamName
    version: Annotated[int, msgspec.Meta(ge=1)]
    prevhash: str
    subject: str | None = None
    dataschema: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None
    # Set when `data` is encrypted (security issue): key id and algorithm.
    keyid: str | None = None
    encalg: str | None = None
    hash: str | None = None


class Envelope(EnvelopeHeader, frozen=True, kw_only=True, omit_defaults=True):
    """A typed event: header plus the payload Struct (already upcast to its newest version)."""

    data: DomainEvent


class WireEnvelope(EnvelopeHeader, frozen=True, kw_only=True, omit_defaults=True):
    """The envelope as stored: payload kept as raw JSON until the registry types it."""

    data: msgspec.Raw


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """Where an appended event landed: its aggregate version and its partition log entry id."""

    stream: str
    version: int
    partition: int
    log_id: str


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event read back from the store: its exact bytes, its typed envelope, its position."""

    raw: bytes
    envelope: Envelope
    log_id: str | None = None


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event a decider produced, before the store gives it a version and a place in the chain."""

    data: DomainEvent
    id: str
    time: UtcDatetime
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None


class EventOrigin(msgspec.Struct, frozen=True, kw_only=True):
    """Who writes: the tenant the stream belongs to and the CloudEvents `source` of the writer."""

    tenant: str
    source: str

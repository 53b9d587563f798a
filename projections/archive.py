"""Read model `event_archive`: every event, as stored, for audits and for rebuilding after trimming."""

from __future__ import annotations

from datetime import datetime

import msgspec

from projections.events import ProjectedEvent


class ArchiveRow(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    version: int
    event_id: str
    tenant: str
    type: str
    time: datetime
    partition: int
    log_id: str
    correlation_id: str | None
    event: str


def archive_rows(event: ProjectedEvent) -> list[ArchiveRow]:
    envelope = event.envelope
    return [
        ArchiveRow(
            stream=envelope.stream,
            version=envelope.version,
            event_id=envelope.id,
            tenant=envelope.tenant,
            type=envelope.type,
            time=envelope.time,
            partition=event.partition,
            log_id=event.log_id,
            correlation_id=envelope.correlationid,
            event=event.raw.decode(),
        )
    ]

"""Read model `sboms`: the CycloneDX document of every revision of every workflow, stored as built.

A third shape of read model, derived from two others of its projector in the same transaction:
`sbom_workflows` (each workflow's revisions) and `sbom_sources` (the conversation events they cite). A
workflow and its conversation hash to different partitions, folded by different batches, possibly at the
same time, so the two sides meet under a transaction-scoped advisory lock per conversation: whichever
commits second sees the other. A revision whose draft names a model decision not yet folded waits (no
row) and is built when the decision arrives. The document is a pure function of the two folds, which
are functions of the log, so a rebuild writes the same bytes whatever order the partitions come in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from domain.n8n.catalog import NodeCatalog
from projections.events import ProjectedEvent, aggregate_id
from projections.read_model import Conn
from projections.sbom import build_sbom, sources_complete
from projections.sbom_inputs import AnySource, RevisionRecord, SbomSubject, decode_source

_subject_decoder = msgspec.json.Decoder(SbomSubject)


class SbomRow(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    revision: int
    tenant: str
    document: str  # the JSON exactly as served
    etag: str  # sha256 of the document
    bom_version: int
    built_at: datetime  # the document's metadata.timestamp: the newest event it says something of


@dataclass(frozen=True)
class SbomModel:
    table: str
    subjects: str  # the table of the workflows' folds
    sources: str  # the table of the conversations' sources
    catalog: NodeCatalog
    generator: str  # our version, named in each document as the tool that wrote it

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table,)

    def touches(self, event: ProjectedEvent) -> bool:
        return event.envelope.stream.startswith("workflow-") or _cites(event)

    async def apply(self, conn: Conn, events: Sequence[ProjectedEvent], names: Mapping[str, str]) -> None:
        touched = _touched_workflows(events)
        conversations = {aggregate_id(e.envelope.stream) for e in events if _cites(e)}
        if not touched and not conversations:
            return
        await _lock(conn, names[self.subjects], touched, conversations)
        # After the lock: the other side's commit, if any, is visible to these reads.
        subjects, built = await self._subjects(conn, names, set(touched), conversations)
        wanted = [
            (subject, record)
            for subject in subjects
            for record in subject.revisions
            if record.last_version >= touched.get(subject.workflow_id, 1 << 62)
            or (subject.workflow_id, record.revision) not in built
        ]
        if not wanted:
            return
        sources = await self._sources(conn, names, {s.conversation_id for s, _ in wanted})
        rows = [
            row
            for subject, record in wanted
            if (row := self._row(subject, record, sources.get(subject.conversation_id, []))) is not None
        ]
        await self._upsert(conn, names[self.table], rows)

    def _row(self, subject: SbomSubject, record: RevisionRecord, sources: list[AnySource]) -> SbomRow | None:
        if not sources_complete(record, sources):
            return None  # its conversation's partition is behind: built when the decision arrives
        document = build_sbom(subject, record, sources, self.catalog, self.generator)
        return SbomRow(
            workflow_id=subject.workflow_id,
            revision=record.revision,
            tenant=subject.tenant,
            document=document.decode(),
            etag=hashlib.sha256(document).hexdigest(),
            bom_version=record.events,
            built_at=record.updated_at,
        )

    async def _subjects(
        self, conn: Conn, names: Mapping[str, str], workflows: set[str], conversations: set[str]
    ) -> tuple[list[SbomSubject], set[tuple[str, int]]]:
        """The workflows of the batch and of its conversations, and which of their revisions have a
        document already."""
        records = await conn.fetch(
            f"SELECT w.workflow_id, w.document, ARRAY(SELECT s.revision FROM {names[self.table]} AS s "
            "WHERE s.workflow_id = w.workflow_id) AS built "
            f"FROM {names[self.subjects]} AS w "
            "WHERE w.workflow_id = ANY($1::text[]) OR w.conversation_id = ANY($2::text[]) "
            "ORDER BY w.workflow_id",
            list(workflows),
            list(conversations),
        )
        subjects = [_subject_decoder.decode(r["document"]) for r in records]
        built = {(r["workflow_id"], revision) for r in records for revision in r["built"]}
        return subjects, built

    async def _sources(
        self, conn: Conn, names: Mapping[str, str], conversations: set[str]
    ) -> dict[str, list[AnySource]]:
        records = await conn.fetch(
            f"SELECT conversation_id, document FROM {names[self.sources]} "
            "WHERE conversation_id = ANY($1::text[]) ORDER BY conversation_id, version",
            list(conversations),
        )
        found: dict[str, list[AnySource]] = {}
        for record in records:
            found.setdefault(record["conversation_id"], []).append(decode_source(record["document"]))
        return found

    async def _upsert(self, conn: Conn, table: str, rows: list[SbomRow]) -> None:
        if not rows:
            return
        columns = SbomRow.__struct_fields__
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("workflow_id", "revision"))
        await conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT (workflow_id, revision) DO UPDATE SET {updates}",
            [msgspec.structs.astuple(row) for row in rows],
        )


def _touched_workflows(events: Sequence[ProjectedEvent]) -> dict[str, int]:
    """Each workflow with events in the batch, and the first stream version among them."""
    first: dict[str, int] = {}
    for event in events:
        stream = event.envelope.stream
        if stream.startswith("workflow-"):
            key = aggregate_id(stream)
            first[key] = min(first.get(key, event.envelope.version), event.envelope.version)
    return first


def _cites(event: ProjectedEvent) -> bool:
    """A model decision of a conversation: what a waiting revision may be missing."""
    return event.envelope.stream.startswith("conversation-") and event.envelope.type.startswith(
        "aiwf.conversation.inference_decided."
    )


# The advisory lock key of a conversation: the first 8 bytes of a SHA-256, as a signed bigint.
_LOCK_KEY = "('x' || left(encode(sha256(convert_to('aiwf.sbom/' || c, 'UTF8')), 'hex'), 16))::bit(64)::bigint"


async def _lock(conn: Conn, subjects: str, workflows: Mapping[str, int], conversations: set[str]) -> None:
    """One lock per conversation, of the batch's workflows and of its decisions, taken in a fixed order
    (no deadlock between two batches), in the statement that finds the workflows' conversations."""
    if workflows or conversations:
        await conn.execute(
            f"SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT {_LOCK_KEY} AS k FROM ("
            f"SELECT conversation_id AS c FROM {subjects} WHERE workflow_id = ANY($1::text[]) "
            "UNION SELECT unnest($2::text[])) AS conversations ORDER BY k) AS ordered",
            list(workflows),
            list(conversations),
        )

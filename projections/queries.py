"""The read side's queries: every one takes the tenant, so nothing of another tenant is ever read."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from projections.agent_state import AgentStateDoc
from projections.conversations import ConversationRow, MessageRow
from projections.inference_costs import DailyCost
from projections.read_model import Conn
from projections.workflows import WorkflowDoc

Source = Conn | asyncpg.Pool  # a connection, or the pool itself for one-statement reads

_doc = msgspec.json.Decoder(AgentStateDoc)
_workflow = msgspec.json.Decoder(WorkflowDoc)


# Keyset cursors, opaque to callers; every string a pattern matches is a position to read after, so a
# client generated from the OpenAPI document never sends one that is refused. Times are microseconds
# since the epoch: 17 digits reach the year 5138, within what Python and PostgreSQL hold.
KEYSET_CURSOR = r"^([0-9]{1,17})[.]([^\u0000]*)$"  # <time µs>.<id> (PostgreSQL text holds no U+0000)
EVENT_CURSOR = r"^([0-9]{1,17})[.]([0-9]{1,18})[.]([^\u0000]*)$"  # <log time µs>.<version>.<stream>
VERSION_CURSOR = r"^[0-9]{1,18}$"  # a version, compared as a bigint (which holds 18 digits)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """Keyset pagination: `after` is opaque to callers (the last item's sort key)."""

    limit: int = 50
    after: str | None = None


class ArchivedEvent(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    version: int
    type: str
    time: datetime
    log_id: str
    partition: int
    event: str  # the CloudEvent exactly as stored (its hash verifies)
    opened: str | None = None  # its `data` with sealed fields opened for the reader (absent: none sealed)


class EventFilter(msgspec.Struct, frozen=True, kw_only=True):
    stream: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def get_conversation(conn: Source, tenant: str, conversation_id: str) -> ConversationRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM conversations WHERE tenant = $1 AND conversation_id = $2", tenant, conversation_id
    )
    return ConversationRow(**dict(row)) if row else None


async def list_conversations(
    conn: Source, tenant: str, page: Page, customer_id: str | None = None
) -> list[ConversationRow]:
    """Newest first (of one customer's, when named); the cursor is `<started_at µs>.<conversation_id>`."""
    started, cid = _split_cursor(page.after, KEYSET_CURSOR)
    rows = await conn.fetch(
        "SELECT * FROM conversations WHERE tenant = $1 "
        "AND ($2::timestamptz IS NULL OR (started_at, conversation_id) < ($2, $3)) "
        "AND ($5::text IS NULL OR customer_id = $5) "
        "ORDER BY started_at DESC, conversation_id DESC LIMIT $4",
        tenant,
        started,
        cid,
        page.limit,
        customer_id,
    )
    return [ConversationRow(**dict(row)) for row in rows]


def conversation_cursor(row: ConversationRow) -> str:
    return f"{_micros(row.started_at)}.{row.conversation_id}"


async def list_messages(conn: Source, tenant: str, conversation_id: str, page: Page) -> list[MessageRow]:
    if page.after and not re.match(VERSION_CURSOR, page.after):
        raise BadCursor("the cursor is not one this API issued")
    after = int(page.after) if page.after else 0
    rows = await conn.fetch(
        "SELECT * FROM messages WHERE tenant = $1 AND conversation_id = $2 AND version > $3::bigint "
        "ORDER BY version LIMIT $4",
        tenant,
        conversation_id,
        after,
        page.limit,
    )
    return [MessageRow(**dict(row)) for row in rows]


async def get_agent_state(conn: Source, tenant: str, conversation_id: str) -> AgentStateDoc | None:
    document = await conn.fetchval(
        "SELECT document FROM agent_state WHERE tenant = $1 AND conversation_id = $2", tenant, conversation_id
    )
    return _doc.decode(document) if document else None


class WorkflowSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A workflow in a list: no definitions (GET /v1/workflows/{id} has them)."""

    workflow_id: str
    conversation_id: str
    name: str
    status: str
    revision: int
    created_at: datetime
    updated_at: datetime


class WorkflowFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str | None = None
    conversation_id: str | None = None


async def get_workflow(conn: Source, tenant: str, workflow_id: str) -> WorkflowDoc | None:
    document = await conn.fetchval(
        "SELECT document FROM workflows WHERE tenant = $1 AND workflow_id = $2", tenant, workflow_id
    )
    return _workflow.decode(document) if document else None


async def list_workflows(
    conn: Source, tenant: str, where: WorkflowFilter, page: Page
) -> list[WorkflowSummary]:
    """Newest first; the cursor is `<created_at µs>.<workflow_id>`."""
    created, wid = _split_cursor(page.after, KEYSET_CURSOR)
    rows = await conn.fetch(
        "SELECT workflow_id, conversation_id, name, status, revision, created_at, updated_at FROM workflows "
        "WHERE tenant = $1 AND ($2::text IS NULL OR status = $2) "
        "AND ($3::text IS NULL OR conversation_id = $3) "
        "AND ($4::timestamptz IS NULL OR (created_at, workflow_id) < ($4, $5)) "
        "ORDER BY created_at DESC, workflow_id DESC LIMIT $6",
        tenant,
        where.status,
        where.conversation_id,
        created,
        wid,
        page.limit,
    )
    return [WorkflowSummary(**dict(row)) for row in rows]


def workflow_cursor(row: WorkflowSummary) -> str:
    return f"{_micros(row.created_at)}.{row.workflow_id}"


async def list_events(conn: Source, tenant: str, where: EventFilter, page: Page) -> list[ArchivedEvent]:
    """Oldest first; the cursor is `<log time µs>.<version>.<stream>`."""
    time_after, version_after, stream_after = _split_cursor(page.after, EVENT_CURSOR)
    rows = await conn.fetch(
        "SELECT stream, version, type, time, log_id, partition, event FROM event_archive WHERE tenant = $1 "
        "AND ($2::text IS NULL OR stream = $2) AND ($3::text IS NULL OR type = $3) "
        "AND ($4::timestamptz IS NULL OR time >= $4) AND ($5::timestamptz IS NULL OR time < $5) "
        "AND ($6::timestamptz IS NULL OR (time, stream, version) > ($6, $7, $8::bigint)) "
        "ORDER BY time, stream, version LIMIT $9",
        tenant,
        where.stream,
        where.type,
        where.since,
        where.until,
        time_after,
        stream_after,
        int(version_after) if version_after else None,
        page.limit,
    )
    return [ArchivedEvent(**dict(row)) for row in rows]


def event_cursor(event: ArchivedEvent) -> str:
    return f"{_micros(event.time)}.{event.version}.{event.stream}"


class BadCursor(ValueError):
    """A pagination cursor that is not one we issued."""


def _split_cursor(cursor: str | None, pattern: str) -> list[Any]:
    """The cursor's parts, its time first (as a datetime); all None without a cursor."""
    parts = re.compile(pattern).groups
    if not cursor:
        return [None] * parts
    matched = re.match(pattern, cursor)
    if matched is None:
        raise BadCursor("the cursor is not one this API issued")
    micros, *rest = matched.groups()
    return [_EPOCH + int(micros) * _MICROSECOND, *rest]


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


class StoredSbom(msgspec.Struct, frozen=True, kw_only=True):
    revision: int
    document: str  # the CycloneDX JSON, byte for byte as built
    etag: str


class SbomLookup(msgspec.Struct, frozen=True, kw_only=True):
    """A workflow's revisions as the SBOM projector knows them, and the SBOM asked for (None: not built
    yet, its conversation's model decisions still to be folded)."""

    revisions: tuple[int, ...]
    revision: int
    sbom: StoredSbom | None


class _Numbered(msgspec.Struct, frozen=True):
    revision: int


class _Revisions(msgspec.Struct, frozen=True):
    revisions: tuple[_Numbered, ...] = ()


_revisions = msgspec.json.Decoder(_Revisions)


async def get_sbom(conn: Source, tenant: str, workflow_id: str, revision: int | None) -> SbomLookup | None:
    """None: no such workflow for this tenant. `revision` None: the current one."""
    subject = await conn.fetchval(
        "SELECT document FROM sbom_workflows WHERE tenant = $1 AND workflow_id = $2", tenant, workflow_id
    )
    if subject is None:
        return None
    numbers = tuple(r.revision for r in _revisions.decode(subject).revisions)
    wanted = revision if revision is not None else max(numbers, default=0)
    row = await conn.fetchrow(
        "SELECT revision, document, etag FROM sboms WHERE tenant = $1 AND workflow_id = $2 AND revision = $3",
        tenant,
        workflow_id,
        wanted,
    )
    sbom = StoredSbom(revision=row["revision"], document=row["document"], etag=row["etag"]) if row else None
    return SbomLookup(revisions=numbers, revision=wanted, sbom=sbom)


async def list_daily_costs(conn: Source, tenant: str, since: date) -> list[DailyCost]:
    """The tenant's model calls per day (from `since`, UTC), provider and model, oldest day first."""
    rows = await conn.fetch(
        "SELECT day, provider, model, sum(calls)::bigint AS calls, sum(refused)::bigint AS refused, "
        "sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, "
        "sum(cost_micro_usd)::bigint AS cost_micro_usd FROM inference_costs "
        "WHERE tenant = $1 AND day >= $2 GROUP BY day, provider, model ORDER BY day, provider, model",
        tenant,
        since,
    )
    return [DailyCost(**dict(row)) for row in rows]

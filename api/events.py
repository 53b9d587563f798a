"""/v1/events (the audit feed, from the archive) and the live streams (SSE)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent

from api import reveal
from api.auth import AUDIT, READ
from api.deps import ApiDeps, await_consistency, or_bad_cursor, tenant_of
from api.problems import ProblemError
from api.schemas import EventList
from api.streams import (
    conversation_events,
    conversation_resume_point,
    tenant_events,
    tenant_resume_point,
)
from commands.conversations import stream_of as conversation_stream
from infra.api_keys import Principal
from projections import queries

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Moment = Annotated[
    str | None, QueryParameter(description="an RFC 3339 time", schema_extra={"format": "date-time"})
]
Cursor = Annotated[
    str | None, QueryParameter(pattern=queries.EVENT_CURSOR, description="the previous page's `next_cursor`")
]


class EventsController(Controller):
    path = "/v1"
    tags = ["events"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get("/events", opt=AUDIT, summary="The audit feed: every event of the tenant, oldest first")
    async def events(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        stream: FromQuery[str | None] = None,
        type: FromQuery[str | None] = None,
        since: Moment = None,
        until: Moment = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> EventList:
        await await_consistency(deps, "archive", read_after)
        where = queries.EventFilter(
            stream=stream, type=type, since=_in_utc("since", since), until=_in_utc("until", until)
        )
        page = queries.Page(limit=limit, after=cursor)
        rows = await or_bad_cursor(queries.list_events(deps.pool, tenant_of(request), where, page))
        next_cursor = queries.event_cursor(rows[-1]) if len(rows) == limit else None
        return EventList(items=await reveal.archived(deps, rows), next_cursor=next_cursor)

    @get("/stream", opt=READ, summary="All of the tenant's events, live (SSE)")
    async def stream_all(
        self, request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps]
    ) -> ServerSentEvent:
        last = request.headers.get("last-event-id")
        resume = await tenant_resume_point(deps, last) if last else None  # a 400 now, not a broken stream
        return ServerSentEvent(tenant_events(deps, request.user, resume))

    @get(
        "/conversations/{conversation_id:str}/stream",
        opt=READ,
        summary="One conversation's events, live (SSE)",
    )
    async def stream_conversation(
        self, request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps], conversation_id: FromPath[str]
    ) -> ServerSentEvent:
        principal: Principal = request.user
        stream = conversation_stream(conversation_id)
        if not conversation_id or await deps.store.tenant_of(stream) != principal.tenant:
            raise ProblemError(404, "not-found", "Not found", "no such conversation")
        after = await conversation_resume_point(deps, stream, request.headers.get("last-event-id", "0"))
        return ServerSentEvent(conversation_events(deps, principal, stream, after))


def _in_utc(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 time in UTC (one without an offset is taken as UTC). Parsed here, strictly: Litestar's
    lax conversion read a number as a Unix time. Past the ends of what a datetime holds in UTC
    (0001-01-01T00:10+05:00 is before year 1 there) a bound means "from the start" or "to the end"."""
    if value is None:
        return None
    try:
        moment = msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        raise ProblemError(
            422, "validation", "The request is not valid", f"{name}: not an RFC 3339 date-time"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)

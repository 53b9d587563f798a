"""/v1/events (the audit feed, from the archive) and the live streams (SSE)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

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


class EventsController(Controller):
    path = "/v1"
    tags = ["events"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get("/events", opt=AUDIT, summary="The audit feed: every event of the tenant, oldest first")
    async def events(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        stream: FromQuery[str | None] = None,
        type: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Limit = 100,
        cursor: FromQuery[str | None] = None,
    ) -> EventList:
        await await_consistency(request, deps, "archive")
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


def _in_utc(name: str, value: datetime | None) -> datetime | None:
    """A time the database can take: 0001-01-01T00:10+05:00 is a valid ISO date but before year 1 in UTC."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ProblemError(
            422, "validation", "The request is not valid", f"{name}: {value.isoformat()} is out of range"
        ) from None

"""/v1/conversations: start, send a message, close; read the conversation, its messages, its AgentState."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api import reveal
from api.auth import CHAT, READ
from api.commanding import accepted, run_command
from api.contract import problems
from api.deps import ApiDeps, CommandRequest, await_consistency, found, or_bad_cursor, tenant_of
from api.problems import ProblemError
from api.read_cache import RowCache
from api.schemas import (
    Accepted,
    AgentState,
    CloseBody,
    ConversationList,
    MessageList,
    SendMessageBody,
    StartConversationBody,
)
from commands.context import CommandContext
from commands.conversations import close_conversation, send_message, start_conversation
from commands.conversations import stream_of as conversation_stream
from domain.ids import derived_id
from domain.subject_events import CUSTOMER_REFERENCE
from projections import queries
from projections.conversations import ConversationRow

VIEWS = "conversation_views"
Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Customer = Annotated[
    str | None,
    QueryParameter(pattern=CUSTOMER_REFERENCE, description="only the conversations about this customer"),
]
Cursor = Annotated[
    str | None, QueryParameter(pattern=queries.KEYSET_CURSOR, description="the previous page's `next_cursor`")
]
MessageCursor = Annotated[
    str | None,
    QueryParameter(pattern=queries.VERSION_CURSOR, description="the previous page's `next_cursor`"),
]
MAX_VERSION = 2**31 - 1  # far beyond any conversation's length; a bound Redis' XRANGE COUNT takes
SHREDDED = "the conversation was shredded: nothing more may be written to it"


class ConversationsController(Controller):
    path = "/v1/conversations"
    tags = ["conversations"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @post(
        "/",
        opt=CHAT,
        status_code=202,
        summary="Start a conversation",
        responses=problems({410: "the customer named by `customer_id` was shredded"}),
    )
    async def start(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        data: JSONBody[StartConversationBody],
    ) -> Response[Accepted]:
        async def run(ctx: CommandContext) -> Any:
            cid = derived_id("conversation", ctx.tenant, ctx.idempotency_key) if ctx.idempotency_key else None
            keys = deps.store.cipher.keys if deps.store.cipher is not None else None
            result = await start_conversation(
                deps.store,
                ctx,
                title=data.title,
                language=data.language,
                conversation_id=cid,
                customer_id=data.customer_id,
                keys=keys,
            )
            return accepted(result, conversation_id=result.stream.removeprefix("conversation-"))

        return await run_command(command, deps, run)

    @post(
        "/{conversation_id:str}/messages",
        opt=CHAT,
        status_code=202,
        summary="Send a user message",
        responses=problems({410: SHREDDED}),
    )
    async def send(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        conversation_id: FromPath[str],
        data: JSONBody[SendMessageBody],
    ) -> Response[Accepted]:
        async def run(ctx: CommandContext) -> Any:
            return accepted(
                await send_message(deps.store, ctx, conversation_id, data.text),
                conversation_id=conversation_id,
            )

        return await run_command(command, deps, run, correlation=conversation_id)

    @post(
        "/{conversation_id:str}/close",
        opt=CHAT,
        status_code=202,
        summary="Close a conversation",
        responses=problems({410: SHREDDED}),
    )
    async def close(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        conversation_id: FromPath[str],
        data: JSONBody[CloseBody | None] = None,
    ) -> Response[Accepted]:
        reason = data.reason if data else ""

        async def run(ctx: CommandContext) -> Any:
            return accepted(
                await close_conversation(deps.store, ctx, conversation_id, reason),
                conversation_id=conversation_id,
            )

        return await run_command(command, deps, run, correlation=conversation_id)

    @get("/", opt=READ, summary="List conversations, newest first")
    async def list(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        limit: Limit = 50,
        cursor: Cursor = None,
        customer_id: Customer = None,
    ) -> ConversationList:
        await await_consistency(deps, VIEWS, read_after)
        page = queries.Page(limit=limit, after=cursor)
        rows = await or_bad_cursor(
            queries.list_conversations(deps.pool, tenant_of(request), page, customer_id=customer_id)
        )
        next_cursor = queries.conversation_cursor(rows[-1]) if len(rows) == limit else None
        return ConversationList(items=await reveal.conversations(deps, rows), next_cursor=next_cursor)

    @get("/{conversation_id:str}", opt=READ, summary="One conversation")
    async def one(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        conversation_id: FromPath[str],
    ) -> ConversationRow:
        await await_consistency(deps, VIEWS, read_after)
        row = await _cached(
            deps, deps.caches.conversations, tenant_of(request), conversation_id, queries.get_conversation
        )
        return await reveal.conversation(deps, row)

    @get("/{conversation_id:str}/messages", opt=READ, summary="A conversation's messages, oldest first")
    async def messages(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        conversation_id: FromPath[str],
        limit: Limit = 100,
        cursor: MessageCursor = None,
    ) -> MessageList:
        await await_consistency(deps, VIEWS, read_after)
        tenant = tenant_of(request)
        found(await queries.get_conversation(deps.pool, tenant, conversation_id), "conversation")
        page = queries.Page(limit=limit, after=cursor)
        rows = await or_bad_cursor(queries.list_messages(deps.pool, tenant, conversation_id, page))
        next_cursor = str(rows[-1].version) if len(rows) == limit else None
        return MessageList(items=await reveal.messages(deps, rows), next_cursor=next_cursor)

    @get(
        "/{conversation_id:str}/agent-state",
        opt=READ,
        summary="What the agents were asked and found (?version=N: as it was after event N, from the log)",
    )
    async def agent_state(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        conversation_id: FromPath[str],
        version: Annotated[int | None, QueryParameter(ge=1, le=MAX_VERSION)] = None,
    ) -> AgentState:
        if version is not None:
            return await agent_state_at_version(deps, tenant_of(request), conversation_id, version)
        await await_consistency(deps, VIEWS, read_after)
        doc = await _cached(
            deps, deps.caches.agent_states, tenant_of(request), conversation_id, queries.get_agent_state
        )
        return await reveal.agent_state(deps, doc)


async def agent_state_at_version(
    deps: ApiDeps, tenant: str, conversation_id: str, version: int
) -> AgentState:
    """Time travel: the stream's first `version` events folded by the read model's own function."""
    stream = conversation_stream(conversation_id)
    stored = await deps.store.read_stream(stream, limit=version)
    if not stored or stored[0].envelope.tenant != tenant:
        raise ProblemError(404, "not-found", "Not found", "no such conversation")
    if len(stored) < version:
        raise ProblemError(
            404, "not-found", "Not found", f"the conversation has {len(stored)} events, not {version}"
        )
    return found(reveal.folded_agent_state(deps, stream, stored), "conversation")


T = TypeVar("T")


async def _cached(
    deps: ApiDeps,
    cache: RowCache[T],
    tenant: str,
    conversation_id: str,
    load: Callable[[asyncpg.Pool, str, str], Awaitable[T | None]],
) -> T:
    """A conversation's row from the process cache, loaded from its read model on a miss (404 if none)."""
    partition = deps.store.keys.for_stream(conversation_stream(conversation_id)).partition
    row = await cache.get(
        (tenant, conversation_id), partition, lambda: load(deps.pool, tenant, conversation_id)
    )
    return found(row, "conversation")

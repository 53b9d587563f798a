"""/v1/workflows: the workflows the designer drafted, their revisions and validation; a person's decision
(approve, reject) on the current revision."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.auth import CHAT, READ
from api.commanding import accepted, run_command
from api.deps import ApiDeps, await_consistency, found, or_bad_cursor, tenant_of
from api.problems import ProblemError
from api.schemas import ApproveBody, RejectBody, WorkflowList
from commands.context import CommandContext
from commands.workflows import approve_workflow, reject_workflow
from projections import queries
from projections.workflows import Revision, WorkflowDoc

VIEWS = "workflow_views"
Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Status = Literal["drafted", "validated", "invalid", "approved", "rejected", "deployed", "retired"]


class WorkflowsController(Controller):
    path = "/v1/workflows"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get("/", opt=READ, summary="List workflows, newest first (filter by status, conversation)")
    async def list(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        limit: Limit = 50,
        cursor: FromQuery[str | None] = None,
        status: FromQuery[Status | None] = None,
        conversation_id: FromQuery[str | None] = None,
    ) -> WorkflowList:
        await await_consistency(request, deps, VIEWS)
        where = queries.WorkflowFilter(status=status, conversation_id=conversation_id)
        page = queries.Page(limit=limit, after=cursor)
        rows = await or_bad_cursor(queries.list_workflows(deps.pool, tenant_of(request), where, page))
        return WorkflowList(
            items=rows, next_cursor=queries.workflow_cursor(rows[-1]) if len(rows) == limit else None
        )

    @get("/{workflow_id:str}", opt=READ, summary="One workflow: its status, revisions and decisions")
    async def one(
        self, request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps], workflow_id: FromPath[str]
    ) -> WorkflowDoc:
        await await_consistency(request, deps, VIEWS)
        return found(await queries.get_workflow(deps.pool, tenant_of(request), workflow_id), "workflow")

    @get(
        "/{workflow_id:str}/revisions/{revision:int}",
        opt=READ,
        summary="One revision: its n8n JSON and validation",
    )
    async def revision(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        revision: FromPath[int],
    ) -> Revision:
        await await_consistency(request, deps, VIEWS)
        doc = found(await queries.get_workflow(deps.pool, tenant_of(request), workflow_id), "workflow")
        wanted = next((r for r in doc.revisions if r.revision == revision), None)
        if wanted is None:
            raise ProblemError(
                404, "not-found", "Not found", f"workflow {workflow_id} has no revision {revision}"
            )
        return wanted

    @post("/{workflow_id:str}/approve", opt=CHAT, status_code=202, summary="Approve the current revision")
    async def approve(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        data: JSONBody[ApproveBody | None] = None,
    ) -> Response[bytes]:
        revision = data.revision if data else None

        async def run(ctx: CommandContext) -> Any:
            return accepted(
                await approve_workflow(deps.store, ctx, workflow_id, revision), workflow_id=workflow_id
            )

        return await run_command(request, deps, run)

    @post("/{workflow_id:str}/reject", opt=CHAT, status_code=202, summary="Reject the current revision")
    async def reject(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        data: JSONBody[RejectBody | None] = None,
    ) -> Response[bytes]:
        body = data or RejectBody()

        async def run(ctx: CommandContext) -> Any:
            result = await reject_workflow(deps.store, ctx, workflow_id, body.revision, body.reason)
            return accepted(result, workflow_id=workflow_id)

        return await run_command(request, deps, run)

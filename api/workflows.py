"""/v1/workflows: the workflows the designer drafted, their revisions and validation; a person's decision
(approve, reject) on the current revision."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api import reveal
from api.auth import CHAT, READ
from api.commanding import accepted, run_command
from api.contract import problems
from api.deps import ApiDeps, CommandRequest, await_consistency, found, or_bad_cursor, tenant_of
from api.problems import ProblemError
from api.schemas import Accepted, ApproveBody, DeployBody, RejectBody, RetireBody, WorkflowList
from commands.context import CommandContext
from commands.workflows import approve_workflow, reject_workflow, request_deployment, retire_workflow
from domain.errors import NotConfigured
from domain.workflow_events import CredentialChoice, WorkflowStatus
from projections import queries
from projections.workflows import Revision, WorkflowDoc

VIEWS = "workflow_views"
Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Cursor = Annotated[
    str | None, QueryParameter(pattern=queries.KEYSET_CURSOR, description="the previous page's `next_cursor`")
]
Status = WorkflowStatus
SHREDDED = "the conversation it was drafted from was shredded: nothing more may be written for it"


class WorkflowsController(Controller):
    path = "/v1/workflows"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get("/", opt=READ, summary="List workflows, newest first (filter by status, conversation)")
    async def list(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        limit: Limit = 50,
        cursor: Cursor = None,
        status: FromQuery[Status | None] = None,
        conversation_id: FromQuery[str | None] = None,
    ) -> WorkflowList:
        await await_consistency(deps, VIEWS, read_after)
        where = queries.WorkflowFilter(status=status, conversation_id=conversation_id)
        page = queries.Page(limit=limit, after=cursor)
        rows = await or_bad_cursor(queries.list_workflows(deps.pool, tenant_of(request), where, page))
        return WorkflowList(
            items=rows, next_cursor=queries.workflow_cursor(rows[-1]) if len(rows) == limit else None
        )

    @get("/{workflow_id:str}", opt=READ, summary="One workflow: its status, revisions and decisions")
    async def one(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        workflow_id: FromPath[str],
    ) -> WorkflowDoc:
        await await_consistency(deps, VIEWS, read_after)
        return await opened(deps, tenant_of(request), workflow_id)

    @get(
        "/{workflow_id:str}/revisions/{revision:int}",
        opt=READ,
        summary="One revision: its n8n JSON and validation",
    )
    async def revision(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        workflow_id: FromPath[str],
        revision: FromPath[int],
    ) -> Revision:
        await await_consistency(deps, VIEWS, read_after)
        doc = await opened(deps, tenant_of(request), workflow_id)
        wanted = next((r for r in doc.revisions if r.revision == revision), None)
        if wanted is None:
            raise ProblemError(
                404, "not-found", "Not found", f"workflow {workflow_id} has no revision {revision}"
            )
        return wanted

    @post(
        "/{workflow_id:str}/approve",
        opt=CHAT,
        status_code=202,
        summary="Approve the current revision",
        responses=problems({410: SHREDDED}),
    )
    async def approve(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        data: JSONBody[ApproveBody | None] = None,
    ) -> Response[Accepted]:
        return await run_command(
            command, deps, lambda ctx: approve(deps, workflow_id, data or ApproveBody(), ctx)
        )

    @post(
        "/{workflow_id:str}/reject",
        opt=CHAT,
        status_code=202,
        summary="Reject the current revision",
        responses=problems({410: SHREDDED}),
    )
    async def reject(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        data: JSONBody[RejectBody | None] = None,
    ) -> Response[Accepted]:
        return await run_command(
            command, deps, lambda ctx: reject(deps, workflow_id, data or RejectBody(), ctx)
        )

    @post(
        "/{workflow_id:str}/deploy",
        opt=CHAT,
        status_code=202,
        summary="Deploy the approved revision again (after a failure, or with other credentials)",
        responses=problems({409: "no n8n instance is configured for the tenant", 410: SHREDDED}),
    )
    async def deploy(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        data: JSONBody[DeployBody | None] = None,
    ) -> Response[Accepted]:
        return await run_command(
            command, deps, lambda ctx: deploy(deps, workflow_id, data or DeployBody(), ctx)
        )

    @post(
        "/{workflow_id:str}/retire",
        opt=CHAT,
        status_code=202,
        summary="Retire it (deactivated in n8n)",
        responses=problems({410: SHREDDED}),
    )
    async def retire(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        data: JSONBody[RetireBody | None] = None,
    ) -> Response[Accepted]:
        return await run_command(
            command, deps, lambda ctx: retire(deps, workflow_id, data or RetireBody(), ctx)
        )


async def opened(deps: ApiDeps, tenant: str, workflow_id: str) -> WorkflowDoc:
    """The tenant's workflow from its read model, its sealed fields opened from the log."""
    doc = found(await queries.get_workflow(deps.pool, tenant, workflow_id), "workflow")
    return await reveal.workflow(deps, doc)


def _choices(chosen: dict[str, str]) -> tuple[CredentialChoice, ...]:
    return tuple(CredentialChoice(credential_type=kind, name=name) for kind, name in sorted(chosen.items()))


async def approve(deps: ApiDeps, workflow_id: str, body: ApproveBody, ctx: CommandContext) -> Accepted:
    result = await approve_workflow(deps.store, ctx, workflow_id, body.revision, _choices(body.credentials))
    return accepted(result, workflow_id=workflow_id)


async def reject(deps: ApiDeps, workflow_id: str, body: RejectBody, ctx: CommandContext) -> Accepted:
    result = await reject_workflow(deps.store, ctx, workflow_id, body.revision, body.reason)
    return accepted(result, workflow_id=workflow_id)


async def deploy(deps: ApiDeps, workflow_id: str, body: DeployBody, ctx: CommandContext) -> Accepted:
    instance = deps.n8n.instance_for(ctx.tenant)
    if instance is None:
        raise NotConfigured("no n8n instance is configured for this tenant: set N8N_URL and N8N_API_KEY")
    choices = None if body.credentials is None else _choices(body.credentials)
    result = await request_deployment(deps.store, ctx, workflow_id, instance.url, choices)
    return accepted(result, workflow_id=workflow_id)


async def retire(deps: ApiDeps, workflow_id: str, body: RetireBody, ctx: CommandContext) -> Accepted:
    return accepted(await retire_workflow(deps.store, ctx, workflow_id, body.reason), workflow_id=workflow_id)

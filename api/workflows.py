"""/v1/workflows/{id}/approve and /reject: a person's decision on the current revision."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import CHAT
from api.commanding import accepted, run_command
from api.deps import ApiDeps
from api.schemas import ApproveBody, RejectBody
from commands.context import CommandContext
from commands.workflows import approve_workflow, reject_workflow


class WorkflowsController(Controller):
    path = "/v1/workflows"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads it as an instance attribute

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

"""/v1/subjects/{id}: crypto-shredding. The subject's data keys are destroyed (a customer's: those of
every conversation started for it); its events stay and still verify, and everything sealed under them
reads `[shredded]` from then on (docs/adr/0023, 0025)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.auth import ADMIN
from api.commanding import accepted, run_command
from api.contract import problems
from api.deps import ApiDeps, CommandRequest
from api.problems import ProblemError
from api.schemas import Accepted
from commands.context import CommandContext
from commands.subjects import shred_subject

Reason = Annotated[str, QueryParameter(max_length=500, description="why, for the record")]


class SubjectsController(Controller):
    path = "/v1/subjects"
    tags = ["privacy"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @delete(
        "/{subject_id:str}",
        opt=ADMIN,
        status_code=202,
        summary="Shred a subject — a conversation, or `customer:<reference>` and every conversation about "
        "that customer: destroy their data keys; their sealed fields read [shredded]",
        responses=problems({409: "this API's store seals nothing"}),
    )
    async def shred(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        subject_id: FromPath[str],
        reason: Reason = "",
    ) -> Response[Accepted]:
        async def run(ctx: CommandContext) -> Any:
            cipher = deps.store.cipher
            if cipher is None:
                raise ProblemError(409, "not-configured", "Not configured", "this store seals nothing")
            return accepted(await shred_subject(deps.store, cipher.keys, ctx, subject_id, reason=reason))

        return await run_command(command, deps, run)

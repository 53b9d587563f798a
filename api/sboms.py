"""/v1/workflows/{id}/sbom: the CycloneDX 1.6 SBOM of a workflow revision, as the projector stored it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.auth import READ
from api.deps import ApiDeps, await_consistency, found, tenant_of
from api.etags import etag_response
from api.problems import ProblemError
from projections import queries
from projections.sbom import MEDIA_TYPE

SBOMS = "sbom"
RevisionNumber = Annotated[
    int | None, QueryParameter(ge=1, description="a revision; default the current one")
]


class SbomController(Controller):
    path = "/v1/workflows"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get(
        "/{workflow_id:str}/sbom",
        opt=READ,
        summary="The CycloneDX 1.6 SBOM of a revision: models, prompt templates, n8n nodes, services",
        media_type=MEDIA_TYPE,
    )
    async def sbom(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        workflow_id: FromPath[str],
        revision: RevisionNumber = None,
    ) -> Response[bytes]:
        await await_consistency(request, deps, SBOMS)
        lookup = found(
            await queries.get_sbom(deps.pool, tenant_of(request), workflow_id, revision), "workflow"
        )
        return etag_response(*_stored(workflow_id, lookup), request.headers.get("if-none-match"), MEDIA_TYPE)


def _stored(workflow_id: str, lookup: queries.SbomLookup) -> tuple[bytes, str]:
    if lookup.revision not in lookup.revisions:
        raise ProblemError(
            404, "not-found", "Not found", f"workflow {workflow_id} has no revision {lookup.revision}"
        )
    if lookup.sbom is None:
        raise ProblemError(
            404,
            "sbom-not-built",
            "SBOM not built yet",
            f"the SBOM of revision {lookup.revision} waits for the model decisions it cites to be folded; "
            "retry, or send the consistency token of the command that made it",
            headers={"Retry-After": "1"},
        )
    return lookup.sbom.document.encode(), f'"{lookup.sbom.etag}"'

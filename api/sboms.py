"""/v1/workflows/{id}/sbom: the CycloneDX 1.6 SBOM of a workflow revision, as the projector stored it."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.audit import signer_of
from api.auth import READ
from api.contract import json_document, problems
from api.deps import ApiDeps, await_consistency, found, tenant_of
from api.etags import NOT_MODIFIED, IfNoneMatch, etag_response
from api.problems import ProblemError
from infra.crypto.signing import DocumentSigner
from projections import queries
from projections.sbom import MEDIA_TYPE

SBOMS = "sbom"
MAX_REVISION = 2**31 - 1  # PostgreSQL's integer, the column's type
RevisionNumber = Annotated[
    int | None, QueryParameter(ge=1, le=MAX_REVISION, description="a revision; default the current one")
]
NOT_BUILT = "the workflow has no such revision, or its SBOM is not built yet (then with Retry-After)"


class SbomController(Controller):
    path = "/v1/workflows"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get(
        "/{workflow_id:str}/sbom",
        opt=READ,
        summary="The CycloneDX 1.6 SBOM of a revision: models, prompt templates, n8n nodes, services",
        media_type=MEDIA_TYPE,
        responses={
            200: json_document(MEDIA_TYPE, "The CycloneDX 1.6 JSON, byte for byte as built (see ETag)"),
            304: NOT_MODIFIED,
            **problems({404: NOT_BUILT}),
        },
    )
    async def sbom(
        self,
        *,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        workflow_id: FromPath[str],
        revision: RevisionNumber = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        lookup = await _lookup(tenant_of(request), deps, read_after, workflow_id, revision)
        return etag_response(*_stored(workflow_id, lookup), if_none_match, MEDIA_TYPE)

    @get(
        "/{workflow_id:str}/sbom/signature",
        opt=READ,
        summary="A detached ML-DSA-65 signature of the SBOM's exact bytes, as GET …/sbom serves them",
        responses=problems({404: NOT_BUILT, 503: "this API process has no signing keys"}),
    )
    async def sbom_signature(
        self,
        request: Request[Any, Any, Any],
        deps: NamedDependency[ApiDeps],
        read_after: NamedDependency[str | None],
        workflow_id: FromPath[str],
        revision: RevisionNumber = None,
    ) -> SbomSignature:
        lookup = await _lookup(tenant_of(request), deps, read_after, workflow_id, revision)
        return signature_of(signer_of(deps), lookup.revision, _stored(workflow_id, lookup)[0])


async def _lookup(
    tenant: str, deps: ApiDeps, read_after: str | None, workflow_id: str, revision: int | None
) -> queries.SbomLookup:
    await await_consistency(deps, SBOMS, read_after)
    return found(await queries.get_sbom(deps.pool, tenant, workflow_id, revision), "workflow")


class SbomSignature(msgspec.Struct, frozen=True, kw_only=True):
    """Verify with the public key of `key_version` (GET /v1/audit/keys) over the document's bytes."""

    revision: int
    sha256: str  # of the document's exact bytes
    algorithm: str
    key_version: int
    signature: str  # base64
    context: str = ""  # the ML-DSA context string (FIPS 204): the empty one


def signature_of(signer: DocumentSigner, revision: int, document: bytes) -> SbomSignature:
    digest, signature = signer.sign(document)
    return SbomSignature(
        revision=revision,
        sha256=digest,
        algorithm=signature.algorithm,
        key_version=signature.key_version,
        signature=base64.b64encode(signature.signature).decode(),
    )


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

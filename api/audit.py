"""/v1/audit: inclusion and consistency proofs of the log, its signed checkpoints, the public keys.

An auditor checks a proof with the leaf format and RFC 6962 alone (docs/audit.md). An event newer than
its partition's last checkpoint is `404 not-yet-checkpointed` with `Retry-After`: checkpoints are the
work of one periodic component (or `aiwf audit checkpoint`), never of a read.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.auth import AUDIT
from api.contract import problems
from api.deps import ApiDeps, found, tenant_of
from api.problems import ProblemError
from infra.crypto.signing import DocumentSigner, PublicKey
from infra.proofs import (
    ConsistencyProof,
    InclusionProof,
    NotYetCheckpointed,
    Proofs,
    ProofUnavailable,
    SignedCheckpoint,
)

# gt=-1, not ge=0: Litestar's OpenAPI drops a constraint whose value is falsy, and the 0 with it.
Size = Annotated[int, QueryParameter(gt=-1, description="a tree size (number of log entries)")]
LatestSize = Annotated[
    int | None, QueryParameter(gt=-1, description="a tree size (number of log entries); default the latest")
]
UNAVAILABLE = "the proof store cannot give a proof the signed checkpoint confirms (with Retry-After)"


class PublicKeys(msgspec.Struct, frozen=True, kw_only=True):
    keys: list[PublicKey]
    context: str = ""  # the ML-DSA context string every signature uses (FIPS 204): the empty one


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get(
        "/proof/{event_id:str}",
        opt=AUDIT,
        summary="An RFC 6962 inclusion proof of one event in its log",
        responses=problems(
            {404: "no signed checkpoint covers the event yet (with Retry-After)", 503: UNAVAILABLE}
        ),
    )
    async def proof(
        self, request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps], event_id: FromPath[str]
    ) -> InclusionProof:
        return found(
            await _proven(deps, Proofs(deps.store, deps.pool), tenant_of(request), event_id), "event"
        )

    @get(
        "/consistency/{partition:int}",
        opt=AUDIT,
        summary="An RFC 6962 consistency proof between two sizes of a partition log (default: its latest)",
        responses=problems({404: "no signed tree has both sizes, `first` then `second`", 503: UNAVAILABLE}),
    )
    async def consistency(
        self,
        deps: NamedDependency[ApiDeps],
        partition: FromPath[int],
        first: Size = 0,
        second: LatestSize = None,
    ) -> ConsistencyProof:
        return found(await _consistent(deps, partition, first, second), "checkpoint of this partition")

    @get("/checkpoints", opt=AUDIT, summary="The latest signed checkpoint of every partition log")
    async def checkpoints(self, deps: NamedDependency[ApiDeps]) -> list[SignedCheckpoint]:
        return await Proofs(deps.store, deps.pool).checkpoints()

    @get(
        "/keys",
        summary="The public keys that sign checkpoints and SBOMs (public)",
        responses=problems({503: "this API process has no signing keys"}),
    )
    async def keys(self, deps: NamedDependency[ApiDeps]) -> PublicKeys:
        return PublicKeys(keys=signer_of(deps).public_keys)


def signer_of(deps: ApiDeps) -> DocumentSigner:
    if deps.signer is None:
        raise ProblemError(503, "signing-unavailable", "No signing keys", "this API process has no keyring")
    return deps.signer


async def _proven(deps: ApiDeps, proofs: Proofs, tenant: str, event_id: str) -> InclusionProof | None:
    try:
        return await proofs.inclusion(tenant, event_id)
    except NotYetCheckpointed:
        every = deps.limits.checkpoint_interval_s
        when = f"one is made every {every}s" if every else "they are made by `aiwf audit checkpoint`"
        raise ProblemError(
            404,
            "not-yet-checkpointed",
            "Not yet checkpointed",
            f"event {event_id} is newer than the last signed checkpoint of its partition; {when}",
            headers={"Retry-After": str(max(every, 1))},
        ) from None
    except ProofUnavailable as exc:
        raise _unavailable(exc) from None


async def _consistent(
    deps: ApiDeps, partition: int, first: int, second: int | None
) -> ConsistencyProof | None:
    if not 0 <= partition < deps.store.keys.partitions:
        return None
    try:
        return await Proofs(deps.store, deps.pool).consistency(partition, first, second)
    except ValueError as exc:  # no proof between those sizes: not one the signed tree has (yet)
        raise ProblemError(404, "not-found", "Not found", str(exc)) from None
    except ProofUnavailable as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: ProofUnavailable) -> ProblemError:
    return ProblemError(
        503,
        "proof-unavailable",
        "Proof unavailable",
        f"{exc}; an operator should run `aiwf audit verify`, then `aiwf audit checkpoint --rebuild-proofs`",
        headers={"Retry-After": "60"},
    )

"""POST /v1/audit/verifications: `aiwf audit verify` for the caller's tenant, asked over the API and
answered when done — its streams' hash chains, versions and heads, their agreement with the partition
logs, and every signed checkpoint (docs/audit.md).

The partition logs are shared, so a verification reads all of them (the checkpoints sign all of it) but
reports nothing of another tenant's (infra/audit_scope.py). It is bounded: past `verify_max_entries` log
entries it is refused with a problem that says how to run the whole audit, and one runs at a time in a
process (it is CPU work on the API's event loop).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency

from api.auth import AUDIT
from api.deps import ApiDeps, tenant_of
from api.problems import ProblemError
from domain.chain import ChainProblem
from infra.audit import AuditReport, verify_store
from infra.audit_jobs import log_entries
from infra.checkpoints import list_checkpoints

MAX_PROBLEMS = 500  # listed in an answer; `problem_count` counts them all
RUNNING = asyncio.Lock()  # held while this process verifies


class VerificationProblem(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # hash | prevhash | gap | head | missing_in_log | checkpoint_root | … (docs/audit.md)
    where: str  # `<stream>@<version>`, `<stream>@head`, `<log key> <entry id>`, `<log key> checkpoint <size>`
    stream: str | None  # the caller's stream it is about (None: a log entry or a checkpoint)
    version: int | None
    detail: str


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool  # no problem found
    streams: int  # the tenant's streams checked
    events: int  # their events checked
    checkpoints: int  # signed checkpoints whose root was compared with the log
    signatures_checked: bool  # False: this API process has no keyring, roots only
    problem_count: int
    problems: list[VerificationProblem]  # the first MAX_PROBLEMS, in the order found
    verified_at: datetime
    duration_ms: int


@post(
    "/v1/audit/verifications",
    opt=AUDIT,
    status_code=200,
    tags=["audit"],
    summary="Verify the caller's tenant's streams and the signed checkpoints now; the report",
)
async def verify(request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps]) -> Verification:
    return await verification(deps, tenant_of(request))


async def verification(deps: ApiDeps, tenant: str) -> Verification:
    if RUNNING.locked():
        raise ProblemError(
            429,
            "verification-running",
            "A verification is running",
            "this API process runs one verification at a time; retry when it is done",
            headers={"Retry-After": "5"},
        )
    async with RUNNING:
        await _within_cap(deps)
        started = time.perf_counter()
        checkpoints = await list_checkpoints(deps.pool, deps.store.keys.prefix)  # before the log is read
        verifier = deps.signer.verifier if deps.signer is not None else None
        report = await verify_store(deps.store, checkpoints=checkpoints, verifier=verifier, tenant=tenant)
        elapsed = time.perf_counter() - started
    return _answer(report, signed=verifier is not None, seconds=elapsed)


async def _within_cap(deps: ApiDeps) -> None:
    entries, cap = await log_entries(deps.store), deps.limits.verify_max_entries
    if entries > cap:
        raise ProblemError(
            422,
            "verification-too-large",
            "Too large to verify over the API",
            f"the partition logs hold {entries} entries, more than the {cap} a verification over the "
            "API reads; an operator runs the whole audit with `aiwf audit verify`",
        )


def _answer(report: AuditReport, *, signed: bool, seconds: float) -> Verification:
    found = report.problems + report.foreign
    return Verification(
        ok=not found,
        streams=report.streams,
        events=report.events,
        checkpoints=report.checkpoints,
        signatures_checked=signed,
        problem_count=len(found),
        problems=[problem_of(problem) for problem in found[:MAX_PROBLEMS]],
        verified_at=datetime.now(UTC),
        duration_ms=round(seconds * 1000),
    )


def problem_of(problem: ChainProblem) -> VerificationProblem:
    stream, _, at = problem.where.rpartition("@")
    about_stream = bool(stream) and (at.isdigit() or at == "head")
    return VerificationProblem(
        code=problem.kind,
        where=problem.where,
        stream=stream if about_stream else None,
        version=int(at) if about_stream and at.isdigit() else None,
        detail=problem.detail,
    )

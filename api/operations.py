"""/v1/operations: what an admin's operations page shows, in one read — every consumer group's lag per
partition, the dead letters, the model providers' circuits as the processes that call them report them,
and the caller's tenant's model calls and their cost per day (docs/adr/0028-operations-api.md).

Lag, dead letters and providers are the platform's, the same for every tenant's admin (nothing in them
names a tenant); the costs are the caller's tenant's only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.auth import ADMIN
from api.deps import ApiDeps, tenant_of
from domain.provider_status import CircuitName, Locality, ProviderTarget
from infra.provider_reports import ProviderReport, read_reports
from projections import queries
from projections.inference_costs import DailyCost

Days = Annotated[
    int, QueryParameter(ge=1, le=90, description="the costs of the last N days, today's included (UTC)")
]


class ProjectionLag(msgspec.Struct, frozen=True, kw_only=True):
    group: str  # the consumer group: `projection.<name>` for a projector, a process manager's own name
    partition: int
    lag: int  # entries not yet delivered to the group (0 also when the server cannot tell: Redis < 7)
    pending: int  # delivered, not yet acknowledged


class DeadLetters(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    count: int  # entries in the partition's dead-letter stream, of every group


class ProviderHealth(msgspec.Struct, frozen=True, kw_only=True):
    process: str  # `<hostname>:<pid>` of the process that calls it
    target: ProviderTarget
    name: str
    model: str
    locality: Locality
    circuit: CircuitName
    failures: int  # consecutive transient failures
    reported_at: datetime


class Operations(msgspec.Struct, frozen=True, kw_only=True):
    projections: list[ProjectionLag]
    dead_letters: list[DeadLetters]
    providers: list[ProviderHealth]  # of the processes that reported in the last three of their periods
    costs: list[DailyCost]  # the caller's tenant's, oldest day first; a refused call under provider `none`


@get(
    "/v1/operations",
    opt=ADMIN,
    tags=["operations"],
    summary="Projection lag, dead letters, model providers' circuits, the tenant's inference costs per day",
)
async def operations(
    request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps], days: Days = 30
) -> Operations:
    return await operations_of(deps, tenant_of(request), days, datetime.now(UTC))


async def operations_of(deps: ApiDeps, tenant: str, days: int, now: datetime) -> Operations:
    return Operations(
        projections=await _projections(deps),
        dead_letters=await _dead_letters(deps),
        providers=_providers(await read_reports(deps.store.redis.client, deps.store.keys, now)),
        costs=await queries.list_daily_costs(deps.pool, tenant, _first_day(now, days)),
    )


async def _projections(deps: ApiDeps) -> list[ProjectionLag]:
    return [
        ProjectionLag(group=group.group, partition=group.partition, lag=group.lag or 0, pending=group.pending)
        for group in await deps.lag()
    ]


async def _dead_letters(deps: ApiDeps) -> list[DeadLetters]:
    partitions = deps.store.keys.all_partitions()
    pipe = deps.store.redis.client.pipeline(transaction=False)
    for keys in partitions:
        pipe.xlen(keys.dlq)
    counts: list[int] = await pipe.execute()
    return [DeadLetters(partition=k.partition, count=n) for k, n in zip(partitions, counts, strict=True)]


def _providers(reports: list[ProviderReport]) -> list[ProviderHealth]:
    return [
        ProviderHealth(
            process=report.process,
            target=status.target,
            name=status.name,
            model=status.model,
            locality=status.locality,
            circuit=status.circuit,
            failures=status.failures,
            reported_at=report.reported_at,
        )
        for report in reports
        for status in report.providers
    ]


def _first_day(now: datetime, days: int) -> date:
    return now.astimezone(UTC).date() - timedelta(days=days - 1)

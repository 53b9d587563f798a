"""Operations: liveness, readiness (Redis, PostgreSQL, projection lag), Prometheus metrics, AsyncAPI."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily

from api.deps import ApiDeps
from infra.observability import exposition

MAX_READY_LAG = 10_000


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    checks: dict[str, bool] = msgspec.field(default_factory=dict)
    lag: dict[str, int] = msgspec.field(default_factory=dict)


@get("/health/live", sync_to_thread=False, tags=["operations"], summary="The process is up")
def live() -> Health:
    return Health(status="ok")


@get(
    "/health/ready",
    tags=["operations"],
    summary="Redis, PostgreSQL and the projectors are usable",
    responses={503: ResponseSpec(Health, description="One of them is not", generate_examples=False)},
)
async def ready(deps: NamedDependency[ApiDeps]) -> Response[Health]:
    checks = {"redis": False, "postgres": False, "projections": True}
    with contextlib.suppress(Exception):
        checks["redis"] = bool(await deps.store.redis.client.ping())
    with contextlib.suppress(Exception):
        checks["postgres"] = bool(await deps.pool.fetchval("SELECT true"))
    lag: dict[str, int] = {}
    with contextlib.suppress(Exception):
        for group in await deps.lag():
            lag[f"{group.group}/p{group.partition}"] = group.lag or 0
        checks["projections"] = all(value <= MAX_READY_LAG for value in lag.values())
    ok = all(checks.values())
    health = Health(status="ok" if ok else "unavailable", checks=checks, lag=lag)
    return Response(health, status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE)


@get("/metrics", tags=["operations"], summary="Prometheus metrics", media_type=CONTENT_TYPE_LATEST)
async def metrics(deps: NamedDependency[ApiDeps]) -> bytes:
    return exposition(await _live_gauges(deps))


async def _live_gauges(deps: ApiDeps) -> list[GaugeMetricFamily]:
    """Read from Redis at each scrape; what could not be read is left out rather than shown stale."""
    lag = GaugeMetricFamily(
        "aiwf_projection_lag", "Log entries not yet delivered", labels=["group", "partition"]
    )
    pending = GaugeMetricFamily(
        "aiwf_projection_pending", "Delivered, not yet acknowledged", labels=["group", "partition"]
    )
    dead = GaugeMetricFamily("aiwf_dead_letters", "Entries in the dead-letter stream", labels=["partition"])
    with contextlib.suppress(Exception):
        for group in await deps.lag():
            labels = [group.group, str(group.partition)]
            lag.add_metric(labels, group.lag or 0)
            pending.add_metric(labels, group.pending)
        for keys in deps.store.keys.all_partitions():
            dead.add_metric([str(keys.partition)], await deps.store.redis.client.xlen(keys.dlq))
    return [lag, pending, dead]


def asyncapi_route(document: dict[str, Any]) -> Any:
    @get(
        "/asyncapi.json",
        sync_to_thread=False,
        tags=["operations"],
        summary="AsyncAPI 3.0 of the partition logs",
    )
    def asyncapi(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return document

    return asyncapi

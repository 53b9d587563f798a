"""The whole stack over real HTTP: projectors running, the API on a loopback port, keys per tenant."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from msgspec import Struct
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.deps import ApiDeps, Limits
from api.hub import StreamHub
from api.server import api_services, server
from handlers.app import HandlerRuntime
from handlers.managers import ManagerDeps
from infra.api_keys import create_key
from infra.crypto.keyring import Keyring
from infra.event_store import RedisEventStore
from infra.n8n.instances import NO_N8N, N8nInstances
from infra.provider_reports import reporting_providers
from infra.stopping import STOP_TIMEOUT_S, bounded
from projections.catalog import PROJECTORS
from tests.integration.handlers.conftest import FAST, runtime_for
from tests.integration.managers.conftest import deps_for, offline_gateway
from tests.support.cluster import free_port
from tests.support.tracing import captured_spans


class Stack(Struct, kw_only=True):
    url: str
    store: RedisEventStore
    pool: asyncpg.Pool
    runtime: HandlerRuntime
    hub: StreamHub
    deps: ApiDeps
    keys: dict[str, str]  # "acme-member", "acme-auditor", "acme-admin", "globex-member"

    def client(self, who: str | None = "acme-member") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    async def subscribed(self, count: int, within_s: float = 10.0) -> None:
        """Until this process's hub holds `count` stream subscriptions: a stream's response headers
        can reach the client before its subscription is made, and a loaded machine may take a while."""
        async with asyncio.timeout(within_s):
            while self.hub.subscribers < count:  # noqa: ASYNC110 - the hub counts, it does not signal
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_stack(
    store: RedisEventStore,
    pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    limits: Limits,
    *,
    managers: ManagerDeps | None = None,
    n8n: N8nInstances = NO_N8N,
    keyring: Keyring | None = None,
) -> AsyncIterator[Stack]:
    """Projectors always; the main job's process managers too when `managers` is given, with their
    gateway's provider reports, as `aiwf run` has them."""
    runtime = runtime_for(store, redis_url)
    runtime.add_projectors(pool, PROJECTORS, **FAST)
    if managers is not None:
        runtime.add_managers(managers, **FAST)
    await runtime.start()
    keys = {}
    for tenant, role in [("acme", "member"), ("acme", "auditor"), ("acme", "admin"), ("globex", "member")]:
        keys[f"{tenant}-{role}"], _ = await create_key(pool, tenant, role)
    port = free_port()
    status = managers.gateway.status if managers is not None else None
    async with (
        api_services(store, pool, database_url, limits, runtime.lag, n8n=n8n, keyring=keyring) as deps,
        reporting_providers(store.redis.client, store.keys, status, notes=[]),
    ):
        api = server(deps, redis_url, "127.0.0.1", port)
        task = asyncio.create_task(api.serve())
        while not api.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        try:
            yield Stack(
                url=f"http://127.0.0.1:{port}",
                store=store,
                pool=pool,
                runtime=runtime,
                hub=deps.hub,
                deps=deps,
                keys=keys,
            )
        finally:
            api.should_exit = True
            await bounded(task, 3 * STOP_TIMEOUT_S, "API server")
            await runtime.stop()


@pytest.fixture
async def stack(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, Limits(read_wait_s=5.0)
    ) as running:
        yield running


@pytest.fixture
async def main_stack(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    """The whole stack with the main job's process managers on the offline planner."""
    gateway = offline_gateway()
    managers = deps_for(standalone_store, gateway)
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, Limits(read_wait_s=5.0), managers=managers
    ) as stack:
        yield stack
    await gateway.aclose()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Traces on, every span kept in memory (ask for it before a stack: the API's server spans are a
    middleware added when the app is built)."""
    with captured_spans() as exporter:
        yield exporter

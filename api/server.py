"""Start and stop what the API needs around the app (hub, consistency waiter), and serve it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import uvicorn

from api.app import VERSION, create_app
from api.asyncapi import build_asyncapi
from api.auth import KeyCache, PostgresKeys
from api.consistency import ConsistencyWaiter
from api.deps import ApiDeps, Limits
from api.hub import StreamHub
from api.idempotency import sweep_periodically
from api.rate_limits import SharedBucket
from api.read_cache import ConversationCaches
from handlers.runtime.consumer_group import GroupLag
from infra.api_keys import KEY_REVOKED
from infra.crypto.keyring import Keyring
from infra.crypto.signing import DocumentSigner
from infra.event_store import RedisEventStore
from infra.n8n.instances import NO_N8N, N8nInstances
from infra.stopping import STOP_TIMEOUT_S, settle

LagProbe = Callable[[], Awaitable[list[GroupLag]]]
KEEP_ALIVE_S = 75


@contextlib.asynccontextmanager
async def api_services(
    store: RedisEventStore,
    pool: asyncpg.Pool,
    database_url: str,
    limits: Limits,
    lag: LagProbe,
    *,
    n8n: N8nInstances = NO_N8N,
    keyring: Keyring | None = None,
) -> AsyncIterator[ApiDeps]:
    keys = KeyCache(PostgresKeys(pool))
    hub = StreamHub(store, keys=keys, key_check_s=limits.key_check_s)
    # Revocations ride on the checkpoints' LISTEN connection; after it reconnects, no cached key is
    # trusted, since a revocation may have gone unheard.
    waiter = ConsistencyWaiter(
        pool, database_url, heard={KEY_REVOKED: hub.on_key_revoked}, on_listen=keys.forget_all
    )
    await waiter.start()
    await hub.start()
    sweeper = asyncio.create_task(
        sweep_periodically(pool, limits.idempotency_ttl_s), name="idempotency-sweep"
    )
    try:
        yield ApiDeps(
            store=store,
            pool=pool,
            waiter=waiter,
            hub=hub,
            limits=limits,
            lag=lag,
            caches=ConversationCaches(waiter),
            keys=keys,
            key_rate=SharedBucket(store.redis, store.keys, "key", limits.rate_per_s, limits.burst),
            address_rate=SharedBucket(
                store.redis, store.keys, "address", limits.address_rate_per_s, limits.address_burst
            ),
            n8n=n8n,
            signer=DocumentSigner(keyring) if keyring is not None else None,
        )
    finally:
        await settle({sweeper}, STOP_TIMEOUT_S, "idempotency sweep", cancel_first=True)
        await hub.stop()  # each bounded on its own
        await waiter.stop()


class GracefulServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down, which kills the process before our own
    clean-up (projectors, leases, the embedded PostgreSQL) runs. We stop and return instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def server(deps: ApiDeps, redis_url: str, host: str, port: int) -> uvicorn.Server:
    asyncapi = build_asyncapi(deps.store.registry, deps.store.keys, redis_url, VERSION)
    app = create_app(deps, asyncapi)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Longer than clients keep an idle connection (httpx 5 s, browsers 60 s): with equal timeouts a
        # request sent on a connection the server is closing gets a reset, not an answer.
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    return GracefulServer(config)

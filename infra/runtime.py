"""Opens what every command needs: the Redis event store and the PostgreSQL URL, embedded or not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from commands.fold_cache import forget_tenant
from domain.catalog import REGISTRY
from infra.crypto.datakeys import DataKeys
from infra.crypto.events import EventCipher
from infra.crypto.keyring import Keyring, KeyringError, load_keyring
from infra.dataschema import SchemaLocator
from infra.embedded import start_postgres, start_valkey
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.n8n.client import N8nInstance
from infra.n8n.instances import NO_N8N, N8nInstances
from infra.redis_cmds import hget
from infra.redis_conn import RedisConnection, ServerFacts, connect
from infra.settings import Durability, Settings
from infra.stopping import STOP_TIMEOUT_S, bounded, settle

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The platform cannot start as configured; the message says what to change."""


@dataclass
class Infrastructure:
    settings: Settings
    redis: RedisConnection
    redis_url: str
    store: RedisEventStore
    database_url: str
    notes: list[str] = field(default_factory=list)
    n8n: N8nInstances = NO_N8N
    keyring: Keyring | None = None


def fsync_wait(durability: Durability, facts: ServerFacts, timeout_ms: int) -> tuple[int | None, str]:
    """How long an append waits for the local AOF fsync (None: it doesn't), and what to tell the user."""
    able = facts.supports_waitaof and facts.appendonly
    if durability is Durability.NONE:
        return None, "durability: appends are acknowledged on write (AIWF_DURABILITY=none)"
    if able and facts.appendfsync == "always":
        return timeout_ms, f"durability: appends wait for the local AOF fsync (WAITAOF, {timeout_ms} ms)"
    if able and durability is Durability.AUTO:
        # Measured on Valkey 9.1.2 (docs/reliability.md): under `everysec` WAITAOF is released on the
        # next cron tick whether or not the AOF was fsynced, the bug redis/redis#13793 fixed in Redis.
        return timeout_ms, (
            f"durability: appends wait for WAITAOF ({timeout_ms} ms), but appendfsync is"
            f" {facts.appendfsync} on {facts.describe()}: servers with a known bug release WAITAOF before"
            " the fsync under everysec; set appendfsync always for acknowledged appends to be on disk"
        )
    why = (
        "appendonly is off"
        if not facts.appendonly
        else "the server has no WAITAOF (needs 7.2+)"
        if not facts.supports_waitaof
        else f"appendfsync is {facts.appendfsync}, not always (WAITAOF alone is not a proof of fsync)"
    )
    if durability is Durability.FSYNC:
        raise StartupError(f"AIWF_DURABILITY=fsync but {facts.describe()}: {why}")
    return None, f"durability: {why} on {facts.describe()}; appends are acknowledged before fsync"


async def check_partitions(redis: RedisConnection, keys: KeySpace) -> None:
    """The partition count is fixed once data exists: a different one would misplace every stream."""
    await redis.client.execute_command("HSETNX", keys.meta, "partitions", str(keys.partitions))
    stored = await hget(redis.client, keys.meta, "partitions")
    if stored is not None and int(stored) != keys.partitions:
        raise StartupError(
            f"AIWF_PARTITIONS={keys.partitions} but the store at this Redis was created with "
            f"{int(stored)} partitions; set AIWF_PARTITIONS={int(stored)}"
        )


def n8n_instances(settings: Settings) -> N8nInstances:
    if settings.n8n_url is None or settings.n8n_api_key is None:
        return NO_N8N
    instance = N8nInstance(
        url=settings.n8n_url, api_key=settings.n8n_api_key, webhook_url=settings.n8n_webhook_url
    )
    return N8nInstances(instance)


def n8n_note(settings: Settings) -> str:
    if settings.n8n_url is None:
        return "n8n: none configured (N8N_URL, N8N_API_KEY): approved workflows are not deployed"
    return f"n8n: approved workflows are deployed to {settings.n8n_url}"


@contextlib.asynccontextmanager
async def open_redis(settings: Settings, notes: list[str]) -> AsyncIterator[tuple[RedisConnection, str]]:
    """The Redis side alone (embedded Valkey when REDIS_URL is unset), its partition count checked: what
    the commands that need no PostgreSQL open (`aiwf consumers`)."""
    valkey = None
    redis_url = settings.redis_url
    if redis_url is None:
        valkey = start_valkey(settings.data_dir)
        redis_url = valkey.url
        notes.append(f"redis: embedded Valkey at {redis_url} (data in {settings.data_dir / 'valkey'})")
    try:
        redis = await connect(redis_url)
        try:
            await check_partitions(redis, keyspace(settings))
            yield redis, redis_url
        finally:
            await redis.close()
    finally:
        if valkey is not None:
            valkey.stop()


def keyspace(settings: Settings) -> KeySpace:
    return KeySpace(prefix=settings.key_prefix, partitions=settings.partitions)


def open_keyring(settings: Settings, notes: list[str]) -> Keyring:
    """The keyring (infra/crypto/keyring.py); the default file is made on first start."""
    try:
        keyring = load_keyring(
            settings.keyring_file,
            from_environment=settings.keyring_json,
            create=settings.keyring_path is None,
        )
    except KeyringError as exc:
        raise StartupError(str(exc)) from None
    notes.append(f"keyring: {keyring.source} (master v{keyring.current}, signing v{keyring.signing_version})")
    return keyring


@contextlib.asynccontextmanager
async def hearing_shreddings(
    redis: RedisConnection, keys: KeySpace, data_keys: DataKeys
) -> AsyncIterator[None]:
    """While open, a shredding announced by any process drops this process's cached key at once (a
    missed announcement still expires with the cache)."""
    node = await redis.client_for_key(keys.data_keys_shredded)
    pubsub = node.pubsub()
    await pubsub.subscribe(keys.data_keys_shredded)

    async def listen() -> None:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                forget_tenant(data_keys.forget_announced(message["data"]))

    task = asyncio.create_task(listen(), name="aiwf-shredding-listener")
    try:
        yield
    finally:
        # A cancellation swallowed below would keep `listen` reading (infra/stopping.py); closing the
        # subscription then ends it.
        await settle({task}, STOP_TIMEOUT_S, "shredding listener", cancel_first=True)
        await bounded(pubsub.aclose(), STOP_TIMEOUT_S, "shredding subscription")


@contextlib.asynccontextmanager
async def open_infrastructure(settings: Settings) -> AsyncIterator[Infrastructure]:
    notes: list[str] = []
    async with open_redis(settings, notes) as (redis, redis_url):
        database_url = settings.database_url or start_postgres(settings.data_dir)
        if settings.database_url is None:
            notes.append(f"postgres: embedded PostgreSQL (data in {settings.data_dir / 'postgres'})")
        wait_ms, note = fsync_wait(settings.durability, redis.facts, settings.waitaof_timeout_ms)
        notes.append(note)
        schemas = SchemaLocator(public_url=settings.api_url)
        keyring = open_keyring(settings, notes)
        data_keys = DataKeys(redis.client, keyspace(settings), keyring)
        store = RedisEventStore(
            redis,
            keyspace(settings),
            REGISTRY,
            wait_fsync_ms=wait_ms,
            schemas=schemas,
            cipher=EventCipher(data_keys),
        )
        n8n = n8n_instances(settings)
        notes.append(n8n_note(settings))
        try:
            async with hearing_shreddings(redis, keyspace(settings), data_keys):
                yield Infrastructure(
                    settings, redis, redis_url, store, database_url, notes, n8n, keyring=keyring
                )
        finally:
            await n8n.aclose()

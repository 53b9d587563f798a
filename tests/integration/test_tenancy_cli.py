"""The operator's commands respect tenancy: the platform's own tenant names are never a customer's, and
`aiwf infer --conversation` records only on an existing conversation of the tenant it names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from commands.context import CommandContext
from commands.conversations import start_conversation
from domain.catalog import REGISTRY
from domain.conversation_events import InferenceDecided
from domain.tenancy import RESERVED_TENANTS
from infra.api_keys import _hash, authenticate
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import connect


def aiwf(*args: str, redis_url: str, database_url: str, prefix: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AIWF_VLLM"))}
    env |= {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "AIWF_KEY_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def cli_store(redis_url: str) -> AsyncIterator[RedisEventStore]:
    """The store the CLI's processes will open: the same Redis, a key prefix of the test's own."""
    conn = await connect(redis_url)
    keys = KeySpace(prefix=f"cli{uuid.uuid4().hex[:8]}", partitions=8)
    yield RedisEventStore(conn, keys, REGISTRY, wait_fsync_ms=None)
    async for key in conn.client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await conn.client.delete(key)
    await conn.close()


@pytest.mark.parametrize("tenant", sorted(RESERVED_TENANTS))
def test_a_key_for_a_reserved_tenant_is_refused_with_a_clear_message(
    tenant: str, redis_url: str, database_url: str
) -> None:
    result = aiwf(
        "keys", "create", "--tenant", tenant, "--role", "admin", redis_url=redis_url,
        database_url=database_url, prefix="cli-reserved",
    )  # fmt: skip

    assert result.returncode == 2
    assert f"tenant {tenant!r} is reserved for the platform's own use" in result.stderr
    assert "aiwf_" not in result.stdout


async def test_a_key_issued_for_a_reserved_tenant_before_it_was_reserved_is_not_accepted(
    pg_pool: asyncpg.Pool,
) -> None:
    await pg_pool.execute(
        "INSERT INTO api_keys (key_id, tenant, role, secret_hash) "
        "VALUES ('000000000ab1', 'demo', 'admin', $1)",
        _hash("s" * 43),
    )

    assert await authenticate(pg_pool, "aiwf_000000000ab1_" + "s" * 43) is None


async def test_infer_refuses_a_conversation_that_does_not_exist_or_is_another_tenants(
    cli_store: RedisEventStore, redis_url: str, database_url: str
) -> None:
    ctx = CommandContext(tenant="acme", actor="k1", now=datetime.now(UTC))
    cid = (await start_conversation(cli_store, ctx, title=None, language=None)).stream.split("-", 1)[1]
    prefix = cli_store.keys.prefix

    def infer(*args: str) -> subprocess.CompletedProcess[str]:
        return aiwf(
            "infer", "--purpose", "orchestrator", "bonjour", *args, redis_url=redis_url,
            database_url=database_url, prefix=prefix,
        )  # fmt: skip

    missing, foreign, other = await asyncio.gather(
        asyncio.to_thread(infer, "--conversation", "nope"),
        asyncio.to_thread(infer, "--conversation", cid),
        asyncio.to_thread(infer, "--conversation", cid, "--tenant", "globex"),
    )
    untouched = await cli_store.read_stream(f"conversation-{cid}")
    own = await asyncio.to_thread(infer, "--conversation", cid, "--tenant", "acme")

    assert (missing.returncode, foreign.returncode, other.returncode) == (1, 1, 1)
    assert "no conversation 'nope'" in missing.stderr
    assert f"conversation {cid!r} is not tenant 'operator''s" in foreign.stderr
    assert "is not tenant 'globex''s" in other.stderr
    assert '"decision"' not in foreign.stdout  # refused before the model was asked
    assert await cli_store.read_stream("conversation-nope") == []
    assert len(untouched) == 1
    assert own.returncode == 0, own.stderr
    recorded = (await cli_store.read_stream(f"conversation-{cid}"))[-1].envelope
    assert (recorded.tenant, type(recorded.data)) == ("acme", InferenceDecided)

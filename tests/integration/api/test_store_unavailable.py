"""Redis out of reach for a moment is a 503 with Retry-After, not a 500; the command retried with its
Idempotency-Key then lands once. Found by the chaos suite, whose clients saw 500s while Valkey restarted."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from api.deps import Limits
from infra.crypto.keyring import Keyring
from infra.redis_conn import connect
from tests.chaos.faults import KillableValkey
from tests.integration.api.conftest import running_stack
from tests.integration.api.test_commands_and_reads import start
from tests.integration.conftest import fresh_keys, sealing_store
from tests.support.cluster import free_port


async def test_a_command_while_valkey_is_down_is_a_503_and_its_retry_lands_once(
    servers_home: Path, pg_pool: asyncpg.Pool, database_url: str, keyring: Keyring
) -> None:
    valkey = KillableValkey(free_port(), servers_home / "api-unavailable", "always")
    valkey.start()
    conn = await connect(valkey.url)
    store = sealing_store(conn, fresh_keys(), keyring)
    try:
        async with running_stack(
            store, pg_pool, database_url, valkey.url, Limits(rate_per_s=1000, burst=1000)
        ) as stack:
            cid = (await start(stack))["conversation_id"]
            message = {"json": {"text": "Envoie le total des ventes"}, "headers": {"Idempotency-Key": "m-1"}}
            valkey.kill9()
            async with stack.client() as http:
                down = await http.post(f"/v1/conversations/{cid}/messages", **message)  # type: ignore[arg-type]
            valkey.restart()
            async with stack.client() as http:
                up = await http.post(f"/v1/conversations/{cid}/messages", **message)  # type: ignore[arg-type]
            stored = await store.read_stream(f"conversation-{cid}")
    finally:
        await conn.close()
        valkey.stop()

    assert down.status_code == 503, down.text
    assert down.headers["content-type"].startswith("application/problem+json")
    assert down.headers["retry-after"] == "1"
    assert down.json()["type"].endswith("/unavailable")
    assert up.status_code == 202, up.text
    assert [e.envelope.type for e in stored].count("aiwf.conversation.user_message_received.v1") == 1

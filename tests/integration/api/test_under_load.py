"""Regressions found by the load benchmark: pool exhaustion, leaked subscriptions, logging, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from api.deps import Limits
from infra.event_store import RedisEventStore
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_commands_and_reads import start
from tests.support.cluster import free_port

STREAMS = 400


async def test_many_streams_opening_at_once_with_commands_get_no_server_error(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    """Past 100 busy Redis connections the pool failed at once: SSE set-ups and appends answered 500."""
    limits = Limits(rate_per_s=100_000, burst=100_000)
    async with running_stack(standalone_store, pg_pool, database_url, redis_url, limits) as stack:
        await open_many(stack)


async def open_many(stack: Stack) -> None:
    conversations = [(await start(stack))["conversation_id"] for _ in range(10)]
    statuses: list[int] = []

    async def subscribe() -> None:
        async with stack.client() as http, http.stream("GET", "/v1/stream") as response:
            statuses.append(response.status_code)
            await asyncio.sleep(1.0)

    async def command(n: int) -> None:
        async with stack.client() as http:
            cid = conversations[n % len(conversations)]
            response = await http.post(f"/v1/conversations/{cid}/messages", json={"text": f"m{n}"})
            statuses.append(response.status_code)

    await asyncio.gather(*(subscribe() for _ in range(STREAMS)), *(command(n) for n in range(100)))

    assert all(status < 500 for status in statuses)  # 409 is allowed: ten writers per conversation collide
    assert statuses.count(200) == STREAMS


async def test_subscriptions_end_with_their_clients(stack: Stack) -> None:
    """Subscriptions made before the stream started were never removed when the client left early."""

    async def visit() -> None:
        async with stack.client() as http, http.stream("GET", "/v1/stream") as response:
            assert response.status_code == 200

    await asyncio.gather(*(visit() for _ in range(30)))
    for _ in range(100):
        if stack.hub.subscribers == 0:
            break
        await asyncio.sleep(0.05)

    assert stack.hub.subscribers == 0


def test_sigterm_stops_the_platform_cleanly_with_json_request_logs() -> None:
    """uvicorn re-raised SIGTERM and killed the process before the embedded PostgreSQL was stopped;
    Litestar's logging config replaced ours (AIWF_JSON_LOGS was ignored)."""
    home = Path(tempfile.mkdtemp(prefix="aiwf-sigterm-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {"AIWF_DATA_DIR": str(home), "AIWF_JSON_LOGS": "true", "AIWF_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "run"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 0
    assert "Traceback" not in stderr  # uvicorn drained and stopped; nothing was cancelled mid-way
    assert not (home / "postgres" / "postmaster.pid").exists()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("logger") == "aiwf.http"]
    assert requests
    assert requests[0]["route"] == "/health/live"  # the route, never the path as sent
    assert requests[0]["status"] == 200

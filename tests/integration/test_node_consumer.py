"""The Node.js consumer of docs/consumers.md, run as printed there, against a real server with a user
from `create_consumer`: it checks every hash and every stream's versions, and acknowledges everything.
Needs Node and the npm registry (to install `redis@5` once per session), as `make n8n` does: it fails
without them rather than skip, so a broken example cannot pass unseen."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.catalog import REGISTRY
from infra.consumers import create_consumer
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection
from tests.support.consumers_doc import blocks
from tests.support.events import ORIGIN, batch


@pytest.fixture(scope="session")
def node_consumer(servers_home: Path) -> Path:
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.fail("Node.js and npm are needed (they are for n8n too)")
    home = servers_home / "node-consumer"
    home.mkdir(exist_ok=True)
    installed = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "redis@5"],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"npm could not install redis@5: {installed.stderr[-300:]}")
    script = home / "consumer.mjs"
    script.write_text(blocks()["consumer.mjs"] + "\n", encoding="utf-8")
    return script


@pytest.fixture
async def keys(standalone: RedisConnection) -> AsyncIterator[KeySpace]:
    space = KeySpace(prefix=f"t{uuid.uuid4().hex[:10]}", partitions=3)
    yield space
    await standalone.client.execute_command("ACL", "DELUSER", f"{space.prefix}-consumer-node")
    async for key in standalone.client.scan_iter(match=f"{space.prefix}:*"):
        await standalone.client.delete(key)


async def consume(script: Path, url: str, keys: KeySpace) -> tuple[int, str, str]:
    run = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(script),
        url,
        "node",
        str(keys.partitions),
        keys.prefix,
        cwd=script.parent,
        env={**os.environ, "ONCE": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(run.communicate(), timeout=60)
    return run.returncode or 0, stdout.decode(), stderr.decode()


async def test_the_documented_node_consumer_reads_verifies_and_acknowledges_everything(
    node_consumer: Path, standalone: RedisConnection, redis_url: str, keys: KeySpace
) -> None:
    store = RedisEventStore(standalone, keys, REGISTRY, wait_fsync_ms=None)
    streams = [f"conversation-node-{n}" for n in range(5)]
    for stream in streams:
        await store.append(stream, batch(3, 'é "x"\n\u2028 ☃ 😀'), expected_version=0, origin=ORIGIN)
    grant = await create_consumer(standalone, keys, redis_url, "node")

    code, stdout, stderr = await consume(node_consumer, grant.url, keys)
    pending = [await standalone.client.xpending(p.log, "node") for p in keys.all_partitions()]

    assert code == 0, stderr
    handled = sorted(tuple(line.split()[:2]) for line in stdout.splitlines())
    assert handled == sorted((stream, str(v)) for stream in streams for v in (1, 2, 3))
    assert [p["pending"] for p in pending] == [0] * keys.partitions


async def test_the_documented_node_consumer_stops_at_a_missing_event(
    node_consumer: Path, standalone: RedisConnection, redis_url: str, keys: KeySpace
) -> None:
    store = RedisEventStore(standalone, keys, REGISTRY, wait_fsync_ms=None)
    await store.append("conversation-gap", batch(3), expected_version=0, origin=ORIGIN)
    log = keys.for_stream("conversation-gap").log
    second = (await standalone.client.xrange(log))[1][0]
    await standalone.client.xdel(log, second)  # what only someone writing around the store could do
    grant = await create_consumer(standalone, keys, redis_url, "node")

    code, stdout, stderr = await consume(node_consumer, grant.url, keys)

    assert code != 0
    assert stdout.split() == ["conversation-gap", "1", "aiwf.conversation.user_message_received.v1"]
    assert "conversation-gap: version 3 after 1: an event is missing" in stderr

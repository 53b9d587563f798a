"""Lua scripts go by their SHA-1: a server that does not know a script (new, restarted, its scripts
flushed) is given it once, and the call still answers."""

from __future__ import annotations

import uuid

import pytest
from redis.exceptions import ResponseError

from infra.redis_cmds import Script
from infra.redis_conn import RedisConnection

COUNTER = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")


async def test_a_script_the_server_does_not_know_is_loaded_and_answers(conn: RedisConnection) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:counter"
    await conn.client.script_flush()

    first = await COUNTER(conn.client, [key], [2])
    second = await COUNTER(conn.client, [key], [3])

    assert (first, second) == (2, 5)
    await conn.client.delete(key)


async def test_a_script_error_is_raised_not_retried(conn: RedisConnection) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:counter"
    await conn.client.set(key, "not a number")

    with pytest.raises(ResponseError, match="not an integer"):
        await COUNTER(conn.client, [key], [1])
    assert await conn.client.get(key) == b"not a number"
    await conn.client.delete(key)

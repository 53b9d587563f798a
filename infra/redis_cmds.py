"""Typed wrappers over the few Redis commands we use (redis-py's own return types are unions)."""

from __future__ import annotations

from typing import Any, cast

from infra.redis_conn import AnyRedis

StreamEntry = tuple[bytes, dict[bytes, bytes]]


async def xrange(
    client: AnyRedis, key: str, start: str, end: str = "+", count: int = 1000
) -> list[StreamEntry]:
    reply: Any = await client.execute_command("XRANGE", key, start, end, "COUNT", count)
    return cast(list[StreamEntry], reply or [])


async def hget(client: AnyRedis, key: str, field: str) -> bytes | None:
    reply: Any = await client.execute_command("HGET", key, field)
    return cast(bytes | None, reply)


async def hgetall(client: AnyRedis, key: str) -> dict[bytes, bytes]:
    reply: Any = await client.execute_command("HGETALL", key)
    return cast(dict[bytes, bytes], reply or {})

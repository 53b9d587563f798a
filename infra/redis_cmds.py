"""Typed wrappers over the few Redis commands we use (redis-py's own return types are unions)."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from redis.exceptions import NoScriptError

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


class Script:
    """A Lua script run by its SHA-1 (EVALSHA): the server neither receives nor hashes its text on every
    call. A server that does not know it yet (new, restarted, flushed) gets it once through EVAL."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1

    async def __call__(self, client: AnyRedis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)

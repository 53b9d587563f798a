"""A lease per (group, partition): one active consumer for ordered work, taken over when its holder dies.

Each acquisition increments an epoch: a fencing token the projector stores with its checkpoint, so a
holder that lost its lease (paused, partitioned) can no longer commit once a successor has.
"""

from __future__ import annotations

from typing import Any

from infra.keys import PartitionKeys
from infra.redis_cmds import Script
from infra.redis_conn import RedisConnection

_ACQUIRE = Script(
    """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])
"""
)
_RENEW = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
)
_RELEASE = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)


class LeaseLost(RuntimeError):
    """A newer lease holder exists (or has committed): this one must stop writing."""


class Lease:
    def __init__(
        self, redis: RedisConnection, keys: PartitionKeys, group: str, owner: str, ttl_ms: int
    ) -> None:
        self._redis = redis
        self._keys = [keys.lease(group), keys.epoch(group)]
        self.owner = owner
        self.ttl_ms = ttl_ms
        self.epoch = 0

    async def acquire(self) -> bool:
        """Take the lease if it is free (or already ours); sets `epoch` on success."""
        epoch = int(await self._eval(_ACQUIRE, self._keys, self.owner, self.ttl_ms))
        if epoch > 0:
            self.epoch = epoch
        return epoch > 0

    async def renew(self) -> bool:
        return bool(await self._eval(_RENEW, self._keys[:1], self.owner, self.ttl_ms))

    async def advance(self, floor: int) -> bool:
        """Move the epoch past `floor` (Redis lost its counter, PostgreSQL remembers a higher one)."""
        epoch = int(await self._eval(_ADVANCE, self._keys, self.owner, floor))
        if epoch > 0:
            self.epoch = epoch
        return epoch > 0

    async def release(self) -> None:
        await self._eval(_RELEASE, self._keys[:1], self.owner)

    async def _eval(self, script: Script, keys: list[str], *args: Any) -> Any:
        return await script(self._redis.client, keys, list(args))


_ADVANCE = Script(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local floor = tonumber(ARGV[2])
if current <= floor then redis.call('SET', KEYS[2], floor + 1); return floor + 1 end
return current
"""
)


class Held(RuntimeError):
    """Another holder has the lock; the step is retried later (a transient failure, never counted)."""


class StepLock:
    """One holder at a time for a side effect outside the log, across processes: taken for at most
    `ttl_ms` (longer than the step can take), released by its holder only."""

    def __init__(self, redis: RedisConnection, key: str, owner: str, ttl_ms: int) -> None:
        self._redis, self._key, self._owner, self._ttl_ms = redis, key, owner, ttl_ms

    async def __aenter__(self) -> StepLock:
        taken = await self._redis.client.set(self._key, self._owner, nx=True, px=self._ttl_ms)
        if not taken:
            raise Held(f"{self._key} is held by another consumer")
        return self

    async def __aexit__(self, *_: object) -> None:
        await _RELEASE(self._redis.client, [self._key], [self._owner])

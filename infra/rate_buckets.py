"""Token buckets kept in Redis, shared by every API process (docs/adr/0033-shared-rate-limits.md).

One script refills a bucket by the time elapsed on the Redis server's clock (`TIME`), so the processes'
clocks never matter, then grants up to the tokens asked for. A bucket lives in a hash (`t` tokens, `at`
last refill, seconds) that expires once it would be full again: a missing bucket and a full one are the
same, and idle buckets cost nothing."""

from __future__ import annotations

import math

import msgspec

from infra.redis_cmds import Script
from infra.redis_conn import RedisConnection

# Floats leave the script as strings: Redis truncates a Lua number to an integer on the way out.
_LEASE = Script(
    """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local kept = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(kept[1]), tonumber(kept[2])
if tokens == nil or at == nil then
  tokens, at = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if granted > 0 then
  return {granted, '0'}
end
return {0, tostring((1 - tokens) / rate)}
"""
)


class Grant(msgspec.Struct, frozen=True):
    tokens: int  # how many of the tokens asked for were granted, 0 when the bucket had none
    wait_s: float  # when none: how long until one is there; else 0


def full_after_ms(rate: float, burst: int) -> int:
    """How long an untouched bucket takes to fill up again: past it, forgetting the bucket loses nothing."""
    return math.ceil(burst / rate * 1000) + 1000


async def lease_tokens(redis: RedisConnection, key: str, rate: float, burst: int, want: int) -> Grant:
    """Up to `want` tokens of the bucket at `key`, taken at once (one round trip, atomic)."""
    args = (rate, burst, want, full_after_ms(rate, burst))
    granted, wait = await _LEASE(redis.client, [key], list(args))
    return Grant(int(granted), float(wait))

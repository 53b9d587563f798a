"""Rate limits shared by every API process, at almost no cost per request (docs/adr/0033).

The bucket of a key lives in Redis (infra/rate_buckets.py); a process leases a few of its tokens at once
(`chunk`) and serves requests from that lease without I/O. A lease not spent within `lease_s` is dropped,
never given back, so the processes together never take more than the bucket grants: the rate is never
exceeded, only under-used, by the tokens other processes hold leased (fewer than chunk × (processes − 1)
at any moment, each gone within `lease_s`). While Redis is out of reach, each process falls back on its own
`TokenBucket` at the full rate: reads served from PostgreSQL stay up, and the limit is per process again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from redis.exceptions import RedisError

from api.auth import CACHE_SIZE, Clock, TokenBucket, remember
from api.problems import UNAVAILABLE
from infra.keys import KeySpace
from infra.rate_buckets import Grant, lease_tokens
from infra.redis_conn import RedisConnection

log = logging.getLogger(__name__)
LEASE_S = 1.0  # short: tokens a process leased and no longer needs are lost to the others this long at most
REDIS_WAIT_S = 0.25  # a limiter slower than this costs more than a limit per process does
RETRY_REDIS_S = 1.0  # after a failure, one request a second tries Redis again; the others stay local
# Whatever Redis answers instead of a grant (out of reach, loading, a cluster resharding) must not fail
# the request: the local bucket answers instead.
_REDIS_FAILED: tuple[type[Exception], ...] = (RedisError, *UNAVAILABLE)


def chunk_of(burst: int) -> int:
    """Tokens leased at once. A quarter of the burst at most, so that a few processes' leases never hold
    the whole burst; 10 at most, so that a busy key costs one Redis call per 10 requests while the tokens
    a process may hold unused stay a fraction of a second of the default rate (50/s)."""
    return max(1, min(burst // 4, 10))


class _Lease:
    """Tokens this process may spend until `expires_at`; or, with none, when the bucket has one again.
    Mutable, so that the fast path spends a token without allocating."""

    __slots__ = ("denied_until", "expires_at", "tokens")

    def __init__(self, tokens: int, expires_at: float, denied_until: float) -> None:
        self.tokens, self.expires_at, self.denied_until = tokens, expires_at, denied_until


class SharedBucket:
    """`rate` requests a second and bursts up to `burst` per key, across every API process using the same
    Redis; at most `size` leases kept (the least recently refilled goes first: forgetting one loses at
    most its tokens). `scope` names the limit in the bucket's Redis key (`key`, `address`)."""

    def __init__(
        self,
        redis: RedisConnection,
        keys: KeySpace,
        scope: str,
        rate: float,
        burst: int,
        *,
        size: int = CACHE_SIZE,
        clock: Clock = time.monotonic,
        lease_s: float = LEASE_S,
    ) -> None:
        self.rate, self.burst, self.chunk = rate, burst, chunk_of(burst)
        self._most = max(self.chunk, burst // 4)  # tokens one refill may ask for, requests waiting
        self._redis, self._keys, self._scope = redis, keys, scope
        self._size, self._clock, self._lease_s = size, clock, lease_s
        self._local = TokenBucket(rate, burst, size=size, clock=clock)
        self._leases: OrderedDict[str, _Lease] = OrderedDict()
        self._refills: dict[str, asyncio.Future[None]] = {}  # one Redis call per key at a time
        self._wanting: dict[str, int] = {}  # requests of a key in `take`, each needing a token
        self._local_until = 0.0  # the local bucket answers until then (Redis failed)
        self._redis_lost = False

    def leased(self, key: str) -> bool:
        """A token from this process's lease of `key`: no I/O. False: ask `take`."""
        lease = self._leases.get(key)
        if lease is None or lease.tokens == 0 or lease.expires_at <= self._clock():
            return False
        lease.tokens -= 1
        return True

    async def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        self._wanting[key] = self._wanting.get(key, 0) + 1
        try:
            return await self._take(key)
        finally:
            left = self._wanting[key] - 1
            if left:
                self._wanting[key] = left
            else:
                del self._wanting[key]

    async def _take(self, key: str) -> float:
        while not self.leased(key):
            now = self._clock()
            if now < self._local_until:
                return self._local.take(key)
            lease = self._leases.get(key)
            if lease is not None and lease.denied_until > now:
                return lease.denied_until - now  # asked already: the bucket is empty until then
            pending = self._refills.get(key)
            if pending is not None:
                await asyncio.shield(pending)  # one waiter cancelled must not cancel the others' wait
            else:
                await self._refill(key, now)
        return 0.0

    async def _refill(self, key: str, now: float) -> None:
        if self._redis_lost:
            self._local_until = now + RETRY_REDIS_S  # this request tries Redis; the others stay local
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._refills[key] = done
        # Enough for every request of the key waiting now, not just a chunk: a refill that serves a few
        # of them wakes the rest only to wait for the next one, over and over under a busy key.
        want = min(self._most, max(self.chunk, self._wanting.get(key, 1)))
        try:
            grant = await self._ask(key, want)
            if grant is not None:
                answered = self._clock()
                denied = 0.0 if grant.tokens else answered + grant.wait_s
                remember(
                    self._leases, key, _Lease(grant.tokens, answered + self._lease_s, denied), self._size
                )
        finally:
            del self._refills[key]
            done.set_result(None)

    async def _ask(self, key: str, want: int) -> Grant | None:
        """The grant of Redis, or None when Redis could not answer (the local bucket then answers)."""
        bucket = self._keys.rate_bucket(self._scope, key)
        try:
            async with asyncio.timeout(REDIS_WAIT_S):
                grant = await lease_tokens(self._redis, bucket, self.rate, self.burst, want)
        except _REDIS_FAILED:
            self._local_until = self._clock() + RETRY_REDIS_S
            if not self._redis_lost:  # once per outage, not per request
                self._redis_lost = True
                log.warning(
                    "rate limit %r: Redis did not answer; each API process limits on its own until it does",
                    self._scope,
                    exc_info=True,
                )
            return None
        if self._redis_lost:
            self._redis_lost, self._local_until = False, 0.0
            log.info("rate limit %r: Redis answers again; the limit is shared again", self._scope)
        return grant

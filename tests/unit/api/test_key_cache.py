"""The key cache in front of PostgreSQL: good keys and unknown tokens kept apart, each evicted one entry
at a time (least recently used first), misses remembered briefly, malformed tokens never looked up."""

from __future__ import annotations

import secrets
from collections.abc import Collection

from api import auth
from api.auth import KeyCache, TokenBucket
from domain.types import Role
from infra.api_keys import Principal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Keys:
    """PostgreSQL as the cache sees it: a few good tokens, every lookup counted."""

    def __init__(self, *good: str) -> None:
        self.good = {token: Principal(key_id=token[5:17], tenant="acme", role=Role.MEMBER) for token in good}
        self.lookups: list[str] = []
        self.revoked: set[str] = set()

    async def authenticate(self, token: str) -> Principal | None:
        self.lookups.append(token)
        principal = self.good.get(token)
        return None if principal is None or principal.key_id in self.revoked else principal

    async def active(self, key_ids: Collection[str]) -> set[str]:
        return {p.key_id for p in self.good.values() if p.key_id in key_ids and p.key_id not in self.revoked}


def token() -> str:
    return f"aiwf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


async def test_a_spray_of_unknown_tokens_evicts_no_good_key() -> None:
    """Regression: the cache was cleared wholesale past 10,000 entries, so a spray of tokens made every
    good key cost a query again."""
    good = [token() for _ in range(3)]
    keys, clock = Keys(*good), Clock()
    cache = KeyCache(keys, size=100, clock=clock)
    for known in good:
        await cache.principal(known)

    for _ in range(1000):
        assert await cache.principal(token()) is None
    clock.now += auth.CACHE_S / 2

    assert all(cache.fresh(known) is not None for known in good)
    assert [t for t in keys.lookups if t in good] == good  # each good key was asked for once


async def test_good_keys_past_the_cache_size_go_one_at_a_time_least_recently_used_first() -> None:
    good = [token() for _ in range(4)]
    cache = KeyCache(Keys(*good), size=3, clock=Clock())
    for known in good[:3]:
        await cache.principal(known)
    assert cache.fresh(good[0]) is not None  # used again: now the most recent

    await cache.principal(good[3])

    assert [cache.was_good(t) for t in good] == [True, False, True, True]


async def test_an_unknown_token_is_remembered_for_the_miss_period_only() -> None:
    keys, clock = Keys(), Clock()
    cache = KeyCache(keys, clock=clock)
    unknown = token()

    await cache.principal(unknown)
    await cache.principal(unknown)
    clock.now += auth.MISS_S + 0.1
    await cache.principal(unknown)

    assert keys.lookups == [unknown, unknown]


async def test_a_malformed_token_costs_no_lookup_and_is_not_kept() -> None:
    keys = Keys()
    cache = KeyCache(keys, size=10, clock=Clock())

    for n in range(100):
        assert await cache.principal("x" * (1000 + n)) is None

    assert keys.lookups == []


async def test_a_key_found_revoked_is_forgotten_at_once() -> None:
    good = token()
    keys = Keys(good)
    cache = KeyCache(keys, clock=Clock())
    principal = await cache.principal(good)
    assert principal is not None
    keys.revoked.add(principal.key_id)

    assert await cache.revoked_among({principal.key_id}) == {principal.key_id}
    assert cache.fresh(good) is None
    assert await cache.principal(good) is None


def test_buckets_past_their_number_are_forgotten_one_at_a_time() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=1, size=2, clock=clock)

    assert [bucket.take(a) for a in ("a", "b")] == [0.0, 0.0]
    assert bucket.take("a") > 0  # "a" is empty, and now the most recent
    assert bucket.take("c") == 0.0  # "b", the least recently used, goes
    assert bucket.take("a") > 0  # "a" is still remembered empty
    assert bucket.take("b") == 0.0  # "b" starts full again


async def test_a_revocation_heard_drops_every_token_of_that_key_and_no_other() -> None:
    revoked, kept = token(), token()
    keys = Keys(revoked, kept)
    cache = KeyCache(keys, clock=Clock())
    principal = await cache.principal(revoked)
    await cache.principal(kept)
    assert principal is not None
    keys.revoked.add(principal.key_id)

    cache.forget_key(principal.key_id)

    assert cache.fresh(revoked) is None
    assert cache.fresh(kept) is not None
    assert await cache.principal(revoked) is None


class SlowKeys(Keys):
    """PostgreSQL answering a lookup while a revocation is heard."""

    def __init__(self, cache_of: list[KeyCache], *good: str) -> None:
        super().__init__(*good)
        self.cache_of = cache_of

    async def authenticate(self, token: str) -> Principal | None:
        principal = await super().authenticate(token)
        if principal is not None:
            self.cache_of[0].forget_key(principal.key_id)  # heard while the query ran
        return principal


async def test_a_lookup_that_overlapped_a_revocation_is_not_remembered() -> None:
    """The answer may predate the revocation: remembering it would let the key work for CACHE_S."""
    good = token()
    cache_of: list[KeyCache] = []
    keys = SlowKeys(cache_of, good)
    cache_of.append(KeyCache(keys, clock=Clock()))

    assert await cache_of[0].principal(good) is not None
    assert not cache_of[0].was_good(good)


async def test_forgetting_every_key_makes_each_one_asked_again_as_a_key_that_was_good() -> None:
    good = [token() for _ in range(3)]
    keys = Keys(*good)
    cache = KeyCache(keys, clock=Clock())
    for known in good:
        await cache.principal(known)

    cache.forget_all()

    assert not any(cache.fresh(known) for known in good)
    assert all(cache.was_good(known) for known in good)  # re-checked without paying the address bucket
    assert await cache.principal(good[0]) is not None
    assert cache.fresh(good[0]) is not None
    assert keys.lookups.count(good[0]) == 2

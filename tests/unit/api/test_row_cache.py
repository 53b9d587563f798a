"""The read cache serves a row only under the stamp it was loaded with, and never an older row."""

from __future__ import annotations

import asyncio

import msgspec

from api.read_cache import RowCache


class Row(msgspec.Struct, frozen=True):
    key: str
    last_version: int


class Stamps:
    def __init__(self) -> None:
        self.positions: dict[int, int] = {}
        self.listening = True

    def stamp(self, projection: str, partition: int) -> tuple[int, ...] | None:
        return (0, self.positions.get(partition, 0), 0) if self.listening else None


class Table:
    """Stands for the read model's rows; counts the loads that reach it."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.loads = 0

    def loader(self, key: str, delay: float = 0.0, row: Row | None = None):  # type: ignore[no-untyped-def]
        async def load() -> Row | None:
            self.loads += 1
            found = row if row is not None else self.rows.get(key)
            await asyncio.sleep(delay)
            return found

        return load


def cache_over(stamps: Stamps, capacity: int = 100) -> RowCache[Row]:
    return RowCache(stamps, "views", version_of=lambda r: r.last_version, capacity=capacity)


async def test_a_second_read_under_the_same_stamp_is_not_loaded_again() -> None:
    stamps, table = Stamps(), Table()
    table.rows["a"] = Row("a", 1)
    cache = cache_over(stamps)

    assert await cache.get("a", 0, table.loader("a")) == Row("a", 1)
    assert await cache.get("a", 0, table.loader("a")) == Row("a", 1)
    assert (table.loads, cache.hits, cache.misses) == (1, 1, 1)


async def test_a_commit_on_the_partition_makes_the_next_read_load() -> None:
    stamps, table = Stamps(), Table()
    table.rows["a"] = Row("a", 1)
    cache = cache_over(stamps)
    await cache.get("a", 0, table.loader("a"))

    table.rows["a"] = Row("a", 2)
    stamps.positions[1] = 5  # another partition moved: still a hit
    assert await cache.get("a", 0, table.loader("a")) == Row("a", 1)
    stamps.positions[0] = 7  # ours moved
    assert await cache.get("a", 0, table.loader("a")) == Row("a", 2)
    assert table.loads == 2


async def test_without_notifications_every_read_loads_and_nothing_is_kept() -> None:
    stamps, table = Stamps(), Table()
    table.rows["a"] = Row("a", 1)
    stamps.listening = False
    cache = cache_over(stamps)
    for _ in range(3):
        assert await cache.get("a", 0, table.loader("a")) == Row("a", 1)
    assert table.loads == 3
    stamps.listening = True
    await cache.get("a", 0, table.loader("a"))
    assert table.loads == 4  # nothing was kept while deaf


async def test_a_slow_load_of_an_older_row_does_not_replace_a_newer_one() -> None:
    stamps, table = Stamps(), Table()
    cache = cache_over(stamps)
    slow_old = cache.get("a", 0, table.loader("a", delay=0.05, row=Row("a", 4)))
    fast_new = cache.get("a", 0, table.loader("a", delay=0.0, row=Row("a", 5)))
    assert await asyncio.gather(slow_old, fast_new) == [Row("a", 4), Row("a", 5)]
    assert await cache.get("a", 0, table.loader("a")) == Row("a", 5)


async def test_missing_rows_are_not_cached_and_the_oldest_rows_go_first() -> None:
    stamps, table = Stamps(), Table()
    cache = cache_over(stamps, capacity=2)
    assert await cache.get("nobody", 0, table.loader("nobody")) is None
    table.rows["nobody"] = Row("nobody", 1)  # created since: seen at once
    assert await cache.get("nobody", 0, table.loader("nobody")) == Row("nobody", 1)

    for key in ("a", "b", "c"):
        table.rows[key] = Row(key, 1)
        await cache.get(key, 0, table.loader(key))
    loads = table.loads
    await cache.get("c", 0, table.loader("c"))
    await cache.get("a", 0, table.loader("a"))  # evicted (capacity 2)
    assert table.loads == loads + 1

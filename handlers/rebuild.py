"""Replay the log into shadow tables: `rebuild` swaps them in atomically, `verify` compares them.

Replay only folds events: it never calls a model or n8n. Shadows get the live tables' indexes and
constraints under the live names plus SHADOW, so the swap restores the exact names (`LIKE … INCLUDING
ALL` made up its own, and a rebuilt table's index names drifted from the migrations'). Append-only
tables (the archive) are indexed once filled; tables folded by upsert need theirs from the start.
The shadow catches up to the live checkpoints
inside one transaction that holds the checkpoint rows, so the live projector (which locks the same rows
first in every batch) waits while the tables are compared or swapped; readers never see a half table.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Literal

import asyncpg
import msgspec

from domain.errors import MalformedEvent, UnknownEventType
from infra.event_store import RedisEventStore
from projections.events import ProjectedEvent, log_position
from projections.read_model import AppendModel, Conn, ProjectorSpec

CHUNK = 5000
SHADOW = "__shadow"

Progress = Callable[[str, int, float], None]  # (projector, events so far, events/s)


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    table: str
    only_live: int
    only_rebuilt: int
    example: str


class ReplayReport(msgspec.Struct, kw_only=True):
    projector: str
    events: int = 0
    seconds: float = 0.0
    differences: list[Difference] = msgspec.field(default_factory=list)
    swapped: bool = False


class _Replay:
    """One replay of a projector: where it reads, what it writes, what it counted."""

    def __init__(self, store: RedisEventStore, spec: ProjectorSpec, progress: Progress | None) -> None:
        self.store, self.spec, self.progress = store, spec, progress
        self.shadow = {table: table + SHADOW for table in spec.tables}
        self.bare = {
            t
            for model in spec.models
            if isinstance(model, AppendModel) and not model.read_while_folding
            for t in model.tables
        }
        self.report = ReplayReport(projector=spec.name)
        self.started = time.perf_counter()

    async def fold(self, conn: Conn, partition: int, after: str, until: str) -> str:
        """Fold (after, until] of one partition log into the shadow tables, chunk by chunk."""
        while log_position(after) < log_position(until):
            entries = await self.store.read_log(partition, after=after, count=CHUNK, until=until)
            if not entries:
                break
            events = [e for entry in entries if (e := self._typed(partition, entry.log_id, entry.raw))]
            async with conn.transaction():
                for model in self.spec.models:
                    await model.apply(conn, events, self.shadow)
            after = entries[-1].log_id
            self.report.events += len(events)
            if self.progress is not None:
                elapsed = max(time.perf_counter() - self.started, 1e-9)
                self.progress(self.spec.name, self.report.events, self.report.events / elapsed)
        return after

    def _typed(self, partition: int, log_id: str, raw: bytes | None) -> ProjectedEvent | None:
        try:
            envelope = self.store.registry.decode(raw or b"")
        except (MalformedEvent, UnknownEventType):
            return None  # not ours: the live projector dead-letters it, replay skips it alike
        return ProjectedEvent(partition=partition, log_id=log_id, raw=raw or b"", envelope=envelope)


async def replay(
    pool: asyncpg.Pool,
    store: RedisEventStore,
    spec: ProjectorSpec,
    mode: Literal["rebuild", "verify"],
    progress: Progress | None = None,
) -> ReplayReport:
    run = _Replay(store, spec, progress)
    partitions = [keys.partition for keys in store.keys.all_partitions()]
    await _create_shadows(pool, run.shadow, run.bare)
    try:
        reached = await _first_pass(pool, run, partitions, mode)
        if mode == "rebuild":
            async with pool.acquire() as conn, conn.transaction():
                for table in sorted(run.bare):
                    await _index_like(conn, table, run.shadow[table])
        async with pool.acquire() as conn, conn.transaction():
            live = await _checkpoints(conn, spec.name, partitions, lock=True)
            for partition in partitions:
                if log_position(live[partition]) > log_position(reached[partition]):
                    reached[partition] = await run.fold(conn, partition, reached[partition], live[partition])
            if mode == "verify":
                found = [await _compare(conn, table, run.shadow[table]) for table in spec.tables]
                run.report.differences = [d for d in found if d.only_live or d.only_rebuilt]
            else:
                await _swap(conn, run.shadow)
                await _advance(conn, spec.name, live, reached)
                # Delivered at commit: API processes drop what they cached from the old tables.
                await conn.execute("SELECT pg_notify('aiwf_checkpoints', $1)", f"{spec.name} swapped")
                run.report.swapped = True
    finally:
        await _drop_shadows(pool, run.shadow)
    run.report.seconds = time.perf_counter() - run.started
    return run.report


async def _first_pass(
    pool: asyncpg.Pool, run: _Replay, partitions: list[int], mode: Literal["rebuild", "verify"]
) -> dict[int, str]:
    """Without locks: up to the live checkpoints (verify) or to the end of the log (rebuild)."""
    live = await _checkpoints(pool, run.spec.name, partitions)
    reached: dict[int, str] = {}
    async with pool.acquire() as conn:
        for partition in partitions:
            target = live[partition]
            if mode == "rebuild":
                target = max(target, await run.store.log_end(partition), key=log_position)
            reached[partition] = await run.fold(conn, partition, "0-0", target)
    return reached


async def _checkpoints(
    conn: Conn | asyncpg.Pool, projection: str, partitions: list[int], *, lock: bool = False
) -> dict[int, str]:
    await conn.executemany(
        "INSERT INTO projection_checkpoints (projection, partition) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(projection, p) for p in partitions],
    )
    rows = await conn.fetch(
        "SELECT partition, position FROM projection_checkpoints WHERE projection = $1 ORDER BY partition"
        + (" FOR UPDATE" if lock else ""),
        projection,
    )
    return {row["partition"]: row["position"] for row in rows}


async def _advance(conn: Conn, projection: str, live: dict[int, str], reached: dict[int, str]) -> None:
    """The rebuilt tables may be ahead of the live projector: move its checkpoint with them."""
    for partition, position in reached.items():
        newest = max(position, live[partition], key=log_position)
        await conn.execute(
            "UPDATE projection_checkpoints SET position = $3, updated_at = now() "
            "WHERE projection = $1 AND partition = $2",
            projection,
            partition,
            newest,
        )


async def _create_shadows(pool: asyncpg.Pool, shadow: Mapping[str, str], bare: set[str]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for table, copy in shadow.items():
            await conn.execute(f"DROP TABLE IF EXISTS {copy}")
            await conn.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            if table not in bare:
                await _index_like(conn, table, copy)


_INDEXDEF = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) (USING .+)$")


async def _index_like(conn: Conn, table: str, copy: str) -> None:
    """Give `copy` the indexes, primary key and unique constraints of `table`, named with SHADOW (the
    swap renames the indexes, and their constraints with them)."""
    rows = await conn.fetch(
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition, c.contype::text AS kind "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = $1::regclass ORDER BY i.relname",
        table,
    )
    for row in rows:
        found = _INDEXDEF.match(row["definition"])
        if found is None:
            raise RuntimeError(f"cannot read the definition of index {row['name']}: {row['definition']}")
        unique, _, _, rest = found.groups()
        name = f"{row['name']}{SHADOW}"
        await conn.execute(f'CREATE {unique or ""}INDEX "{name}" ON {copy} {rest}')
        if row["kind"] in ("p", "u"):
            constraint = "PRIMARY KEY" if row["kind"] == "p" else "UNIQUE"
            await conn.execute(
                f'ALTER TABLE {copy} ADD CONSTRAINT "{name}" {constraint} USING INDEX "{name}"'
            )


async def _drop_shadows(pool: asyncpg.Pool, shadow: Mapping[str, str]) -> None:
    async with pool.acquire() as conn:
        for copy in shadow.values():
            await conn.execute(f"DROP TABLE IF EXISTS {copy}")


async def _swap(conn: Conn, shadow: Mapping[str, str]) -> None:
    for table, copy in shadow.items():
        await conn.execute(f"DROP TABLE {table}")
        await conn.execute(f"ALTER TABLE {copy} RENAME TO {table}")
        indexes = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND schemaname = current_schema()", table
        )
        for row in indexes:
            if SHADOW in row["indexname"]:
                await conn.execute(
                    f'ALTER INDEX "{row["indexname"]}" RENAME TO "{row["indexname"].replace(SHADOW, "")}"'
                )


async def _compare(conn: Conn, table: str, copy: str) -> Difference:
    only_live = await conn.fetch(f"SELECT * FROM {table} EXCEPT ALL SELECT * FROM {copy} LIMIT 1000")
    only_rebuilt = await conn.fetch(f"SELECT * FROM {copy} EXCEPT ALL SELECT * FROM {table} LIMIT 1000")
    example = ""
    if only_live:
        first = dict(only_live[0])
        key = next(iter(first))
        twin = next((dict(r) for r in only_rebuilt if r[key] == first[key]), None)
        changed = [c for c in first if twin is not None and first[c] != twin[c]]
        example = f"{key}={first[key]!r}: " + (
            ", ".join(f"{c} live={first[c]!r} rebuilt={twin[c]!r}" for c in changed)
            if twin
            else "row is not in the rebuilt table"
        )
    elif only_rebuilt:
        first = dict(only_rebuilt[0])
        key = next(iter(first))
        example = f"{key}={first[key]!r}: row is missing from the live table"
    return Difference(
        table=table, only_live=len(only_live), only_rebuilt=len(only_rebuilt), example=example[:500]
    )

"""Signed Merkle checkpoints of the partition logs (docs/adr/0024-signed-merkle-checkpoints.md).

A checkpoint says: the first `size` entries of a partition log have the RFC 6962 root `root`, signed.
The next one extends the frontier kept with the last one, so a checkpoint hashes only what was appended
since. One checkpointer per partition at a time (a transaction-scoped advisory lock: a second worker
skips the partition); `aiwf run` and `aiwf worker` make them every AIWF_CHECKPOINT_INTERVAL_S seconds
when the log grew, `aiwf audit checkpoint` on demand.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from domain.checkpoint import Checkpoint, MalformedCheckpoint, checkpoint_text, parse_checkpoint
from domain.merkle import Frontier, leaf_hash
from domain.types import utc_now
from infra.crypto.keyring import SIGNING_ALGORITHM, Keyring
from infra.crypto.signing import Signature, sign
from infra.event_store import READ_CHUNK, RedisEventStore
from infra.periodic import every
from infra.proof_store import Completed, ProofStore

log = logging.getLogger(__name__)

# The pool for one-statement reads, or a connection (of its own, or borrowed) inside a transaction.
if TYPE_CHECKING:
    Source: TypeAlias = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy[Any]
else:
    Source = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

MAX_ENTRIES = 100_000  # per checkpoint: a long backlog is covered by several, each signed as it is reached


class CheckpointRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored row: its columns, and the signed text they must agree with."""

    partition: int
    size: int
    last_log_id: str
    body: bytes
    signature: Signature
    frontier: bytes

    @property
    def checkpoint(self) -> Checkpoint:
        """What the signed text says (MalformedCheckpoint when it is not one)."""
        return parse_checkpoint(self.body)

    def checkpoint_or_none(self) -> Checkpoint | None:
        try:
            return self.checkpoint
        except MalformedCheckpoint:
            return None


_COLUMNS = "partition, size, last_log_id, body, signature, frontier, algorithm, key_version"


def _record(row: Any) -> CheckpointRecord:
    return CheckpointRecord(
        partition=row["partition"],
        size=row["size"],
        last_log_id=row["last_log_id"],
        body=bytes(row["body"]),
        signature=Signature(
            algorithm=row["algorithm"], key_version=row["key_version"], signature=bytes(row["signature"])
        ),
        frontier=bytes(row["frontier"]),
    )


async def list_checkpoints(conn: Source, prefix: str) -> list[CheckpointRecord]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_checkpoints WHERE key_prefix = $1 ORDER BY partition, size",  # noqa: S608
        prefix,
    )
    return [_record(row) for row in rows]


async def latest_checkpoint(conn: Source, prefix: str, partition: int) -> CheckpointRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM audit_checkpoints WHERE key_prefix = $1 AND partition = $2 "  # noqa: S608
        "ORDER BY size DESC LIMIT 1",
        prefix,
        partition,
    )
    return _record(row) if row else None


async def latest_checkpoints(conn: Source, prefix: str) -> list[CheckpointRecord]:
    """The newest checkpoint of each partition that has one."""
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (partition) {_COLUMNS} FROM audit_checkpoints "  # noqa: S608
        "WHERE key_prefix = $1 ORDER BY partition, size DESC",
        prefix,
    )
    return [_record(row) for row in rows]


class Checkpointer:
    def __init__(
        self,
        store: RedisEventStore,
        pool: asyncpg.Pool,
        keyring: Keyring,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._store = store
        self._pool = pool
        self._keyring = keyring
        self._clock = clock
        self._max_entries = max_entries
        self.proofs = ProofStore(store.redis, store.keys)

    @property
    def prefix(self) -> str:
        return self._store.keys.prefix

    async def checkpoint(self, partition: int, until: str | None = None) -> CheckpointRecord | None:
        """A new checkpoint of the partition's log (up to entry `until`, default its end now), or None:
        nothing new to cover, or another process is making one right now."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1), $2)",
                f"aiwf checkpoint {self.prefix}",
                partition,
            ):
                return None
            last = await latest_checkpoint(conn, self.prefix, partition)
            frontier = Frontier.from_bytes(last.size, last.frontier) if last else Frontier()
            after = last.last_log_id if last else "0-0"
            end = until or await self._store.log_end(partition)
            if entry_order(end) <= entry_order(after):
                return None
            last_id = await self._extend(partition, frontier, after, end)
            if frontier.size == (last.size if last else 0):
                return None
            record = self._signed(partition, frontier, last_id)
            await _insert(conn, self.prefix, record)
        return record

    async def _extend(
        self, partition: int, frontier: Frontier, after: str, end: str, budget: int | None = None
    ) -> str:
        """Add the log's entries after `after` (up to `end`, at most `budget`, default max_entries) to the
        frontier, their nodes to the proof store; the id of the last one added."""
        budget = self._max_entries if budget is None else budget
        while budget > 0:
            count = min(READ_CHUNK, budget)
            entries = await self._store.read_log(partition, after=after, count=count, until=end)
            nodes: list[Completed] = []
            leaves: list[tuple[str, int]] = []
            for entry in entries:
                leaves.append((entry.log_id, frontier.size))
                frontier.append(leaf_hash(entry.raw or b""), nodes)
            if entries:
                await self.proofs.write(partition, nodes, leaves)
                after = entries[-1].log_id
            budget -= len(entries)
            if len(entries) < count:
                break
        return after

    def _signed(self, partition: int, frontier: Frontier, last_id: str) -> CheckpointRecord:
        checkpoint = Checkpoint(
            prefix=self.prefix,
            partition=partition,
            size=frontier.size,
            root=frontier.root(),
            last_log_id=last_id,
            signed_at=self._clock(),
            algorithm=SIGNING_ALGORITHM,
            key_version=self._keyring.signing_version,
        )
        body = checkpoint_text(checkpoint)
        return CheckpointRecord(
            partition=partition,
            size=frontier.size,
            last_log_id=last_id,
            body=body,
            signature=sign(self._keyring, body),
            frontier=frontier.to_bytes(),
        )

    async def rebuild_proofs(self, partition: int) -> bool | None:
        """The partition's proof store written again from its log, up to its latest checkpoint (after
        Redis lost it, say). True: the log still hashes to the signed root; False: it does not (proofs
        will refuse: run `aiwf audit verify`); None: no checkpoint yet."""
        last = await latest_checkpoint(self._pool, self.prefix, partition)
        if last is None:
            return None
        frontier = Frontier()
        await self._extend(partition, frontier, "0-0", last.last_log_id, budget=last.size)
        return frontier.size == last.size and frontier.root() == last.checkpoint.root

    async def catch_up(self, partition: int) -> list[CheckpointRecord]:
        """Checkpoints until the partition's log, as it was when asked, is covered (a long backlog takes
        several: MAX_ENTRIES each)."""
        end = await self._store.log_end(partition)
        made: list[CheckpointRecord] = []
        while (record := await self.checkpoint(partition, until=end)) is not None:
            made.append(record)
            if record.last_log_id == end:
                break
        return made

    async def checkpoint_all(self) -> list[CheckpointRecord]:
        made: list[CheckpointRecord] = []
        for keys in self._store.keys.all_partitions():
            made += await self.catch_up(keys.partition)
        return made


async def _insert(conn: Source, prefix: str, record: CheckpointRecord) -> None:
    await conn.execute(
        "INSERT INTO audit_checkpoints (key_prefix, partition, size, last_log_id, signed_at, key_version,"
        " algorithm, body, signature, frontier) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        prefix,
        record.partition,
        record.size,
        record.last_log_id,
        record.checkpoint.signed_at,
        record.signature.key_version,
        record.signature.algorithm,
        record.body,
        record.signature.signature,
        record.frontier,
    )


def entry_order(log_id: str) -> tuple[int, int]:
    """A stream entry id as what orders it: (milliseconds, sequence)."""
    ms, _, seq = log_id.partition("-")
    return int(ms), int(seq or 0)


async def checkpoint_once(checkpointer: Checkpointer) -> None:
    """A checkpoint of each partition whose log grew (never half made: its row is written last, in one
    transaction); a failure is logged by the caller and retried at the next tick."""
    for record in await checkpointer.checkpoint_all():
        log.info("audit checkpoint: partition %d at size %d", record.partition, record.size)


@contextlib.asynccontextmanager
async def checkpointing(
    store: RedisEventStore, pool: asyncpg.Pool, keyring: Keyring | None, interval_s: int, notes: list[str]
) -> AsyncIterator[None]:
    """The periodic checkpointer of `aiwf run` and `aiwf worker`, for as long as the block runs."""
    if keyring is None or interval_s <= 0:
        why = "no keyring" if keyring is None else "AIWF_CHECKPOINT_INTERVAL_S=0"
        notes.append(f"audit checkpoints: off ({why}); `aiwf audit checkpoint` makes them on demand")
        yield
        return
    notes.append(
        f"audit checkpoints: every {interval_s}s when a log grew, signed with key v{keyring.signing_version}"
    )
    checkpointer = Checkpointer(store, pool, keyring)
    async with every(interval_s, lambda: checkpoint_once(checkpointer), "audit checkpoints"):
        yield

"""The projector: folds a partition's events into its read models in ONE PostgreSQL transaction with
its checkpoint. Entries at or below the checkpoint are skipped, so redelivery changes nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

import asyncpg

from handlers.runtime.lease import LeaseLost
from handlers.runtime.records import LogRecord
from infra.main_job_metrics import PROJECTOR_SECONDS
from infra.tracing import batch_span
from projections.events import ProjectedEvent, log_position
from projections.read_model import Conn, ProjectorSpec


class Seen(NamedTuple):
    """A batch as seen from the checkpoint this process knows: the events past it."""

    checkpoint: str
    events: list[ProjectedEvent]


def group_of(projection: str) -> str:
    """The consumer group a projector reads the partition logs with."""
    return f"projection.{projection}"


class Projector:
    def __init__(self, pool: asyncpg.Pool, spec: ProjectorSpec) -> None:
        self._pool = pool
        self.spec = spec
        self.names = {table: table for table in spec.tables}
        # Per partition, the checkpoint as this process last read or wrote it. Only a hint: it is
        # trusted for a batch that changes no read model, and then only through a compare-and-set.
        self._known: dict[int, str] = {}

    @property
    def group(self) -> str:
        return group_of(self.spec.name)

    async def on_acquired(self, partition: int, epoch: int) -> int:
        """Fence: from now on, commits by holders of older epochs are refused."""
        row = await self._pool.fetchrow(
            "INSERT INTO projection_checkpoints (projection, partition, epoch) VALUES ($1, $2, $3) "
            "ON CONFLICT (projection, partition) DO UPDATE "
            "SET epoch = GREATEST(projection_checkpoints.epoch, EXCLUDED.epoch) RETURNING epoch, position",
            self.spec.name,
            partition,
            epoch,
        )
        assert row is not None  # an upsert with RETURNING always returns its row
        self._known[partition] = row["position"]
        recorded: int = row["epoch"]
        return recorded

    def orders(self, records: Sequence[LogRecord]) -> bool:
        return True  # the checkpoint passes every entry: none may be applied before an older one

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        """Entries that are not ours (no envelope) are skipped, the checkpoint passes them: the worker
        has dead-lettered them before this call. Records come in log order, so those at or below the
        checkpoint (redelivered) are a prefix."""
        with PROJECTOR_SECONDS.labels(projection=self.spec.name).time():
            known = self._known.pop(partition, None)  # back only once this batch is known to have landed
            seen: Seen | None = None
            if known is not None:
                fresh = _after(records, known)
                if not fresh:
                    self._known[partition] = known
                    return 0
                events = _projected(partition, fresh)
                if self.spec.touches(events):
                    seen = Seen(known, events)
                elif await self._advance_only(partition, known, records[-1].log_id, len(events), epoch):
                    return len(events)  # no span: nothing was folded for any trace
                # else the checkpoint moved: the fold reads it under its lock
            carried = (r.envelope.traceparent for r in records if r.envelope is not None)
            with batch_span(f"project {self.spec.name}", carried, {"aiwf.partition": partition}):
                applied, self._known[partition] = await self._fold(partition, records, epoch, seen)
            return applied

    async def _advance_only(self, partition: int, known: str, last: str, events: int, epoch: int) -> bool:
        """A batch that changes no read model (a workflow's events to the conversation views, say) moves
        the checkpoint in one statement instead of a transaction: only if the checkpoint is still
        `known` and no newer holder has fenced us. False: it moved (a rebuild, a former holder)."""
        moved = await self._pool.fetchval(
            "WITH advanced AS (UPDATE projection_checkpoints SET position = $4, events = events + $5, "
            "epoch = $6, updated_at = now() "
            "WHERE projection = $1 AND partition = $2 AND position = $3 AND epoch <= $6 RETURNING 1) "
            "SELECT count(*) FROM (SELECT pg_notify('aiwf_checkpoints', $7) FROM advanced) AS notified",
            self.spec.name,
            partition,
            known,
            last,
            events,
            epoch,
            f"{self.spec.name} {partition} {last}",
        )
        if moved != 1:
            return False
        self._known[partition] = last
        return True

    async def _fold(
        self, partition: int, records: Sequence[LogRecord], epoch: int, seen: Seen | None
    ) -> tuple[int, str]:
        """The batch folded into the read models with the checkpoint, in one transaction: how many
        events were applied, and the checkpoint after it. `seen`: the batch as seen from where this
        process last saw the checkpoint, if it knows."""
        if seen is not None and (
            folded := await self._fold_after(partition, seen, records[-1].log_id, epoch)
        ):
            return folded
        return await self._fold_locked(partition, records, epoch)

    async def _fold_after(self, partition: int, seen: Seen, last: str, epoch: int) -> tuple[int, str] | None:
        """The fold when the checkpoint is known: BEGIN goes with the checkpoint's lock and COMMIT with
        its move, two round trips fewer than `_fold_locked`. None: the checkpoint moved, nothing done."""
        events = seen.events
        name, checkpoint = _sql_name(self.spec.name), _sql_position(seen.checkpoint)
        async with self._pool.acquire() as conn:
            try:
                await conn.execute(
                    f"BEGIN; SELECT aiwf_lock_checkpoint({name}, {partition:d}, {epoch:d}, {checkpoint})"
                )
                for model in self.spec.models:
                    await model.apply(conn, events, self.names)
                await conn.execute(
                    f"SELECT aiwf_advance_checkpoint({name}, {partition:d}, {_sql_position(last)}, "
                    f"{len(events):d}, {epoch:d}); COMMIT"
                )
            except asyncpg.PostgresError as error:
                await _roll_back(conn)
                if error.sqlstate == _FENCED:
                    raise LeaseLost(
                        f"{self.spec.name} p{partition}: epoch {epoch} is no longer the holder's"
                    ) from None
                if error.sqlstate == _MOVED:
                    return None
                raise
            except BaseException:
                await _roll_back(conn)
                raise
        return len(events), last

    async def _fold_locked(self, partition: int, records: Sequence[LogRecord], epoch: int) -> tuple[int, str]:
        """The fold that reads the checkpoint under its lock, wherever it is."""
        async with self._pool.acquire() as conn, conn.transaction():
            checkpoint = await self._lock_checkpoint(conn, partition, epoch)
            fresh = _after(records, checkpoint)
            if not fresh:
                return 0, checkpoint
            events = _projected(partition, fresh)
            for model in self.spec.models:
                await model.apply(conn, events, self.names)
            last = records[-1].log_id
            # The notification is delivered at commit: read-your-writes waiters in the API wake up
            # (api/consistency.py). One statement with the checkpoint: one round trip less per batch.
            await conn.execute(
                "WITH advanced AS (UPDATE projection_checkpoints SET position = $3, events = events + $4, "
                "epoch = $5, updated_at = now() WHERE projection = $1 AND partition = $2) "
                "SELECT pg_notify('aiwf_checkpoints', $6)",
                self.spec.name,
                partition,
                last,
                len(events),
                epoch,
                f"{self.spec.name} {partition} {last}",
            )
        return len(events), last

    async def _lock_checkpoint(self, conn: Conn, partition: int, epoch: int) -> str:
        row = await conn.fetchrow(
            "SELECT position, epoch FROM projection_checkpoints "
            "WHERE projection = $1 AND partition = $2 FOR UPDATE",
            self.spec.name,
            partition,
        )
        if row is None or row["epoch"] > epoch:
            raise LeaseLost(f"{self.spec.name} p{partition}: epoch {epoch} is no longer the holder's")
        position: str = row["position"]
        return position


def _after(records: Sequence[LogRecord], checkpoint: str) -> Sequence[LogRecord]:
    """The records past the checkpoint: redelivered ones are a prefix of the batch."""
    after = log_position(checkpoint)
    start = 0
    while start < len(records) and log_position(records[start].log_id) <= after:
        start += 1
    return records[start:]


def _projected(partition: int, records: Sequence[LogRecord]) -> list[ProjectedEvent]:
    """The records that are events (the others are dead-lettered already), as the read models see them."""
    return [
        ProjectedEvent(partition=partition, log_id=r.log_id, raw=r.raw or b"", envelope=r.envelope)
        for r in records
        if r.envelope is not None
    ]


# The SQLSTATEs aiwf_lock_checkpoint raises (projections/migrations/0011_checkpoint_functions.sql).
_FENCED: Final = "AWF01"
_MOVED: Final = "AWF02"
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_POSITION: Final = re.compile(r"[0-9]+-[0-9]+")


def _sql_name(name: str) -> str:
    """A projector's name as a literal of a simple query, which takes no parameters."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"projector name {name!r} is not a plain identifier")
    return f"'{name}'"


def _sql_position(position: str) -> str:
    if not _POSITION.fullmatch(position):
        raise ValueError(f"{position!r} is not a partition log id")
    return f"'{position}'"


async def _roll_back(conn: Conn) -> None:
    """Leave no transaction open on a pooled connection. A connection that cannot roll back (its
    query was cancelled mid-flight) is closed instead: the pool replaces it, and the batch's own error
    is the one reported."""
    if conn.is_closed() or not conn.is_in_transaction():
        return
    try:
        await conn.execute("ROLLBACK")
    except Exception:
        conn.terminate()
    except BaseException:
        conn.terminate()
        raise

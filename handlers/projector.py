"""The projector: folds a partition's events into its read models in ONE PostgreSQL transaction with
its checkpoint. Entries at or below the checkpoint are skipped, so redelivery changes nothing."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from handlers.runtime.lease import LeaseLost
from handlers.runtime.records import LogRecord
from infra.main_job_metrics import PROJECTOR_SECONDS
from infra.tracing import batch_span
from projections.events import ProjectedEvent, log_position
from projections.read_model import Conn, ProjectorSpec


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
            if (
                known is not None
                and (applied := await self._advance_only(partition, records, known, epoch)) >= 0
            ):
                return applied  # no span: nothing was folded for any trace
            carried = (r.envelope.traceparent for r in records if r.envelope is not None)
            with batch_span(f"project {self.spec.name}", carried, {"aiwf.partition": partition}):
                applied, self._known[partition] = await self._fold(partition, records, epoch)
            return applied

    async def _advance_only(
        self, partition: int, records: Sequence[LogRecord], known: str, epoch: int
    ) -> int:
        """A batch that changes no read model (a workflow's events to the conversation views, say) moves
        the checkpoint in one statement instead of a transaction of four: only if the checkpoint is still
        `known` and no newer holder has fenced us. -1: not such a batch, or the checkpoint moved (a
        rebuild, a former holder): the whole fold then reads it under its lock."""
        after = log_position(known)
        fresh = [r for r in records if log_position(r.log_id) > after]
        if not fresh:
            self._known[partition] = known
            return 0
        events = _projected(partition, fresh)
        if self.spec.touches(events):
            return -1
        last = records[-1].log_id
        moved = await self._pool.fetchval(
            "WITH advanced AS (UPDATE projection_checkpoints SET position = $4, events = events + $5, "
            "epoch = $6, updated_at = now() "
            "WHERE projection = $1 AND partition = $2 AND position = $3 AND epoch <= $6 RETURNING 1) "
            "SELECT count(*) FROM (SELECT pg_notify('aiwf_checkpoints', $7) FROM advanced) AS notified",
            self.spec.name,
            partition,
            known,
            last,
            len(events),
            epoch,
            f"{self.spec.name} {partition} {last}",
        )
        if moved != 1:
            return -1
        self._known[partition] = last
        return len(events)

    async def _fold(self, partition: int, records: Sequence[LogRecord], epoch: int) -> tuple[int, str]:
        """The batch folded into the read models with the checkpoint, in one transaction: how many
        events were applied, and the checkpoint after it."""
        async with self._pool.acquire() as conn, conn.transaction():
            checkpoint = await self._lock_checkpoint(conn, partition, epoch)
            after = log_position(checkpoint)
            start = 0
            while start < len(records) and log_position(records[start].log_id) <= after:
                start += 1
            if start == len(records):
                return 0, checkpoint
            events = _projected(partition, records[start:])
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


def _projected(partition: int, records: Sequence[LogRecord]) -> list[ProjectedEvent]:
    """The records that are events (the others are dead-lettered already), as the read models see them."""
    return [
        ProjectedEvent(partition=partition, log_id=r.log_id, raw=r.raw or b"", envelope=r.envelope)
        for r in records
        if r.envelope is not None
    ]

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

    @property
    def group(self) -> str:
        return group_of(self.spec.name)

    async def on_acquired(self, partition: int, epoch: int) -> int:
        """Fence: from now on, commits by holders of older epochs are refused."""
        recorded: int = await self._pool.fetchval(
            "INSERT INTO projection_checkpoints (projection, partition, epoch) VALUES ($1, $2, $3) "
            "ON CONFLICT (projection, partition) DO UPDATE "
            "SET epoch = GREATEST(projection_checkpoints.epoch, EXCLUDED.epoch) RETURNING epoch",
            self.spec.name,
            partition,
            epoch,
        )
        return recorded

    def orders(self, records: Sequence[LogRecord]) -> bool:
        return True  # the checkpoint passes every entry: none may be applied before an older one

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        """Entries that are not ours (no envelope) are skipped, the checkpoint passes them: the worker
        has dead-lettered them before this call. Records come in log order, so those at or below the
        checkpoint (redelivered) are a prefix."""
        carried = (r.envelope.traceparent for r in records if r.envelope is not None)
        with (
            PROJECTOR_SECONDS.labels(projection=self.spec.name).time(),
            batch_span(f"project {self.spec.name}", carried, {"aiwf.partition": partition}),
        ):
            return await self._project(partition, records, epoch)

    async def _project(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            after = await self._lock_checkpoint(conn, partition, epoch)
            start = 0
            while start < len(records) and log_position(records[start].log_id) <= after:
                start += 1
            if start == len(records):
                return 0
            events = [
                ProjectedEvent(partition=partition, log_id=r.log_id, raw=r.raw or b"", envelope=r.envelope)
                for r in records[start:]
                if r.envelope is not None
            ]
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
        return len(events)

    async def _lock_checkpoint(self, conn: Conn, partition: int, epoch: int) -> tuple[int, int]:
        row = await conn.fetchrow(
            "SELECT position, epoch FROM projection_checkpoints "
            "WHERE projection = $1 AND partition = $2 FOR UPDATE",
            self.spec.name,
            partition,
        )
        if row is None or row["epoch"] > epoch:
            raise LeaseLost(f"{self.spec.name} p{partition}: epoch {epoch} is no longer the holder's")
        return log_position(row["position"])

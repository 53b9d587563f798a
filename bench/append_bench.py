"""Event store append benchmark (issue 2): throughput, latency and memory, against raw XADD.

    python -m bench.append_bench [--redis-url URL] [--events N] [--quick] [--fsync-seconds S]

Throughput: batches to fresh aggregates (head known, so no HGET), a bounded number of appends in
flight; the payload Structs are built beforehand, NewEvent/envelope/seal/encode are timed. The
baseline pipelines `XADD <log key> * event <bytes>` with the very bytes the store wrote. Every key
lives under one run prefix and is deleted at the end. Prints one table; exits 0 whether goals pass.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from bench.report import Report, Row, render, verdict
from domain.catalog import REGISTRY
from domain.conversation_events import UserMessageReceived
from domain.envelope import GENESIS_HASH, EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import Sensitivity
from infra.embedded import EmbeddedValkey, start_valkey
from infra.event_store import Head, RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection, connect

T = TypeVar("T")

TEXT = (
    "Bonjour, pourriez-vous me préparer un devis pour trois cents cartons livrés à Lyon "
    "avant la fin du mois prochain, merci !"
)
ORIGIN = EventOrigin(tenant="acme", source="aiwf://bench")
FRESH = Head(version=0, hash=GENESIS_HASH)
PARTITIONS = 8
BATCH_SIZES = (50, 500)
CONCURRENCY = 32
WAITAOF_MS = 1000
GOAL_EVENTS_PER_S = 60_000
GOAL_P99_MS = 2.0
GOAL_MEMORY_RATIO = 2.5


@dataclass(frozen=True)
class Plan:
    events: int
    latency_appends: int
    fsync_seconds: float


@dataclass(frozen=True)
class Job:
    stream: str
    data: Sequence[UserMessageReceived]
    correlationid: str
    causationid: str


# ---------------------------------------------------------------- workload


def payloads(n: int) -> list[UserMessageReceived]:
    now = datetime.now(UTC)
    return [
        UserMessageReceived(message_id=uuid7(), text=TEXT, sensitivity=Sensitivity.PUBLIC, received_at=now)
        for _ in range(n)
    ]


def plan_jobs(data: Sequence[UserMessageReceived], batch: int, tag: str) -> list[Job]:
    """One fresh aggregate per append, so every append knows its head (version 0) and skips HGET."""
    return [
        Job(f"conversation-{tag}-{i}", data[start : start + batch], uuid7(), uuid7())
        for i, start in enumerate(range(0, len(data), batch))
    ]


async def append_job(store: RedisEventStore, job: Job) -> None:
    now = datetime.now(UTC)
    events = [
        NewEvent(data=d, id=uuid7(), time=now, correlationid=job.correlationid, causationid=job.causationid)
        for d in job.data
    ]
    await store.append(job.stream, events, 0, ORIGIN, head=FRESH)


async def raw_append(conn: RedisConnection, job: tuple[str, Sequence[bytes]], wait: bool = False) -> None:
    key, chunk = job
    pipe = (await conn.client_for_key(key)).pipeline(transaction=False)
    for raw in chunk:
        pipe.execute_command("XADD", key, "*", "event", raw)
    if wait:
        pipe.execute_command("WAITAOF", 1, 0, WAITAOF_MS)
    await pipe.execute()


async def run_bounded(jobs: Sequence[T], workers: Sequence[Callable[[T], Awaitable[None]]]) -> float:
    """Seconds to run every job, one worker function per job in flight."""
    pending = iter(jobs)

    async def worker(work: Callable[[T], Awaitable[None]]) -> None:
        for job in pending:
            await work(job)

    start = time.perf_counter()
    await asyncio.gather(*(worker(work) for work in workers))
    return time.perf_counter() - start


async def time_each(count: int, budget_s: float, work: Callable[[int], Awaitable[None]]) -> list[float]:
    """Milliseconds per sequential call, until `count` calls or `budget_s` seconds."""
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for i in range(count):
        start = time.perf_counter()
        await work(i)
        samples.append((time.perf_counter() - start) * 1000)
        if start > deadline:
            break
    return samples


# ---------------------------------------------------------------- server helpers


class Wire:
    """A bare socket: hand-packed RESP XADDs, replies counted by hiredis; the floor under any client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer, self._parser = reader, writer, hiredis.Reader()

    @classmethod
    async def open(cls, conn: RedisConnection) -> Wire | None:
        """None when the server is not a plain TCP standalone one (cluster, TLS, Unix socket)."""
        if not isinstance(conn.client, Redis):
            return None
        settings: dict[str, Any] = conn.client.connection_pool.connection_kwargs
        if "host" not in settings or conn.client.connection_pool.connection_class is not Connection:
            return None
        wire = cls(*await asyncio.open_connection(settings["host"], int(settings.get("port", 6379))))
        auth = [u for u in (settings.get("username"), settings.get("password")) if u]
        await wire.send([("AUTH", *auth)] if auth else [])
        await wire.send([("SELECT", str(settings.get("db") or 0))])
        return wire

    async def xadd(self, job: tuple[str, Sequence[bytes]]) -> None:
        key, chunk = job
        await self.send([("XADD", key, "*", "event", raw) for raw in chunk])

    async def send(self, commands: Sequence[tuple[str | bytes, ...]]) -> None:
        self._writer.write(b"".join(resp(command) for command in commands))
        waiting = len(commands)
        while waiting:
            data = await self._reader.read(1 << 16)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._parser.feed(data)
            while waiting and (reply := self._parser.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise reply
                waiting -= 1

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def resp(command: tuple[str | bytes, ...]) -> bytes:
    parts = [arg.encode() if isinstance(arg, str) else arg for arg in command]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(part), part) for part in parts)


async def read_logs(store: RedisEventStore) -> dict[int, list[bytes]]:
    """Every stored event's exact bytes, per partition, in log order."""
    out: dict[int, list[bytes]] = {}
    for part in store.keys.all_partitions():
        raws, after = out.setdefault(part.partition, []), "0-0"
        while entries := await store.read_log(part.partition, after):
            raws += [e.raw for e in entries if e.raw is not None]
            after = entries[-1].log_id
    return out


def key_kind(key: str) -> str:
    if ":s:" in key:
        return "aggregate streams"
    return {"log": "log streams", "ids": "ids index", "heads": "heads"}.get(key.rsplit(":", 1)[-1], "other")


async def memory_by_kind(conn: RedisConnection, pattern: str) -> dict[str, int]:
    usage: dict[str, int] = {}
    async for key in conn.client.scan_iter(match=pattern, count=1000):
        kind = key_kind(key.decode())
        usage[kind] = usage.get(kind, 0) + int(await conn.client.memory_usage(key, samples=0) or 0)
    return usage


async def used_memory(conn: RedisConnection) -> int:
    info: dict[str, Any] = await conn.client.info("memory")
    return int(info["used_memory"])


async def drop(conn: RedisConnection, prefix: str) -> None:
    async for key in conn.client.scan_iter(match=f"{prefix}:*", count=1000):
        await conn.client.unlink(key)


class Servers:
    """Embedded Valkeys started on demand in one temp dir, stopped together."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._started: list[EmbeddedValkey] = []

    def start(self) -> str:
        valkey = start_valkey(self._home / f"v{len(self._started)}")
        self._started.append(valkey)
        return valkey.url

    def stop(self) -> None:
        for valkey in self._started:
            valkey.stop()


# ---------------------------------------------------------------- measurements


@dataclass
class Bench:
    """One server, one run prefix (`<run>:<name>:...` keys), and the report being filled."""

    conn: RedisConnection
    run: str
    plan: Plan
    report: Report

    def store(self, name: str, wait_fsync_ms: int | None = None) -> RedisEventStore:
        keys = KeySpace(prefix=f"{self.run}:{name}", partitions=PARTITIONS)
        return RedisEventStore(self.conn, keys, REGISTRY, wait_fsync_ms=wait_fsync_ms)

    def log_key(self, name: str, partition: int) -> str:
        return KeySpace(prefix=f"{self.run}:{name}", partitions=PARTITIONS).partition(partition).log

    def add(self, row: Row) -> None:
        self.report.rows.append(row)


async def warm_up(bench: Bench) -> None:
    """Open the pool's connections and load the script before anything is timed."""
    await asyncio.gather(*(bench.conn.client.ping() for _ in range(CONCURRENCY)))
    await append_job(bench.store("warm"), plan_jobs(payloads(1), 1, "warm")[0])


async def throughput(bench: Bench, data: list[UserMessageReceived]) -> None:
    """Batched appends vs raw pipelined XADD of the same bytes, then memory of what the store kept."""
    used_before = await used_memory(bench.conn)
    written = {batch: await batched(bench, data, batch) for batch in BATCH_SIZES}
    used_delta = await used_memory(bench.conn) - used_before
    for batch, (rate, logs) in written.items():
        await baseline(bench, batch, logs, rate)
    await memory(
        bench, [raw for _, logs in written.values() for part in logs.values() for raw in part], used_delta
    )


async def batched(
    bench: Bench, data: list[UserMessageReceived], batch: int
) -> tuple[float, dict[int, list[bytes]]]:
    """Events per second through the store, and the bytes it wrote (per partition)."""
    store = bench.store(f"n{batch}")
    before = await Usage.now(bench.conn)
    await run_bounded(plan_jobs(data, batch, f"b{batch}"), [partial(append_job, store)] * CONCURRENCY)
    spent = (await Usage.now(bench.conn)).minus(before)
    bench.report.notes.append(f"batch {batch}, µs per event: {spent.per_event(len(data))}")
    return len(data) / spent.wall, await read_logs(store)


@dataclass(frozen=True)
class Usage:
    """Seconds of wall clock, of this process's CPU, of the server's CPU and of it inside EVALSHA."""

    wall: float
    client: float
    server: float
    script: float

    @classmethod
    async def now(cls, conn: RedisConnection) -> Usage:
        cpu: dict[str, Any] = await conn.client.info("cpu")
        stats: dict[str, Any] = await conn.client.info("commandstats")
        server = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
        script = int(stats.get("cmdstat_evalsha", {}).get("usec", 0)) / 1e6
        return cls(time.perf_counter(), time.process_time(), server, script)

    def minus(self, other: Usage) -> Usage:
        return Usage(
            self.wall - other.wall,
            self.client - other.client,
            self.server - other.server,
            self.script - other.script,
        )

    def per_event(self, events: int) -> str:
        wall, client, server, script = (
            1e6 * x / events for x in (self.wall, self.client, self.server, self.script)
        )
        return f"wall {wall:.1f}, client CPU {client:.1f}, server CPU {server:.1f} (Lua script {script:.1f})"


async def baseline(bench: Bench, batch: int, logs: dict[int, list[bytes]], rate: float) -> None:
    """The same bytes as pipelined XADDs: through redis-py, then hand-packed on bare sockets."""
    parts = [(p, raws[i : i + batch]) for p, raws in logs.items() for i in range(0, len(raws), batch)]
    events = sum(len(raws) for raws in logs.values())
    jobs = [(bench.log_key(f"raw{batch}", p), chunk) for p, chunk in parts]
    client_rate = events / await run_bounded(jobs, [partial(raw_append, bench.conn)] * CONCURRENCY)
    result = f"{rate:,.0f} ev/s"
    bench.add(
        Row(
            f"batched append, {batch} ev/append, {CONCURRENCY} in flight, {events // batch:,} aggregates",
            result,
            f"XADD via redis-py {client_rate:,.0f} ev/s",
            rate / client_rate,
            f">= {GOAL_EVENTS_PER_S // 1000}k ev/s",
            verdict(rate >= GOAL_EVENTS_PER_S),
        )
    )
    wires = [wire for wire in [await Wire.open(bench.conn) for _ in range(CONCURRENCY)] if wire]
    if wires:
        jobs = [(bench.log_key(f"wire{batch}", p), chunk) for p, chunk in parts]
        wire_rate = events / await run_bounded(jobs, [wire.xadd for wire in wires])
        await asyncio.gather(*(wire.close() for wire in wires))
        bench.add(
            Row(
                "  same, against the wire floor",
                result,
                f"XADD hand-packed {wire_rate:,.0f} ev/s",
                rate / wire_rate,
            )
        )


async def memory(bench: Bench, raws: list[bytes], used_delta: int) -> None:
    """Bytes per stored event, per key kind and in total, against the mean JSON size."""
    size = Size(events=len(raws), json=statistics.fmean(len(raw) for raw in raws))
    usage = await memory_by_kind(bench.conn, f"{bench.run}:n*")
    raw_log = sum((await memory_by_kind(bench.conn, f"{bench.run}:raw[0-9]*")).values())
    for kind in ("log streams", "aggregate streams", "ids index", "heads"):
        bench.add(size.row(f"memory/event: {kind}", usage.get(kind, 0)))
    bench.add(
        size.row(
            f"memory/event: total, MEMORY USAGE ({size.events:,} events)", sum(usage.values()), goal=True
        )
    )
    bench.add(size.row("memory/event: total, INFO used_memory delta", used_delta))
    bench.add(size.row("memory/event: raw XADD log alone (reference)", raw_log))


@dataclass(frozen=True)
class Size:
    events: int
    json: float

    def row(self, measure: str, total: int, *, goal: bool = False) -> Row:
        ratio = total / self.events / self.json
        target = f"<= {GOAL_MEMORY_RATIO}x JSON" if goal else ""
        ok = verdict(ratio <= GOAL_MEMORY_RATIO) if goal else ""
        return Row(measure, f"{total / self.events:,.0f} B", f"JSON {self.json:.0f} B", ratio, target, ok)


async def latency(bench: Bench, label: str, *, fsync: bool) -> None:
    """Sequential one-event appends, then raw XADD of the same bytes (both with WAITAOF if `fsync`)."""
    name = "latfsync" if fsync else "lat"
    store = bench.store(name, WAITAOF_MS if fsync else None)
    jobs = plan_jobs(payloads(bench.plan.latency_appends), 1, name)
    budget = bench.plan.fsync_seconds if fsync else float("inf")
    mine = await time_each(len(jobs), budget, lambda i: append_job(store, jobs[i]))
    first = await store.read_log(store.keys.for_stream(jobs[0].stream).partition, count=1)
    sample, key = first[0].raw or b"", bench.log_key(f"raw{name}", 0)
    raw = await time_each(len(jobs), budget, lambda _: raw_append(bench.conn, (key, [sample]), wait=fsync))
    p99, raw_p99 = percentiles(mine)[1], percentiles(raw)[1]
    bench.add(
        Row(
            f"single append latency{label}, n={len(mine):,}",
            describe(mine),
            f"raw XADD {describe(raw)}",
            p99 / raw_p99,
            f"p99 <= {GOAL_P99_MS:g} ms",
            verdict(p99 <= GOAL_P99_MS),
        )
    )


async def fsync_latency(bench: Bench, servers: Servers) -> None:
    """WAITAOF latency on this server if it can, else on an embedded Valkey started for the row."""
    facts = bench.conn.facts
    if facts.supports_waitaof and facts.appendonly:
        await latency(bench, f" + WAITAOF {WAITAOF_MS}", fsync=True)
        return
    other = Bench(await connect(servers.start()), bench.run, bench.plan, bench.report)
    try:
        await warm_up(other)
        where = f"{other.conn.facts.product} {other.conn.facts.version}"
        fsync_mode = (await other.conn.client.config_get("appendfsync")).get("appendfsync", "?")
        await latency(other, f" + WAITAOF {WAITAOF_MS}, embedded {where}*", fsync=True)
        bench.report.notes.append(
            f"* {facts.describe()} cannot WAITAOF (needs 7.2+ and appendonly on): "
            f"that row ran on an embedded {where} started for it (AOF on, appendfsync {fsync_mode!s})"
        )
    finally:
        await drop(other.conn, bench.run)
        await other.conn.close()


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98], max(samples)


def describe(samples: Sequence[float]) -> str:
    p50, p99, top = percentiles(samples)
    return f"p50 {p50:.2f} / p99 {p99:.2f} / max {top:.1f} ms"


async def measure(url: str, servers: Servers, plan: Plan) -> tuple[str, Report]:
    bench = Bench(await connect(url), f"bench-{uuid.uuid4().hex[:10]}", plan, Report())
    try:
        await warm_up(bench)
        await throughput(bench, payloads(plan.events))
        await latency(bench, "", fsync=False)
        await fsync_latency(bench, servers)
        return bench.conn.facts.describe(), bench.report
    finally:
        await drop(bench.conn, bench.run)
        await bench.conn.close()


# ---------------------------------------------------------------- output


def facts(server: str, url: str, plan: Plan) -> str:
    libs = ", ".join(f"{name} {version(name)}" for name in ("redis", "hiredis", "msgspec"))
    return "\n".join(
        [
            "Event store append benchmark (issue 2)",
            f"server : {server} at {url}",
            f"machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}",
            f"python : {platform.python_version()} ({libs})",
            f"plan   : {plan.events:,} events per batch size, {PARTITIONS} partitions, "
            f"{plan.latency_appends:,} sequential appends per latency row (WAITAOF rows: at most "
            f"{plan.fsync_seconds:g} s per loop), text {len(TEXT)} chars",
        ]
    )


# ---------------------------------------------------------------- entry point


def parse_plan(argv: Sequence[str] | None) -> tuple[str | None, Plan]:
    parser = argparse.ArgumentParser(prog="python -m bench.append_bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL"), help="default: REDIS_URL, else embedded Valkey"
    )
    parser.add_argument(
        "--events", type=int, help="events per batch size (default 200,000; 5,000 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--fsync-seconds", type=float, help="time budget of each WAITAOF latency row (default 30)"
    )
    args = parser.parse_args(argv)
    events = args.events or (5_000 if args.quick else 200_000)
    appends = 500 if args.quick else 5_000
    budget = args.fsync_seconds or (5.0 if args.quick else 30.0)
    return args.redis_url, Plan(events=events, latency_appends=appends, fsync_seconds=budget)


def main(argv: Sequence[str] | None = None) -> int:
    url, plan = parse_plan(argv)
    with tempfile.TemporaryDirectory(prefix="aiwf-bench-") as home:
        servers = Servers(Path(home))
        try:
            target = url or servers.start()
            label = target if url else f"{target} (embedded, temp dir)"
            server, report = asyncio.run(measure(target, servers, plan))
        finally:
            servers.stop()
    print(facts(server, label, plan), "", render(report.rows), "", *report.notes, sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

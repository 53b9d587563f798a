"""Chaos, round three: the whole platform under load through its API while faults are injected in rounds.

`aiwf api` and two `aiwf worker` processes (projectors and the main job's agents) reach a Valkey and a
PostgreSQL of their own through TCP proxies; the tenants' n8n is the fake one. Three tenants' clients
share conversations and send business requests, retrying each command with its Idempotency-Key. In each
round one fault is injected under that load; then the load stops, the platform settles, and the checker
(`tests/chaos/checks.py`) asserts, and prints as a table, that nothing acknowledged was lost and nothing
was done twice. `AIWF_CHAOS_ROUNDS=N` plays every fault N times (default once: the CI's short form);
`AIWF_CHAOS_FAULTS` chooses some of them by name."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis

from infra.runtime import Infrastructure, open_infrastructure
from tests.chaos import checks
from tests.chaos.faults import KillableValkey
from tests.chaos.load import Load, until_answered_end_to_end
from tests.chaos.platform import LEASE_TTL_MS, Platform
from tests.chaos.postgres import KillablePostgres
from tests.chaos.proxy import FaultProxy
from tests.support.cluster import free_port
from tests.support.fake_n8n import FakeN8n

ROUNDS = int(os.environ.get("AIWF_CHAOS_ROUNDS", "1"))
TENANTS = ("acme", "sahel", "tassili")
LOAD_S = 1.5  # of load before the fault, and again after it
DOWN_S = 0.3  # a killed server stays down this long
PAUSE_S = 3 * LEASE_TTL_MS / 1000  # a paused worker's partitions are another's long before it wakes
RECOVER_S = 120.0
SETTLE_S = 180.0
CUTS = 3


@dataclass
class Rig:
    valkey: KillableValkey
    postgres: KillablePostgres
    redis_proxy: FaultProxy
    postgres_proxy: FaultProxy
    platform: Platform
    n8n: FakeN8n
    direct: Redis  # to Valkey itself, past the proxy: the fault injector's own hand
    infra: Infrastructure  # the checker's reads
    probe_key: str
    injected: dict[int, set[str]]
    workers: list[str]


Fault = Callable[[Rig], Awaitable[None]]


async def no_fault(_rig: Rig) -> None:
    """The control: the same load and probe, nothing broken; its time to recover is the main job's own
    answer time under this load, the baseline of every other row."""


async def valkey_killed(rig: Rig) -> None:
    rig.valkey.kill9()
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(rig.valkey.restart)


async def postgres_killed(rig: Rig) -> None:
    await asyncio.to_thread(rig.postgres.kill9)
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(rig.postgres.start)


async def worker_killed(rig: Rig) -> None:
    """SIGKILL under load, so mid-batch; a new worker starts at once (its imports take a second or two,
    and the survivor takes the dead one's partitions when their leases run out)."""
    victim = rig.workers.pop(0)
    rig.platform.kill9(victim)
    successor = f"{victim.split('.')[0]}.{time.monotonic_ns()}"
    await asyncio.to_thread(rig.platform.start_worker, successor)
    rig.workers.append(successor)


async def worker_paused(rig: Rig) -> None:
    """SIGSTOP past its leases: the other worker takes its partitions; woken, it must find them gone."""
    sleeper = rig.workers[-1]
    rig.platform.pause(sleeper)
    await asyncio.sleep(PAUSE_S)
    rig.platform.resume(sleeper)


async def groups_deleted(rig: Rig) -> None:
    """A projector's group and an agent's group destroyed on every partition, under load."""
    for partition in range(rig.infra.store.keys.partitions):
        log = rig.infra.store.keys.partition(partition).log
        names = sorted(_text(info["name"]) for info in await rig.direct.xinfo_groups(log))
        chosen = [
            next(n for n in names if n.startswith("projection.")),
            next(n for n in names if not n.startswith("projection.")),
        ]
        for group in chosen:
            await rig.direct.xgroup_destroy(log, group)


async def entries_injected(rig: Rig) -> None:
    """Into two partition logs: an entry with no event at all (foreign) and one whose event is not ours."""
    for partition in (0, rig.infra.store.keys.partitions - 1):
        log = rig.infra.store.keys.partition(partition).log
        foreign = await rig.direct.xadd(log, {"note": "written by another program"})
        poison = await rig.direct.xadd(
            log, {"event": b'{"specversion": "1.0", "type": "aiwf.nothing.v9", "id": 7'}
        )
        rig.injected[partition] |= {_text(foreign), _text(poison)}


def connections_cut(proxy: Callable[[Rig], FaultProxy]) -> Fault:
    async def cut(rig: Rig) -> None:
        chosen = proxy(rig)
        for _ in range(CUTS):
            chosen.reset_all()
            chosen.latency_s = 0.02
            await asyncio.sleep(0.2)
            chosen.latency_s = 0.0
        chosen.reset_all()

    return cut


FAULTS: dict[str, Fault] = {
    "none (control)": no_fault,
    "valkey kill -9": valkey_killed,
    "postgres kill -9": postgres_killed,
    "worker kill -9": worker_killed,
    "worker paused": worker_paused,
    "foreign + poison": entries_injected,
    "groups deleted": groups_deleted,
    "valkey conns cut": connections_cut(lambda rig: rig.redis_proxy),
    "postgres conns cut": connections_cut(lambda rig: rig.postgres_proxy),
}


@pytest.mark.timeout(240 + 120 * ROUNDS * len(FAULTS))
async def test_the_platform_under_load_and_faults_loses_nothing_and_does_nothing_twice(
    servers_home: Path,
) -> None:
    async with rig_for(servers_home / "chaos-platform") as rig:
        load = Load(
            rig.platform.api_url, {t: await asyncio.to_thread(rig.platform.create_key, t) for t in TENANTS}
        )
        await load.open_conversations()
        groups = await settled(rig, set())
        rows: list[Row] = []
        for fault_name, fault in [item for _ in range(ROUNDS) for item in chosen_faults()]:
            stop = asyncio.Event()
            running = asyncio.create_task(load.run(stop))
            await asyncio.sleep(LOAD_S)
            began = time.monotonic()
            probe = asyncio.create_task(
                until_answered_end_to_end(rig.platform.api_url, rig.probe_key, RECOVER_S)
            )
            await fault(rig)
            recovery = await probe
            await asyncio.sleep(LOAD_S)
            stop.set()
            await asyncio.wait_for(running, timeout=60)
            await settled(rig, groups)
            findings = await check(rig, load)
            rows.append(Row(len(rows) + 1, fault_name, recovery, time.monotonic() - began, findings))
            print(rows[-1].line(), flush=True)
            assert not findings.problems, f"{fault_name}:\n" + "\n".join(findings.problems[:40])

        print_summary(rows, load)
        unhandled = [
            line
            for line in rig.platform.log("api").splitlines()
            if "Error:" in line and "WARNING" not in line
        ]
        assert load.statuses["500"] == 0, "\n".join(unhandled[-30:])  # a store out of reach is a 503
        assert all(code == 0 for code in (await asyncio.to_thread(rig.platform.stop)).values())
        assert rows[-1].findings.steps["WorkflowDeploymentRequested"] > 0  # the main job went all the way
        assert rig.n8n.workflows


def chosen_faults() -> list[tuple[str, Fault]]:
    """AIWF_CHAOS_FAULTS: a comma-separated choice among FAULTS' names (default all, in their order)."""
    names = [n.strip() for n in os.environ.get("AIWF_CHAOS_FAULTS", "").split(",") if n.strip()]
    unknown = sorted(set(names) - set(FAULTS))
    assert not unknown, f"AIWF_CHAOS_FAULTS: no fault named {unknown}; choose among {sorted(FAULTS)}"
    return [(n, FAULTS[n]) for n in names] if names else list(FAULTS.items())


@dataclass
class Row:
    number: int
    fault: str
    recovery_s: float
    round_s: float
    findings: checks.Findings

    def line(self) -> str:
        f = self.findings
        return (
            f"round {self.number:>2} {self.fault:<19} acked {f.acknowledged:>5} events {f.events:>6}"
            f" lost {len(f.lost)} twice {len(f.written_twice) + len(f.acted_twice) + len(f.n8n_twice)}"
            f" groups {f.groups} dead-lettered {f.dead_lettered} problems {len(f.problems)}"
            f" recovered in {self.recovery_s:.2f} s, round {self.round_s:.0f} s"
        )


def print_summary(rows: list[Row], load: Load) -> None:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_kind[row.fault].append(row.recovery_s)
    print(f"\nanswers seen by the clients: {dict(sorted(load.statuses.items()))}")
    print(f"{'fault':<19} {'rounds':>6} {'recovery p50':>12} {'p99':>6} {'max':>6}")
    for kind, times in by_kind.items():
        p99 = sorted(times)[math.ceil(0.99 * len(times)) - 1]  # nearest rank: never above the max
        print(
            f"{kind:<19} {len(times):>6} {statistics.median(times):>11.2f}s {p99:>5.2f}s {max(times):>5.2f}s"
        )
    last = rows[-1].findings
    print(f"steps of the main job in the log: {dict(sorted(last.steps.items()))}")


async def check(rig: Rig, load: Load) -> checks.Findings:
    findings = checks.Findings()
    streams = await checks.all_streams(rig.infra.store)
    checks.check_acknowledged(findings, load.acks, streams)
    await checks.check_chains(findings, rig.infra.store, streams)
    if findings.foreign != sum(len(v) for v in rig.injected.values()):
        findings.chain_problems.append(
            f"the audit found {findings.foreign} foreign entries, {rig.injected} injected"
        )
    await checks.check_groups(findings, rig.infra.store, rig.direct, rig.postgres.url, rig.injected)
    checks.check_steps(findings, streams, (w["name"] for w in rig.n8n.workflows.values()))
    verified = await asyncio.to_thread(rig.platform.aiwf, "projections", "verify")
    if verified.returncode != 0:
        findings.chain_problems.append(f"aiwf projections verify: {verified.stdout}{verified.stderr}")
    return findings


async def settled(rig: Rig, groups: set[str]) -> set[str]:
    """Wait until every group (at least those in `groups`) has read and acknowledged its whole log, the
    logs stopped growing, and stayed so for a second: the main job has nothing left to do."""
    deadline = time.monotonic() + SETTLE_S
    quiet_since: float | None = None
    last: dict[int, str] = {}
    while time.monotonic() < deadline:
        ends = await rig.infra.store.log_ends()
        seen, behind = await _groups_behind(rig, ends)
        if ends == last and not behind and groups <= seen:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:
                return seen
        else:
            quiet_since = None
        last = ends
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"not settled within {SETTLE_S} s: {behind}; groups {sorted(groups - seen)} missing\n"
        + await _diagnosis(rig, behind)
    )


async def _diagnosis(rig: Rig, behind: list[str]) -> str:
    """A stuck group: its lease holder, consumers and pending entries, and the workers' logs."""
    lines = []
    for where in behind[:4]:
        group, partition = where.rsplit(" p", 1)
        keys = rig.infra.store.keys.partition(int(partition))
        holder = await rig.direct.get(keys.lease(group))
        info = [i for i in await rig.direct.xinfo_groups(keys.log) if i["name"] == group]
        consumers = await rig.direct.xinfo_consumers(keys.log, group)
        end = await rig.infra.store.log_end(int(partition))
        lines.append(f"{where}: lease {holder!r}, end {end}, {info}, {consumers}")
    lines += [f"--- {name}\n{rig.platform.log_tail(name, 25)}" for name in rig.workers]
    return "\n".join(lines)


async def _groups_behind(rig: Rig, ends: dict[int, str]) -> tuple[set[str], list[str]]:
    seen: set[str] = set()
    behind: list[str] = []
    for partition, end in ends.items():
        for info in await rig.direct.xinfo_groups(rig.infra.store.keys.partition(partition).log):
            name = _text(info["name"])
            seen.add(name)
            if int(info["pending"]) or _text(info["last-delivered-id"]) != end:
                behind.append(f"{name} p{partition}")
    return seen, behind


@asynccontextmanager
async def rig_for(home: Path) -> AsyncIterator[Rig]:
    await asyncio.to_thread(home.mkdir, parents=True, exist_ok=True)
    valkey = KillableValkey(free_port(), home / "valkey", "always")
    valkey.start()
    postgres = KillablePostgres(free_port(), home / "postgres")
    await asyncio.to_thread(postgres.start)
    redis_proxy, postgres_proxy = FaultProxy(valkey.port), FaultProxy(postgres.port)
    redis_port, postgres_port = await redis_proxy.start(), await postgres_proxy.start()
    direct = Redis.from_url(valkey.url, decode_responses=True)
    try:
        with FakeN8n() as n8n:
            platform = Platform(
                home=home,
                redis_url=f"redis://127.0.0.1:{redis_port}",
                database_url=f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres",
                n8n_url=n8n.url,
                n8n_api_key=n8n.api_key,
                api_port=free_port(),
            )
            await asyncio.to_thread(platform.migrate)
            probe_key = await asyncio.to_thread(platform.create_key, "probe")
            await asyncio.to_thread(platform.start_api)
            workers = ["w1", "w2"]
            for name in workers:
                await asyncio.to_thread(platform.start_worker, name)
            # The checker reads past the proxies: its reads must not be what a fault interrupts.
            direct_settings = msgspec.structs.replace(
                platform.settings, redis_url=valkey.url, database_url=postgres.url
            )
            try:
                async with open_infrastructure(direct_settings) as infra:
                    yield Rig(
                        valkey,
                        postgres,
                        redis_proxy,
                        postgres_proxy,
                        platform,
                        n8n,
                        direct,
                        infra,
                        probe_key,
                        defaultdict(set),
                        workers,
                    )
            finally:
                await asyncio.to_thread(platform.stop)
                await asyncio.to_thread(keep_logs, home)
    finally:
        await direct.aclose()
        await redis_proxy.stop()
        await postgres_proxy.stop()
        await asyncio.to_thread(postgres.stop)
        valkey.stop()


def keep_logs(home: Path) -> None:
    """The processes' logs outlive the run's folder: `.artifacts/chaos/` (not committed)."""
    kept = Path(".artifacts") / "chaos"
    kept.mkdir(parents=True, exist_ok=True)
    for log in home.glob("*.log"):
        shutil.copy(log, kept / log.name)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

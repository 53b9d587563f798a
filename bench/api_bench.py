"""API benchmark (issue 4): read throughput, command → read-model latency, SSE fan-out, API process RSS.

    python -m bench.api_bench [--quick] [--duration S] [--redis-url URL --database-url URL]
                              [--loadgen auto|wrk|python] [--command-rate N] [--subscribers N]
                              [--sse-rate N] [--storm N] [--no-profile]

The API is `python -m infra.cli run --port P`: API and handler processes of their own, as many as
`AIWF_API_PROCESSES` / `AIWF_WORKER_PROCESSES` say (default: half the cores each, ADR 0034; set
`AIWF_API_PROCESSES=0` for everything in one process); "API CPU" counts the API processes only, and the
handler processes are reported beside it. On a fresh `AIWF_DATA_DIR` (embedded Valkey + PostgreSQL), or,
with `--redis-url` and `--database-url`, on those servers under a unique `AIWF_KEY_PREFIX` and PostgreSQL
schema (both removed at the end). Rate limits are raised to 10^6. It is stopped with SIGINT, like Ctrl-C.

1. Reads: `GET /v1/conversations/{id}` with a key, against `bench/api_baseline.py` (a bare Litestar app,
   same uvicorn settings) in the same run and with the same load generator: `wrk -t2 -c64` when
   installed, else the Python generator of `bench/api_http.py` (2 processes, 64 connections; labelled).
2. Commands: open-loop paced `POST .../messages`, then `GET /v1/conversations/{id}` with the POST's
   `X-Consistency-Token`; timed from the POST's first byte written to the GET's 200. When the offered
   rate cannot be kept, lower rates follow until one meets the goal. Every message also runs through
   the main job in the handler processes; before each rate and before 3, the benchmark waits (and says
   how long) until they are idle again, so a phase does not measure the previous one's backlog.
3. SSE: subscribers on `GET /v1/stream` in a child process that stamps every read with the monotonic
   clock; events POSTed at a modest rate; latency from the append (the log entry id is Valkey's clock in
   ms) to the arrival, with the POST's send and answer times beside it. Then a storm: many subscriptions
   opened at once while commands are posted.
4. RSS of the API process, sampled every 50 ms during 1-3.

With py-spy on PATH (or `PY_SPY=/path`) an extra window after each measure, not counted, profiles the
API process. Prints one table; exits 0 whether the goals pass or not.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import msgspec
import psutil

from bench.api_http import Conn, FanOut, HttpError, LoadResult, Subscribers, python_load, request_bytes
from infra import event_loop

ROOT = Path(__file__).resolve().parent.parent
GOAL_RPS = 10_000
GOAL_BASELINE_RATIO = 0.5
GOAL_P50_MS = 10.0
GOAL_P99_MS = 50.0
GOAL_SSE_P99_MS = 100.0
GOAL_RSS_MB = 250.0
CONNECTIONS = 64  # wrk -t2 -c64
THREADS = 2
MIN_COMMAND_RATE = 20.0
SSE_RAMP = 10  # phase 3 opens its subscriptions this many at a time (see the storm row for all at once)


@dataclass(frozen=True)
class Plan:
    duration: float
    command_rate: float
    conversations: int
    subscribers: int
    storm: int
    sse_rate: float
    loadgen: str
    profile: str | None
    redis_url: str | None
    database_url: str | None
    quick: bool


@dataclass(frozen=True)
class Row:
    measure: str
    result: str
    baseline: str = ""
    ratio: str = ""
    goal: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  .. {row.measure}: {row.result}", flush=True)


# --- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before answering")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


@dataclass
class Served:
    """A server process we started: stopped with SIGINT (Ctrl-C), as `aiwf run` expects."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def api_pid(self) -> int:
        """The API process to profile: the first of `aiwf run`'s API children."""
        pid: int = self.api_processes()[0].pid
        return pid

    def api_processes(self) -> list[psutil.Process]:
        """`aiwf run`'s API children, or the process itself when it serves alone."""
        return [p for p in _children(self.pid) if "api" in _cmdline(p)] or [psutil.Process(self.pid)]

    def handler_processes(self) -> list[psutil.Process]:
        return [p for p in _children(self.pid) if "worker" in _cmdline(p)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} (pid {self.pid}) ignored SIGINT for 60 s: killed", flush=True)
                self.process.kill()
                self.process.wait(10)


def _children(pid: int) -> list[psutil.Process]:
    try:
        children: list[psutil.Process] = psutil.Process(pid).children()
    except psutil.Error:
        return []
    return children


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        command: list[str] = process.cmdline()
    except psutil.Error:
        return []
    return command


def start_process(name: str, args: Sequence[str], env: dict[str, str], log: Path, port: int) -> Served:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    return Served(name, process, port, log)


@dataclass
class Api:
    served: Served
    key: str
    data_dir: Path
    schema: str | None
    started_s: float

    @property
    def port(self) -> int:
        return self.served.port

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}


def start_api(plan: Plan, work: Path) -> Api:
    data_dir = work / "aiwf-data"
    data_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "AIWF_DATA_DIR": str(data_dir),
        "AIWF_RATE_PER_S": "1000000",
        "AIWF_RATE_BURST": "1000000",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "DATABASE_URL", "AIWF_KEY_PREFIX", "AIWF_PORT"):
        env.pop(name, None)
    schema = None
    if plan.redis_url and plan.database_url:
        schema = f"apibench_{uuid.uuid4().hex[:10]}"
        asyncio.run(create_schema(plan.database_url, schema))
        separator = "&" if "?" in plan.database_url else "?"
        env |= {
            "REDIS_URL": plan.redis_url,
            "DATABASE_URL": f"{plan.database_url}{separator}search_path={schema}",
            "AIWF_KEY_PREFIX": schema,
        }
    started = time.perf_counter()
    served = start_process(
        "aiwf run", ["-m", "infra.cli", "run", "--port", str(port)], env, work / "api.log", port
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health/live", 180, served.process)
        key_file = data_dir / "dev-api-key"
        while not key_file.exists():
            time.sleep(0.1)
    except BaseException:
        served.stop()
        raise
    return Api(served, key_file.read_text().strip(), data_dir, schema, time.perf_counter() - started)


async def create_schema(database_url: str, schema: str) -> None:
    from infra.postgres import create_pool

    pool = await create_pool(database_url, schema=schema)
    await pool.close()


async def drop_external(plan: Plan, schema: str) -> None:
    """The run's schema and every Redis key under its prefix."""
    import asyncpg
    from redis.asyncio import Redis

    assert plan.database_url
    assert plan.redis_url
    conn = await asyncpg.connect(plan.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    redis = Redis.from_url(plan.redis_url)
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{schema}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await redis.delete(*batch)
                batch.clear()
        if batch:
            await redis.delete(*batch)
    finally:
        await redis.aclose()


def start_baseline(work: Path) -> Served:
    port = free_port()
    served = start_process(
        "baseline",
        ["-m", "bench.api_baseline", "--port", str(port)],
        dict(os.environ),
        work / "baseline.log",
        port,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/conversations/x", 60, served.process)
    except BaseException:
        served.stop()
        raise
    return served


# --- resource watching -----------------------------------------------------------------------------


class RssWatch(threading.Thread):
    """Samples the API process's RSS every 50 ms; the peak per phase."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name="rss-watch")
        self.process = psutil.Process(pid)
        self.phase = "start"
        self.peaks: dict[str, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.05):
            try:
                rss = self.process.memory_info().rss
            except psutil.Error:
                return
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


@dataclass
class Cpu:
    """CPU seconds of the server's processes (the API ones, and `aiwf run`'s handler processes beside)
    and of the whole machine over a window."""

    processes: list[psutil.Process]
    handlers: list[psutil.Process] = field(default_factory=list)
    wall: float = 0.0
    own: float = 0.0
    handling: float = 0.0
    busy: float = 0.0

    @classmethod
    def of(cls, served: Served) -> Cpu:
        return cls(served.api_processes(), served.handler_processes())

    @contextlib.contextmanager
    def window(self) -> Iterator[Cpu]:
        def used(processes: list[psutil.Process]) -> float:
            total = 0.0
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
            return total

        def own() -> float:
            return used(self.processes)

        start_handling = used(self.handlers)

        def busy() -> float:
            times = psutil.cpu_times()
            return float(times.user + times.system + times.nice + times.irq + times.softirq)

        start_wall, start_own, start_busy = time.perf_counter(), own(), busy()
        yield self
        self.wall = time.perf_counter() - start_wall
        self.own, self.busy = own() - start_own, busy() - start_busy
        self.handling = used(self.handlers) - start_handling

    def describe(self) -> str:
        cores = psutil.cpu_count() or 1
        handlers = (
            f"{len(self.handlers)} handler process(es) {self.handling / self.wall:.0%} of a core, "
            if self.handlers
            else ""
        )
        return (
            f"{len(self.processes)} API process(es) {self.own / self.wall:.0%} of a core, {handlers}"
            f"machine {self.busy / self.wall / cores:.0%} busy of {cores} cores"
        )


# --- profiles ---------------------------------------------------------------------------------------

# Each sample goes to one component: a whole thread by its root (the thread pool that runs Litestar's
# sync guards, the log queue listener), else the innermost frame that matches, in this order per frame.
THREAD_ROOTS: tuple[tuple[str, str], ...] = (
    ("QueueListener", "logging: Litestar's log queue listener thread"),
    ("concurrent/futures/thread.py", "thread pool running the sync guards (worker threads)"),
)
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("socket send/recv", ("_SelectorSocketTransport.write", "_read_ready", "sock_sendall", "sock_recv")),
    ("epoll wait", ("EpollSelector.select",)),
    ("thread pool hand-off for sync guards", ("sync_to_thread", "run_in_executor", "_write_to_self")),
    ("logging: per-request log line", ("logging/",)),
    ("prometheus histogram", ("prometheus_client/",)),
    ("SSE per-subscriber encoding (api/streams.py)", ("api/streams.py", "litestar/response/sse.py")),
    ("hub dispatch (api/hub.py)", ("api/hub.py",)),
    ("privacy classifier", ("inference/privacy/",)),
    ("event store (infra/event_store.py)", ("infra/event_store.py",)),
    (
        "projector code (handlers/, projections/)",
        ("handlers/", "projections/read_model", "projections/catalog"),
    ),
    ("faststream", ("faststream/",)),
    ("redis-py", ("redis/",)),
    ("asyncpg", ("asyncpg/",)),
    ("h11 + uvicorn HTTP protocol", ("h11/", "uvicorn/")),
    ("litestar (routing, DI, middleware, responses)", ("litestar/",)),
    ("our API code (api/, commands/, domain/, infra/)", ("api/", "commands/", "domain/", "infra/")),
    ("asyncio event loop", ("asyncio/",)),
)
_LINE_NO = re.compile(r":\d+\)")


def find_py_spy() -> str | None:
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


@contextlib.contextmanager
def profiled(plan: Plan, pid: int, seconds: float, title: str, report: Report) -> Iterator[None]:
    """py-spy on `pid` for `seconds` (sampling without pausing it); a short summary into the report."""
    if plan.profile is None:
        yield
        return
    out = Path(tempfile.mkstemp(prefix="api-bench-", suffix=".pyspy")[1])
    args = ["record", "--nonblocking", "--rate", "100", "--duration", f"{max(1, int(seconds))}"]
    args += ["--format", "raw", "--output", str(out), "--pid", str(pid)]
    spy = subprocess.Popen(
        [plan.profile, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        _, err = spy.communicate(timeout=seconds + 60)
        if spy.returncode == 0 and out.stat().st_size:
            report.profiles.append(summarize_profile(title, out.read_text(errors="replace")))
        else:
            report.profiles.append(f"{title}: py-spy failed: {err.decode(errors='replace').strip()[:300]}")
        out.unlink(missing_ok=True)


def component_of(frames: Sequence[str], stack: str) -> str:
    for needle, name in THREAD_ROOTS:
        if needle in stack:
            return name
    for frame in reversed(frames):
        for name, needles in COMPONENTS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def summarize_profile(title: str, raw: str) -> str:
    own: collections.Counter[str] = collections.Counter()
    components: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[_LINE_NO.sub(")", frames[-1])] += samples
        components[component_of(frames, stack)] += samples
    if not total:
        return f"{title}: no samples"
    lines = [f"{title}: {total:,} samples of busy threads at 100 Hz"]
    lines.append("  by component (each sample once: its innermost matching frame):")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in components.most_common() if n / total >= 0.02]
    lines.append("  hottest functions (own time):")
    lines += [f"    {n / total:6.1%}  {frame[:110]}" for frame, n in own.most_common(6)]
    return "\n".join(lines)


# --- 1. read throughput -----------------------------------------------------------------------------


@dataclass
class LoadRun:
    rps: float
    requests: int
    bad: int  # non-2xx answers
    errors: str  # socket errors, if any
    p50_ms: float
    p99_ms: float
    cpu: str


def run_load(plan: Plan, port: int, path: str, headers: dict[str, str], seconds: float) -> tuple[float, ...]:
    """(rps, requests, non-2xx, socket errors, p50 ms, p99 ms)"""
    if plan.loadgen == "wrk":
        args = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        out = subprocess.run(
            [*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
        ).stdout
        return parse_wrk(out)
    result: LoadResult = python_load(
        port,
        request_bytes("GET", path, headers),
        processes=THREADS,
        connections=CONNECTIONS,
        seconds=seconds,
    )
    bad = sum(n for status, n in result.statuses.items() if not 200 <= status < 300)
    p50, p99 = percentiles(result.latencies_ms, 50, 99)
    return result.requests / result.seconds, result.requests, bad, result.errors, p50, p99


def parse_wrk(out: str) -> tuple[float, ...]:
    def number(pattern: str, default: float = 0.0) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else default

    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not found:
            return float("nan")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
        return float(found.group(1)) * scale

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    return (
        number(r"Requests/sec:\s+([\d.]+)"),
        number(r"(\d+) requests in"),
        number(r"Non-2xx or 3xx responses: (\d+)"),
        socket_errors,
        ms("50"),
        ms("99"),
    )


def loadgen_label(plan: Plan) -> str:
    if plan.loadgen == "wrk":
        return f"wrk -t{THREADS} -c{CONNECTIONS}"
    return f"python generator ({THREADS} procs, {CONNECTIONS} conns)"


async def post_json(conn: Conn, path: str, headers: dict[str, str], body: Any) -> Any:
    raw = request_bytes(
        "POST", path, headers | {"content-type": "application/json"}, msgspec.json.encode(body)
    )
    response = await conn.send(raw)
    if response.status != 202:
        raise RuntimeError(f"POST {path} answered {response.status}: {response.body[:300]!r}")
    return msgspec.json.decode(response.body)


async def start_conversations(api: Api, count: int, title: str) -> list[str]:
    conns = [await Conn.open(api.port) for _ in range(min(16, count))]
    ids: list[str] = []
    last_token = ""

    async def worker(conn: Conn, share: int) -> None:
        nonlocal last_token
        for _ in range(share):
            accepted = await post_json(conn, "/v1/conversations", api.auth(), {"title": title})
            ids.append(accepted["conversation_id"])
            last_token = accepted["consistency_token"]

    shares = [count // len(conns) + (1 if i < count % len(conns) else 0) for i in range(len(conns))]
    await asyncio.gather(*(worker(c, n) for c, n in zip(conns, shares, strict=True)))
    # read one back with its token: the read model has the conversations before anything is timed
    probe = await conns[0].send(
        request_bytes("GET", f"/v1/conversations/{ids[-1]}", api.auth() | {"x-consistency-token": last_token})
    )
    if probe.status != 200:
        raise RuntimeError(f"GET after start answered {probe.status}: {probe.body[:300]!r}")
    for conn in conns:
        await conn.close()
    return ids


def read_throughput(plan: Plan, api: Api, baseline: Served, conversation: str, report: Report) -> None:
    path = f"/v1/conversations/{conversation}"
    seconds = plan.duration
    warm = 1.0 if plan.quick else 2.0
    results: dict[str, tuple[tuple[float, ...], str]] = {}
    per_request: dict[str, float] = {}
    for name, port, headers, served in (
        ("api", api.port, api.auth(), api.served),
        ("baseline", baseline.port, {}, baseline),
    ):
        run_load(plan, port, path, headers, warm)
        with Cpu.of(served).window() as cpu:
            measured = run_load(plan, port, path, headers, seconds)
        results[name] = (measured, cpu.describe())
        per_request[name] = cpu.own / max(1.0, measured[1]) * 1e6
    (rps, requests, bad, errors, p50, p99), api_cpu = results["api"]
    (base_rps, base_requests, base_bad, base_errors, base_p50, base_p99), base_cpu = results["baseline"]
    ratio = rps / base_rps if base_rps else 0.0
    gen = loadgen_label(plan)
    report.add(
        Row(
            f"1. GET /v1/conversations/{{id}}, authenticated, {gen}, {seconds:g} s",
            f"{rps:,.0f} rps (p50 {p50:.1f} / p99 {p99:.1f} ms)",
            f"bare Litestar {base_rps:,.0f} rps (p50 {base_p50:.1f} / p99 {base_p99:.1f} ms)",
            f"{ratio:.2f}x",
            f">= {GOAL_RPS // 1000}k rps and >= {GOAL_BASELINE_RATIO}x",
            verdict(rps >= GOAL_RPS and ratio >= GOAL_BASELINE_RATIO),
        )
    )
    report.add(
        Row(
            "   1a. throughput alone",
            f"{rps:,.0f} rps",
            "",
            "",
            f">= {GOAL_RPS:,} rps",
            verdict(rps >= GOAL_RPS),
        )
    )
    report.add(
        Row(
            "   1b. against the same-run baseline",
            f"{rps:,.0f} rps",
            f"{base_rps:,.0f} rps",
            f"{ratio:.2f}x",
            f">= {GOAL_BASELINE_RATIO}x baseline",
            verdict(ratio >= GOAL_BASELINE_RATIO),
        )
    )
    report.notes.append(
        f"reads, API: {int(requests):,} requests, {int(bad)} non-2xx, {int(errors)} socket errors; "
        f"{api_cpu}; {per_request['api']:,.0f} µs server CPU per request"
    )
    report.notes.append(
        f"reads, baseline: {int(base_requests):,} requests, {int(base_bad)} non-2xx, "
        f"{int(base_errors)} socket errors; {base_cpu}; "
        f"{per_request['baseline']:,.0f} µs server CPU per request"
    )
    if bad or errors:
        report.problems.append(
            f"reads: {int(bad)} non-2xx answers and {int(errors)} socket errors from the API"
        )


# --- 2. command → read-model latency ----------------------------------------------------------------


@dataclass
class Commands:
    offered: float
    seconds: float
    launched: int = 0
    skipped: int = 0  # due while every conversation had a command in flight
    window_s: float = 0.0
    total_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    stale: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def achieved(self) -> float:
        return len(self.total_ms) / self.window_s if self.window_s else 0.0


class _Pool:
    """Keep-alive connections for the commands; one idle longer than uvicorn's keep-alive (5 s) may be
    closed by the server already, so it is replaced rather than reused."""

    MAX_IDLE_S = 3.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[Conn, float]] = []

    async def take(self) -> Conn:
        while self.idle:
            conn, since = self.idle.pop()
            if time.perf_counter() - since < self.MAX_IDLE_S:
                return conn
            await conn.close()
        return await Conn.open(self.port)

    def give(self, conn: Conn) -> None:
        if not conn.closed:
            self.idle.append((conn, time.perf_counter()))

    async def close(self) -> None:
        for conn, _ in self.idle:
            await conn.close()


class _Conversation(msgspec.Struct):
    last_version: int


class _Accepted(msgspec.Struct):
    version: int
    event_ids: list[str]


class _CommandRunner:
    """One command = POST a message, then GET the conversation with the POST's consistency token, on the
    same keep-alive connection; timed from just before the POST is written to the GET's 200."""

    def __init__(self, api: Api, out: Commands, free: collections.deque[str], tag: str) -> None:
        self.pool, self.out, self.free, self.tag = _Pool(api.port), out, free, tag
        self.headers = api.auth()
        self.post_headers = self.headers | {"content-type": "application/json"}
        self.last_done = 0.0

    async def one(self, cid: str, n: int) -> None:
        sent = time.perf_counter()
        conn: Conn | None = None
        try:
            conn = await self.pool.take()
            body = msgspec.json.encode({"text": f"{self.tag} message {n}: please check the weekly report"})
            path = f"/v1/conversations/{cid}"
            posted = await conn.send(request_bytes("POST", f"{path}/messages", self.post_headers, body))
            post_done = time.perf_counter()
            if posted.status != 202:
                self.out.statuses[f"POST {posted.status}"] += 1
                return
            accepted = msgspec.json.decode(posted.body, type=_Accepted)
            token = posted.headers["x-consistency-token"]
            read = await conn.send(request_bytes("GET", path, self.headers | {"x-consistency-token": token}))
            done = time.perf_counter()
            if read.status != 200:
                self.out.statuses[f"GET {read.status}"] += 1
                return
            if msgspec.json.decode(read.body, type=_Conversation).last_version < accepted.version:
                self.out.stale += 1
            self.out.total_ms.append((done - sent) * 1000)
            self.out.post_ms.append((post_done - sent) * 1000)
            self.out.get_ms.append((done - post_done) * 1000)
            self.last_done = done
        except (HttpError, OSError, KeyError, msgspec.DecodeError) as exc:
            self.out.errors[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
        finally:
            if conn is not None:
                self.pool.give(conn)
            self.free.append(cid)


async def paced_commands(
    api: Api, conversations: Sequence[str], rate: float, seconds: float, tag: str
) -> Commands:
    """Open loop: command i is due at i / rate, whatever the earlier ones are doing; one command in
    flight per conversation (so no version conflicts): a command due while all are busy is skipped."""
    out = Commands(offered=rate, seconds=seconds)
    free = collections.deque(conversations)
    runner = _CommandRunner(api, out, free, tag)
    tasks: set[asyncio.Task[None]] = set()
    total = max(1, round(rate * seconds))
    started = time.perf_counter()
    n = 0
    while n < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        while n < due:
            if free:
                task = asyncio.create_task(runner.one(free.popleft(), n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                out.launched += 1
            else:
                out.skipped += 1
            n += 1
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    out.window_s = max(runner.last_done, started + seconds) - started
    await runner.pool.close()
    return out


def command_row(label: str, run: Commands) -> Row:
    p50, p99, top = percentiles(run.total_ms, 50, 99, 100)
    ok = p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS if run.total_ms else False
    post50, post99 = percentiles(run.post_ms, 50, 99)
    get50, get99 = percentiles(run.get_ms, 50, 99)
    return Row(
        f"{label}: offered {run.offered:,.0f}/s for {run.seconds:g} s, achieved {run.achieved:,.0f}/s",
        f"p50 {p50:.1f} / p99 {p99:.1f} / max {top:.0f} ms (n={len(run.total_ms):,})",
        f"of which POST p50 {post50:.1f}/p99 {post99:.1f}, GET+wait p50 {get50:.1f}/p99 {get99:.1f}",
        f"{p99 / GOAL_P99_MS:.2f}x goal p99" if run.total_ms else "",
        f"p50 <= {GOAL_P50_MS:g} ms, p99 <= {GOAL_P99_MS:g} ms",
        verdict(ok),
    )


def command_problems(label: str, run: Commands, report: Report) -> None:
    report.notes.append(
        f"{label}: {run.launched:,} launched, {len(run.total_ms):,} completed, {run.skipped:,} skipped "
        f"(every conversation busy), statuses {dict(run.statuses) or 'all 202/200'}, "
        f"errors {dict(run.errors) or 'none'}, stale reads {run.stale}"
    )
    if run.statuses or run.errors or run.stale:
        report.problems.append(
            f"{label}: unexpected answers {dict(run.statuses)}, client errors {dict(run.errors)}, "
            f"{run.stale} reads with a token that did not show the command's version"
        )


def goal_met(run: Commands) -> bool:
    p50, p99 = percentiles(run.total_ms, 50, 99)
    return bool(run.total_ms) and p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS and not run.skipped


async def command_latency(plan: Plan, api: Api, report: Report) -> list[str]:
    """The offered rate first; when the machine cannot keep it, lower rates (70% of what was achieved,
    then halving) until one meets the goal: the highest rate tried that meets it is the answer."""
    conversations = await start_conversations(api, plan.conversations, "latency bench")
    await paced_commands(api, conversations, min(plan.command_rate, 100), 1.0, "warm-up")
    rate, step = plan.command_rate, 0
    while True:
        await settled(api, f"commands at {rate:,.0f}/s", report)
        with Cpu.of(api.served).window() as cpu:
            run = await paced_commands(api, conversations, rate, plan.duration, f"bench-{step}")
        label = (
            "2. command -> read model (POST, then GET with its token)"
            if step == 0
            else f"   2{'abcdefgh'[step - 1]}. lower rate"
        )
        report.add(command_row(label, run))
        per_command = cpu.own / len(run.total_ms) * 1000 if run.total_ms else float("nan")
        report.notes.append(
            f"commands at {rate:,.0f}/s: {cpu.describe()}; {per_command:.1f} ms API CPU per command"
        )
        command_problems(f"commands at {rate:,.0f}/s", run, report)
        if goal_met(run) or rate <= MIN_COMMAND_RATE or step >= 6:
            return conversations
        step += 1
        lower = run.achieved * 0.7 if step == 1 and run.achieved < 0.9 * rate else rate / 2
        rate = max(MIN_COMMAND_RATE, float(round(lower, -1)))


QUIET_SHARE = 0.1  # of a core: the handler processes are idle again
SETTLE_LIMIT_S = 300.0


async def settled(api: Api, before: str, report: Report) -> None:
    """Wait until `aiwf run`'s handler processes are idle: every message a phase sends also goes through
    the main job (the agents plan, design and validate a workflow for it, tens of ms of CPU each), and
    the next phase would otherwise measure the API while that backlog runs. The wait is reported."""
    handlers = api.served.handler_processes()
    if not handlers:
        return
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_LIMIT_S:
        with Cpu(handlers).window() as cpu:
            await asyncio.sleep(1.0)
        if cpu.own / cpu.wall < QUIET_SHARE:
            break
    waited = time.perf_counter() - started
    report.notes.append(f"before {before}: waited {waited:,.1f} s for the handler processes to be idle")


# --- 3. SSE fan-out ---------------------------------------------------------------------------------


@dataclass
class Posted:
    event_id: str
    sent: float  # perf_counter() (CLOCK_MONOTONIC: the same in every process)
    answered: float
    appended: float  # the log entry's id is Valkey's wall clock in ms at the append; on the same clock


def log_entry_time(token: str) -> float:
    """perf_counter() time of the append, from the consistency token `<partition>:<ms>-<seq>`."""
    found = re.match(r"\d+:(\d+)-\d+", token)
    if found is None:
        raise ValueError(f"not a one-position consistency token: {token!r}")
    millis = int(found.group(1))
    return millis / 1000 - (time.time() - time.perf_counter())


async def post_events(api: Api, conversation: str, rate: float, seconds: float, tag: str) -> list[Posted]:
    conn = await Conn.open(api.port)
    posted: list[Posted] = []
    total = max(1, round(rate * seconds))
    started = time.perf_counter()
    try:
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            sent = time.perf_counter()
            accepted = await post_json(
                conn, f"/v1/conversations/{conversation}/messages", api.auth(), {"text": f"{tag} event {n}"}
            )
            answered = time.perf_counter()
            appended = log_entry_time(accepted["consistency_token"])
            posted.append(Posted(accepted["event_ids"][0], sent, answered, appended))
    finally:
        await conn.close()
    return posted


@dataclass
class Deliveries:
    from_append: list[float] = field(default_factory=list)
    from_sent: list[float] = field(default_factory=list)
    from_answer: list[float] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)  # per event: first to last arrival
    duplicates: int = 0
    missing: int = 0


def match_deliveries(fan: FanOut, posted: Sequence[Posted]) -> Deliveries:
    wanted = {p.event_id: p for p in posted}
    out = Deliveries()
    arrivals: dict[str, list[float]] = collections.defaultdict(list)
    for deliveries in fan.deliveries:
        seen: set[str] = set()
        for event_id, arrived in deliveries:
            post = wanted.get(event_id)
            if post is None:
                continue
            if event_id in seen:
                out.duplicates += 1
                continue
            seen.add(event_id)
            arrivals[event_id].append(arrived)
            out.from_append.append((arrived - post.appended) * 1000)
            out.from_sent.append((arrived - post.sent) * 1000)
            out.from_answer.append((arrived - post.answered) * 1000)
        out.missing += len(wanted.keys() - seen)
    out.spans = [(max(times) - min(times)) * 1000 for times in arrivals.values()]
    return out


def sse_rows(plan: Plan, fan: FanOut, posted: Sequence[Posted], report: Report) -> None:
    got = match_deliveries(fan, posted)
    p50, p99, top = percentiles(got.from_append, 50, 99, 100)
    s50, s99 = percentiles(got.from_sent, 50, 99)
    a50, a99 = percentiles(got.from_answer, 50, 99)
    expected = fan.opened * len(posted)
    report.add(
        Row(
            f"3. SSE /v1/stream: {fan.opened:,} subscribers, {len(posted)} events at {plan.sse_rate:g}/s, "
            "append -> arrival",
            f"p50 {p50:.1f} / p99 {p99:.1f} / max {top:.0f} ms (n={len(got.from_append):,} of {expected:,})",
            f"from POST sent p50 {s50:.0f}/p99 {s99:.0f}; from POST answer p50 {a50:.0f}/p99 {a99:.0f} ms",
            f"{p99 / GOAL_SSE_P99_MS:.2f}x goal p99" if got.from_append else "",
            f"p99 <= {GOAL_SSE_P99_MS:g} ms, none lost",
            verdict(
                bool(got.from_append)
                and p99 <= GOAL_SSE_P99_MS
                and got.missing == 0
                and fan.opened == plan.subscribers
            ),
        )
    )
    span50, span_top = percentiles(got.spans, 50, 100)
    report.add(
        Row(
            "   3b. per event: first to last subscriber",
            f"p50 {span50:.0f} / max {span_top:.0f} ms",
            f"= {span50 * 1000 / max(1, fan.opened):.0f} µs per delivery (p50 span / subscribers)",
        )
    )
    duplicates, missing = got.duplicates, got.missing
    report.notes.append(
        f"SSE: {fan.opened:,}/{plan.subscribers:,} subscribed in {fan.connect_seconds:.1f} s "
        f"(failures {fan.failed or 'none'}), {missing:,} deliveries missing, {duplicates:,} duplicated, "
        f"{fan.closed_by_server:,} streams closed by the server, "
        f"{fan.bytes_received / 1e6:,.1f} MB received; "
        f"the subscriber process used {fan.client_cpu_s:.1f} s CPU for {fan.chunks_received:,} reads "
        f"({fan.client_cpu_s / max(1, fan.chunks_received) * 1e6:.0f} µs each, so about "
        f"{fan.client_cpu_s / max(1, fan.chunks_received) * fan.opened * 1000:.0f} ms of an event's "
        "first-to-last span is the client's own)"
    )
    if fan.failed or missing or duplicates or fan.closed_by_server:
        report.problems.append(
            f"SSE: {sum(fan.failed.values())} subscriptions failed {fan.failed}, {missing:,} deliveries "
            f"missing, {duplicates:,} duplicated, {fan.closed_by_server:,} streams closed by the server"
        )


async def background_posts(
    api: Api, conversations: Sequence[str], stop: asyncio.Event
) -> collections.Counter[str]:
    """POST messages back to back, one connection per conversation, until `stop`; counts the answers."""
    statuses: collections.Counter[str] = collections.Counter()
    headers = api.auth() | {"content-type": "application/json"}

    async def loop(cid: str) -> None:
        conn: Conn | None = None
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = await Conn.open(api.port)
                body = msgspec.json.encode({"text": "sent during the subscription storm"})
                answer = await conn.send(
                    request_bytes("POST", f"/v1/conversations/{cid}/messages", headers, body)
                )
                statuses[str(answer.status)] += 1
            except (HttpError, OSError) as exc:
                statuses[type(exc).__name__] += 1
                conn = None
            await asyncio.sleep(0.01)
        if conn is not None:
            await conn.close()

    await asyncio.gather(*(loop(cid) for cid in conversations))
    return statuses


async def subscription_storm(plan: Plan, api: Api, conversations: Sequence[str], report: Report) -> None:
    """Every subscription opened at once (clients reconnecting after a restart), commands meanwhile."""
    raw = request_bytes("GET", "/v1/stream", api.auth() | {"accept": "text/event-stream"})
    subscribers = Subscribers(api.port, raw, plan.storm, at_once=plan.storm)
    stop = asyncio.Event()
    posts = asyncio.create_task(background_posts(api, conversations[:4], stop))
    subscribers.start()
    try:
        opened, failed = await asyncio.to_thread(subscribers.ready, 600)
        await asyncio.sleep(2.0)
        stop.set()
        statuses = await posts
        cut = await asyncio.to_thread(subscribers.closed)
        await asyncio.to_thread(subscribers.finish)
    finally:
        stop.set()
        subscribers.kill()
    bad = sum(n for status, n in statuses.items() if status != "202")
    report.add(
        Row(
            f"   3c. storm: {plan.storm:,} subscriptions opened at once, POSTs meanwhile",
            f"{cut + sum(failed.values()):,} of {plan.storm:,} streams cut/refused; "
            f"{bad} of {statuses.total()} POSTs failed",
            f"POST answers {dict(statuses)}",
            "",
            "none cut, no 5xx",
            verdict(cut == 0 and not failed and bad == 0),
        )
    )
    if cut or failed or bad:
        report.problems.append(
            f"SSE storm: of {plan.storm:,} subscriptions opened at once, {opened:,} answered 200 "
            f"(refused: {failed or 'none'}) and {cut:,} of those were then closed by the server; "
            f"POSTs meanwhile answered {dict(statuses)}"
        )


async def sse_fanout(plan: Plan, api: Api, conversation: str, report: Report) -> None:
    raw = request_bytes("GET", "/v1/stream", api.auth() | {"accept": "text/event-stream"})
    subscribers = Subscribers(api.port, raw, plan.subscribers, at_once=SSE_RAMP)
    subscribers.start()
    try:
        opened, failed = await asyncio.to_thread(subscribers.ready, 600)
        await asyncio.sleep(2.0)  # let the server finish setting up the last subscriptions
        cut = await asyncio.to_thread(subscribers.closed)
        print(f"  .. {opened:,} SSE subscribers connected, {cut} closed since (failures: {failed or 'none'})")
        with Cpu.of(api.served).window() as cpu:
            posted = await post_events(api, conversation, plan.sse_rate, plan.duration, "sse")
            await asyncio.sleep(3.0)  # deliveries still on their way
        report.notes.append(f"SSE fan-out window (posting + 3 s drain): {cpu.describe()}")
        if plan.profile:
            seconds = min(plan.duration, 5.0)
            with profiled(plan, api.served.api_pid, seconds, "3. SSE fan-out (extra window)", report):
                await post_events(api, conversation, plan.sse_rate, seconds, "sse-profile")
            await asyncio.sleep(2.0)
        fan = await asyncio.to_thread(subscribers.finish)
    finally:
        subscribers.kill()
    sse_rows(plan, fan, posted, report)


# --- the run ----------------------------------------------------------------------------------------


def percentiles(samples: Sequence[float], *ranks: int) -> tuple[float, ...]:
    if not samples:
        return tuple(float("nan") for _ in ranks)
    ordered = sorted(samples)
    return tuple(ordered[min(len(ordered) - 1, max(0, round(r / 100 * len(ordered)) - 1))] for r in ranks)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def raise_nofile(want: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,}"


def machine_facts(plan: Plan) -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def pkg(name: str) -> str:
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            return f"{name} absent"

    loop = event_loop.name()
    http = "httptools" if _installed("httptools") else "h11 (no httptools)"
    wrk = "absent"
    if shutil.which("wrk"):
        found = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        wrk = (found.stdout + found.stderr).split("\n")[0].strip()
    load1, load5, _ = os.getloadavg()
    why = ""
    if plan.loadgen == "python":
        why = " (chosen by --loadgen python)" if shutil.which("wrk") else " (wrk not found)"
    servers = "embedded Valkey + PostgreSQL in a fresh AIWF_DATA_DIR"
    if plan.redis_url:
        servers = f"given: {_safe_url(plan.redis_url)}, {_safe_url(plan.database_url)} (own prefix + schema)"
    return [
        f"machine   : {os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()} {platform.machine()}",
        f"load avg  : {load1:.2f} (1 min), {load5:.2f} (5 min) at start; load generator, API, its servers "
        "and the subscribers share the cores",
        f"python    : {platform.python_version()}; "
        + ", ".join(pkg(n) for n in ("litestar", "uvicorn", "msgspec", "asyncpg", "redis", "faststream")),
        f"uvicorn   : event loop {loop}, HTTP {http}, 1 worker (= 1 `aiwf run` process, projectors inside)",
        f"load gen  : {loadgen_label(plan)}{why}; wrk: {wrk}",
        f"servers   : {servers}",
        f"profiler  : {plan.profile or 'py-spy not found: no profiles'}",
    ]


def _installed(name: str) -> bool:
    try:
        version(name)
    except PackageNotFoundError:
        return False
    return True


def _safe_url(url: str | None) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url or "")


def render(rows: Sequence[Row]) -> str:
    header = Row("measure", "result", "baseline / breakdown", "ratio", "goal", "verdict")
    table = [header, *rows]
    columns = ("measure", "result", "baseline", "ratio", "goal", "verdict")
    widths = [max(len(getattr(r, c)) for r in table) for c in columns]
    lines = [
        "  ".join(getattr(r, c).ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_EXCEPTION = re.compile(r"^[\s|+]*((?:[a-z_]+\.)*[A-Z]\w*(?:Error|Exception)): (.*)$")
_UNHANDLED = re.compile(r" - (unhandled error on [A-Z]+) (\S+)")


def server_log_problems(log: Path) -> list[str]:
    """What went wrong in the API process, by exception type (innermost first in each traceback)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    kinds: collections.Counter[str] = collections.Counter()
    routes: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        if found := _EXCEPTION.match(line):
            kinds[f"{found.group(1)}: {found.group(2)[:90]}"] += 1
        elif found := _UNHANDLED.search(line):
            routes[f"{found.group(1)} {re.sub(r'[0-9a-f-]{36}', '{id}', found.group(2))}"] += 1
    errors = sum(1 for line in text.splitlines() if line.startswith(("ERROR", "CRITICAL")))
    if not kinds and not routes and not errors:
        return []
    keep = Path(tempfile.gettempdir()) / f"api-bench-{os.getpid()}-api.log"
    shutil.copyfile(log, keep)
    out = [f"server log ({keep}): {errors:,} ERROR lines"]
    out += [f"    {n:>6,} x {route} (a 500 answered)" for route, n in routes.most_common(4)]
    out += [f"    {n:>6,} x {kind}" for kind, n in kinds.most_common(6)]
    return out


async def measure(plan: Plan, api: Api, baseline: Served, watch: RssWatch, report: Report) -> None:
    reads = (await start_conversations(api, 1, "read bench"))[0]
    watch.phase = "1. reads"
    print("phase 1: read throughput", flush=True)
    await asyncio.to_thread(read_throughput, plan, api, baseline, reads, report)
    if plan.profile:
        seconds = min(plan.duration, 5.0)
        path = f"/v1/conversations/{reads}"
        with profiled(plan, api.served.api_pid, seconds, "1. reads (extra window)", report):
            await asyncio.to_thread(run_load, plan, api.port, path, api.auth(), seconds + 1)
    baseline.stop()
    watch.phase = "2. commands"
    print("phase 2: command -> read-model latency", flush=True)
    conversations = await command_latency(plan, api, report)
    if plan.profile:
        seconds = min(plan.duration, 5.0)
        rate = min(plan.command_rate, 300.0)
        with profiled(
            plan,
            api.served.api_pid,
            seconds,
            f"2. commands at {rate:g}/s (extra window)",
            report,
        ):
            await paced_commands(api, conversations, rate, seconds, "profile")
    watch.phase = "3. SSE"
    await settled(api, "the SSE fan-out", report)
    print("phase 3: SSE fan-out, then a subscription storm", flush=True)
    await sse_fanout(plan, api, conversations[0], report)
    await subscription_storm(plan, api, conversations, report)


def rss_rows(watch: RssWatch, report: Report) -> None:
    phases = [p for p in ("1. reads", "2. commands", "3. SSE") if p in watch.peaks]
    peak = max((watch.peaks[p] for p in phases), default=0) / 2**20
    per_phase = ", ".join(f"{p[3:]} {watch.peaks[p] / 2**20:,.0f}" for p in phases)
    idle = watch.peaks.get("start", 0) / 2**20
    report.add(
        Row(
            "4. API process RSS, peak during 1-3 (psutil, every 50 ms)",
            f"{peak:,.0f} MB",
            f"after start-up {idle:,.0f} MB; peaks: {per_phase} MB",
            f"{peak / GOAL_RSS_MB:.2f}x goal",
            f"<= {GOAL_RSS_MB:g} MB",
            verdict(0 < peak <= GOAL_RSS_MB),
        )
    )


def run(plan: Plan) -> Report:
    report = Report()
    work = Path(tempfile.mkdtemp(prefix="api-bench-"))
    print("starting `aiwf run` ...", flush=True)
    try:
        api = start_api(plan, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    print(f"  .. API on 127.0.0.1:{api.port}, pid {api.served.pid}, up in {api.started_s:.1f} s", flush=True)
    watch = RssWatch(api.served.api_pid)
    baseline: Served | None = None
    try:
        time.sleep(1.0)
        watch.start()
        baseline = start_baseline(work)
        asyncio.run(measure(plan, api, baseline, watch, report))
        rss_rows(watch, report)
    finally:
        watch.stop()
        if baseline is not None:
            baseline.stop()
        alive = api.served.process.poll() is None
        api.served.stop()
        if not alive:
            report.problems.append(
                f"the API process died during the run (exit {api.served.process.returncode})"
            )
        report.problems += server_log_problems(api.served.log)
        if api.schema:
            asyncio.run(drop_external(plan, api.schema))
        if api.served.process.returncode not in (0, 130, -signal.SIGINT):
            report.notes.append(f"`aiwf run` exited with {api.served.process.returncode} after SIGINT")
        shutil.rmtree(work, ignore_errors=True)
    return report


def parse_plan(argv: Sequence[str] | None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 s phases, 200 subscribers")
    parser.add_argument("--duration", type=float, help="seconds of each measured phase (default 10; quick 3)")
    parser.add_argument(
        "--redis-url", help="use this Redis (with --database-url) instead of the embedded one"
    )
    parser.add_argument("--database-url", help="use this PostgreSQL (with --redis-url)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--command-rate", type=float, help="commands/s offered in phase 2 (default 1000)")
    parser.add_argument(
        "--subscribers", type=int, help="SSE subscribers in phase 3 (default 2000; quick 200)"
    )
    parser.add_argument(
        "--storm", type=int, help="subscriptions opened at once in 3c (default 500; quick 200)"
    )
    parser.add_argument("--sse-rate", type=float, default=2.0, help="events/s posted in phase 3 (default 2)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy windows")
    args = parser.parse_args(argv)
    if bool(args.redis_url) != bool(args.database_url):
        parser.error("--redis-url and --database-url go together")
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    elif loadgen == "wrk" and not shutil.which("wrk"):
        parser.error("--loadgen wrk: wrk is not on PATH (apt-get install wrk)")
    quick = bool(args.quick)
    return Plan(
        duration=args.duration or (3.0 if quick else 10.0),
        command_rate=args.command_rate or 1000.0,
        conversations=64 if quick else 256,
        subscribers=args.subscribers or (200 if quick else 2000),
        storm=args.storm or (200 if quick else 500),
        sse_rate=args.sse_rate,
        loadgen=loadgen,
        profile=None if args.no_profile else find_py_spy(),
        redis_url=args.redis_url,
        database_url=args.database_url,
        quick=quick,
    )


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_plan(argv)
    nofile = raise_nofile(plan.subscribers + 1024)
    print("API benchmark (issue 4)")
    for line in machine_facts(plan):
        print(f"  {line}")
    print(f"  open files: soft limit {nofile} (raised for the subscribers; inherited by the API)")
    print(flush=True)
    report = run(plan)
    print()
    print(render(report.rows))
    print()
    for note in report.notes:
        print(f"- {note}")
    if report.problems:
        print("\nproblems seen:")
        for problem in report.problems:
            print(f"- {problem}")
    else:
        print(
            "\nproblems seen: none (no non-2xx, no client errors, no lost SSE deliveries, clean server log)"
        )
    if report.profiles:
        print("\nwhat the API process spends its time on (py-spy, extra windows, not counted):")
        for profile in report.profiles:
            print(profile)
    return 0


def _run_main() -> None:
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    _run_main()

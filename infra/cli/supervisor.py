"""`aiwf run` on every core: the API and the handlers in processes of their own, started, restarted and
stopped by the `aiwf run` process, which owns the embedded servers and the listening socket.

The children share nothing but Redis and PostgreSQL (rate limits and revocations agree through them,
docs/adr/0033-shared-rate-limits.md). The API processes accept on one socket bound here, so the port is
taken once and a child that restarts never leaves it unbound. Children run in a session of their own:
Ctrl-C reaches this process alone, which stops them in order (handlers and API, then the servers); they also
stop when this process dies without a word (`PR_SET_PDEATHSIG`, `follow_parent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec
from prometheus_client.multiprocess import mark_process_dead

from infra.observability import MULTIPROC_DIR
from infra.stopping import STOP_TIMEOUT_S

log = logging.getLogger(__name__)

STOP_CHILD_S = 20.0  # a child's graceful stop: its batch in hand, its open streams, its leases
FIRST_BACKOFF_S, MAX_BACKOFF_S = 1.0, 30.0
STEADY_S = 60.0  # a child up this long had a good run: its next crash restarts it at once
_PR_SET_PDEATHSIG = 1


class ProcessPlan(msgspec.Struct, frozen=True, kw_only=True):
    """How many processes of each kind `aiwf run` starts; 0 API processes: everything in one process."""

    api: int
    workers: int

    @property
    def single(self) -> bool:
        return self.api == 0


def plan_for(cores: int, api: int | None, workers: int | None) -> ProcessPlan:
    """Half the cores serve HTTP, the rest fold and decide (at least one each); Valkey and PostgreSQL
    share the same cores, so more processes than cores only adds switching."""
    api_count = max(1, cores // 2) if api is None else api
    if api_count == 0:
        return ProcessPlan(api=0, workers=0)
    worker_count = max(1, cores - api_count) if workers is None else workers
    return ProcessPlan(api=api_count, workers=worker_count)


class ChildSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # "api-1", "worker-1": how the logs name it
    argv: tuple[str, ...]
    pass_fds: tuple[int, ...] = ()


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bound once here and inherited by every API process: they all accept on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def follow_parent(parent_pid: int) -> None:
    """In a child: die with SIGTERM when the supervisor dies, however it dies (Linux; elsewhere the
    child only notices when its own connections fail)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before the prctl took hold
        os.kill(os.getpid(), signal.SIGTERM)


class MetricsDir:
    """Where every child writes its metrics (prometheus_client's multiprocess mode), so that any API
    process's `/metrics` serves the sum of all (docs/operations.md). The operator's PROMETHEUS_MULTIPROC_DIR
    if set, emptied; else a temporary folder, removed at the end. Empty at start: the files of an earlier
    run would be summed with this one's."""

    def __init__(self, env: Mapping[str, str]) -> None:
        given = env.get(MULTIPROC_DIR)
        self.owned = not given
        self.path = Path(given) if given else Path(tempfile.mkdtemp(prefix="aiwf-metrics-"))
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob("*.db"):
            stale.unlink()

    def process_dead(self, pid: int) -> None:
        """Its counters stay in the sum (they counted what happened); only live gauges would go."""
        mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]  # untyped in prometheus_client

    def remove(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


class _Child:
    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self.backoff_s = FIRST_BACKOFF_S


class Supervisor:
    """Starts the children, restarts one that exits unasked (backing off while it keeps failing), and
    stops them all: SIGTERM, then SIGKILL after STOP_CHILD_S."""

    def __init__(self, specs: Sequence[ChildSpec], env: Mapping[str, str]) -> None:
        self._children = [_Child(spec) for spec in specs]
        self.metrics = MetricsDir(env)
        self._env = {**env, MULTIPROC_DIR: str(self.metrics.path)}
        self._stopping = asyncio.Event()
        self._watchers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for child in self._children:
            await self._spawn(child)
            self._watchers.add(asyncio.create_task(self._watch(child), name=f"supervise-{child.spec.name}"))

    async def _spawn(self, child: _Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.spec.argv,
            env={**self._env, "AIWF_SUPERVISOR_PID": str(os.getpid())},
            pass_fds=child.spec.pass_fds,
            start_new_session=True,  # its own process group: Ctrl-C is ours to pass on, in order
        )
        child.started_at = asyncio.get_running_loop().time()

    async def _watch(self, child: _Child) -> None:
        loop = asyncio.get_running_loop()
        while child.process is not None:
            code = await child.process.wait()
            self.metrics.process_dead(child.process.pid)
            if self._stopping.is_set():
                return
            if loop.time() - child.started_at >= STEADY_S:
                child.backoff_s = FIRST_BACKOFF_S
            log.error(
                "aiwf run: %s (pid %d) exited with code %d; restarting it in %.0f s",
                *(child.spec.name, child.process.pid, code, child.backoff_s),
            )
            await asyncio.sleep(child.backoff_s)
            if self._stopping.is_set():
                return
            child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
            await self._spawn(child)

    async def stop(self) -> dict[str, int]:
        """Every child stopped; the exit code of each (negative: killed by that signal)."""
        self._stopping.set()
        for watcher in self._watchers:
            watcher.cancel()
        if self._watchers:
            await asyncio.wait(self._watchers, timeout=STOP_TIMEOUT_S)
        running = [c.process for c in self._children if c.process is not None]
        for process in running:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        waits = {asyncio.ensure_future(process.wait()) for process in running}
        if waits:
            _, late = await asyncio.wait(waits, timeout=STOP_CHILD_S)
            if late:
                for process in running:
                    if process.returncode is None:
                        log.error(
                            "aiwf run: pid %d did not stop within %.0f s; killing it",
                            process.pid,
                            STOP_CHILD_S,
                        )
                        with contextlib.suppress(ProcessLookupError):
                            process.kill()
                await asyncio.wait(late, timeout=STOP_TIMEOUT_S)
        self.metrics.remove()
        return {
            c.spec.name: c.process.returncode
            for c in self._children
            if c.process is not None and c.process.returncode is not None
        }

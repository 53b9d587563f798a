"""Starting the platform: `aiwf run`, `api`, `worker`, `demo`, `migrate`, and the wiring they share."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from domain.n8n.catalog import default_catalog
from domain.tenancy import DEMO
from domain.types import utc_now
from handlers.app import HandlerRuntime
from handlers.managers import ManagerDeps
from handlers.runtime.worker import POLL_MS
from inference.gateway import Gateway
from infra.checkpoints import checkpointing
from infra.cli import early_stop
from infra.cli.demo import WAIT_S, ErrorCount, check_read_side, play
from infra.cli.demo import deploy as deploy_demo
from infra.cli.supervisor import ChildSpec, ProcessPlan, Supervisor, follow_parent, listening_socket, plan_for
from infra.collector import settle_heap
from infra.postgres import create_pool, migrate
from infra.provider_reports import reporting_providers
from infra.runtime import Infrastructure, StartupError, open_infrastructure
from infra.settings import Settings
from projections.catalog import PROJECTORS


def print_notes(infra: Infrastructure) -> None:
    for note in infra.notes:
        print(f"  {note}")


@contextlib.asynccontextmanager
async def open_pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.database_url)
    try:
        for name in await migrate(pool):
            print(f"  migrated: {name}", file=sys.stderr)
        yield pool
    finally:
        await pool.close()


def runtime_for(
    infra: Infrastructure,
    pool: asyncpg.Pool,
    gateway: Gateway | None = None,
    *,
    poll_ms: int = POLL_MS,
    projectors: bool = True,
    auto_approve: bool | None = None,
) -> HandlerRuntime:
    """Projectors (unless told not to) and, given a gateway, the main job's process managers."""
    runtime = HandlerRuntime(infra.redis, infra.redis_url, infra.store.keys, infra.store.registry)
    timing = {"poll_ms": poll_ms, "lease_ttl_ms": infra.settings.lease_ttl_ms}
    if projectors:
        runtime.add_projectors(pool, PROJECTORS, **timing)
    if gateway is None:
        return runtime
    deps = ManagerDeps(
        store=infra.store,
        gateway=gateway,
        catalog=default_catalog(),
        clock=utc_now,
        auto_approve=infra.settings.auto_approve if auto_approve is None else auto_approve,
        n8n=infra.n8n,
    )
    runtime.add_managers(deps, **timing)
    return runtime


@contextlib.asynccontextmanager
async def open_gateway(notes: list[str] | None = None) -> AsyncIterator[Gateway]:
    """The LLM gateway as the environment configures it (the offline planner when nothing is set);
    what start-up should say about it (where sensitive data may go) is added to `notes`."""
    from inference.config import (  # noqa: PLC0415 - the SDKs: slow
        build_gateway,
        gateway_config_from_env,
        gateway_notes,
    )

    try:
        config = gateway_config_from_env(os.environ)
    except ValueError as exc:
        raise StartupError(str(exc)) from exc
    if notes is not None:
        notes += gateway_notes(config)
    gateway = build_gateway(config)
    try:
        yield gateway
    finally:
        await gateway.aclose()


def reporting(infra: Infrastructure, gateway: Gateway | None) -> contextlib.AbstractAsyncContextManager[None]:
    """The provider reports of a process that runs the process managers (`gateway`: theirs), for the
    API's operations route; None: no managers here, nothing to report."""
    status = gateway.status if gateway is not None else None
    return reporting_providers(infra.redis.client, infra.store.keys, status, infra.notes)


async def until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if early_stop.requested():
        stop.set()
    await stop.wait()


async def demo(settings: Settings, args: argparse.Namespace) -> int:
    """The README's conversation through the main job, auto-approved, every step checked."""
    async with (
        open_infrastructure(settings) as infra,
        open_pool(infra) as pool,
        open_gateway(infra.notes) as gateway,
        reporting(infra, gateway),
    ):
        print_notes(infra)
        runtime = runtime_for(infra, pool, gateway, poll_ms=20, auto_approve=True)
        errors = ErrorCount()
        logging.getLogger("handlers").addHandler(errors)
        await runtime.start()
        try:
            played = await play(infra, runtime, DEMO, expect_approval=True)
            await deploy_demo(infra, runtime, played, demo_credentials=args.demo_credentials)
            played.check(await runtime.wait_caught_up(timeout_s=WAIT_S), "every consumer group caught up")
        finally:
            await runtime.stop()
            logging.getLogger("handlers").removeHandler(errors)
        await check_read_side(infra, pool, played)
        played.check(errors.count == 0, f"errors logged by the handlers: {errors.count}")
        for line in played.lines:
            print(f"  {line}")
        print("demo: OK" if played.ok else "demo: FAILED")
        return 0 if played.ok else 1


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """`make run`: embedded servers when no URLs, migrations, then the handlers and the API in processes
    of their own (all in this one with AIWF_API_PROCESSES=0), until Ctrl-C."""
    plan = plan_for(os.cpu_count() or 1, settings.api_processes, settings.worker_processes)
    if plan.single:
        return await _run_in_one_process(settings, args)
    return await _run_supervised(settings, args, plan)


async def _run_supervised(settings: Settings, args: argparse.Namespace, plan: ProcessPlan) -> int:
    port = args.port or settings.port
    async with (
        open_infrastructure(settings) as infra,
        open_pool(infra) as pool,
        open_gateway(infra.notes) as gateway,
    ):
        infra.notes.append(
            f"processes: {plan.api} API, {plan.workers} projectors and {plan.workers} agents"
            " (AIWF_API_PROCESSES, AIWF_WORKER_PROCESSES)"
        )
        print_notes(infra)
        key = await _dev_key(settings, pool)
        try:
            sock = listening_socket(settings.host, port)
        except OSError as exc:
            raise StartupError(f"{exc.strerror}: set AIWF_PORT or --port to a free port") from None
        with sock:
            supervisor = Supervisor(_children(plan, sock.fileno()), _child_env(infra, port))
            try:
                await supervisor.start()
                probe = runtime_for(infra, pool, gateway)  # not started: its lag covers every group
                base_url = f"http://{settings.host}:{port}"
                await _first_conversation(infra, pool, probe, base_url)
                await _until_serving(settings.host, port)
                _print_serving(settings.host, port, key)
                await until_signalled()
            finally:
                codes = await supervisor.stop()
        failed = {name: code for name, code in codes.items() if code != 0}
        if failed:
            print(f"aiwf run: processes that did not stop cleanly: {failed}", file=sys.stderr)
    return 0


def _children(plan: ProcessPlan, listen_fd: int) -> list[ChildSpec]:
    cli = (sys.executable, "-m", "infra.cli")
    parent = ("--supervisor-pid", str(os.getpid()))
    apis = [
        ChildSpec(
            name=f"api-{i}", argv=(*cli, "api", "--listen-fd", str(listen_fd), *parent), pass_fds=(listen_fd,)
        )
        for i in range(1, plan.api + 1)
    ]
    # Projectors and agents apart: the agents' planning and model calls must not hold up the read models
    # that every read-your-writes waits for; the kernel shares the cores between the two.
    workers = [
        ChildSpec(name=f"{handlers}-{i}", argv=(*cli, "worker", "--handlers", handlers, *parent))
        for i in range(1, plan.workers + 1)
        for handlers in ("projectors", "managers")
    ]
    return workers + apis


def _child_env(infra: Infrastructure, port: int) -> dict[str, str]:
    """Ours, with the servers this process found or started, and the port events name in `dataschema`."""
    return {
        **os.environ,
        "REDIS_URL": infra.redis_url,
        "DATABASE_URL": infra.database_url,
        "AIWF_PORT": str(port),
    }


async def _until_serving(host: str, port: int, timeout_s: float = 60.0) -> None:
    """Until an API process answers on the shared socket (any of them: they all accept on it)."""
    target = "127.0.0.1" if host in {"", "0.0.0.0"} else "::1" if host == "::" else host  # noqa: S104
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection(target, port)
            writer.write(b"GET /health/live HTTP/1.1\r\nHost: aiwf\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if status.startswith(b"HTTP/1.1 200"):
                return
        await asyncio.sleep(0.1)
    raise StartupError(
        f"no API process answered on port {port} within {timeout_s:.0f} s (see the errors above)"
    )


async def _run_in_one_process(settings: Settings, args: argparse.Namespace) -> int:
    async with (
        open_infrastructure(settings) as infra,
        open_pool(infra) as pool,
        open_gateway(infra.notes) as gateway,
        checkpointing(infra.store, pool, infra.keyring, settings.checkpoint_interval_s, infra.notes),
        reporting(infra, gateway),
    ):
        print_notes(infra)
        runtime = runtime_for(infra, pool, gateway)
        await runtime.start()
        try:
            key = await _dev_key(settings, pool)
            port = args.port or settings.port
            await _first_conversation(infra, pool, runtime, f"http://{settings.host}:{port}")
            await _serve(settings, infra, pool=pool, port=port, lag=runtime.lag, dev_key=key)
        finally:
            await runtime.stop()
    return 0


async def _first_conversation(
    infra: Infrastructure, pool: asyncpg.Pool, runtime: HandlerRuntime, base_url: str
) -> None:
    """On an empty store, the demo conversation is played once for tenant `dev`: something to look at."""
    if await pool.fetchval("SELECT count(*) FROM conversations WHERE tenant = 'dev'"):
        return
    played = await play(infra, runtime, "dev", expect_approval=infra.settings.auto_approve)
    print("aiwf: the demo conversation, played once on this empty store:")
    for line in played.lines:
        print(f"  {line}")
    print(f"  open: {base_url}/v1/conversations/{played.conversation_id}/messages")
    print(f"        {base_url}/v1/conversations/{played.conversation_id}/agent-state")
    if played.workflow_id:
        print(f"        {base_url}/v1/workflows/{played.workflow_id}")
        print(f"  approve it: POST {base_url}/v1/workflows/{played.workflow_id}/approve")


async def api(settings: Settings, args: argparse.Namespace) -> int:
    """The API alone (scale it apart from the workers); `aiwf run` starts it on a socket of its own."""
    supervised = _supervised(args)
    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
        if not supervised:
            print_notes(infra)
        probe = runtime_for(infra, pool)  # not started: only asked for lag
        sock = socket.socket(fileno=args.listen_fd) if args.listen_fd is not None else None
        await _serve(
            settings,
            infra,
            pool=pool,
            port=args.port or settings.port,
            lag=probe.lag,
            sock=sock,
            quiet=supervised,
        )
    return 0


def _supervised(args: argparse.Namespace) -> bool:
    """Started by `aiwf run`: it stops with it, and leaves the talking to it."""
    pid: int | None = getattr(args, "supervisor_pid", None)
    if pid is not None:
        follow_parent(pid)
    return pid is not None


async def _serve(
    settings: Settings,
    infra: Infrastructure,
    *,
    pool: asyncpg.Pool,
    port: int,
    lag: Any,
    dev_key: str | None = None,
    sock: socket.socket | None = None,
    quiet: bool = False,
) -> None:
    from api.deps import Limits  # noqa: PLC0415 - keeps `aiwf --help` fast
    from api.server import api_services, server  # noqa: PLC0415

    limits = Limits(
        read_wait_s=settings.read_wait_ms / 1000,
        max_body_bytes=settings.max_body_bytes,
        rate_per_s=settings.rate_per_s,
        burst=settings.rate_burst,
        address_rate_per_s=settings.address_rate_per_s,
        address_burst=settings.address_burst,
        idempotency_ttl_s=settings.idempotency_ttl_s,
        checkpoint_interval_s=settings.checkpoint_interval_s,
    )
    async with api_services(
        infra.store, pool, infra.database_url, limits, lag, n8n=infra.n8n, keyring=infra.keyring
    ) as deps:
        api = server(deps, infra.redis_url, settings.host, port)
        settle_heap()
        if not quiet:
            _print_serving(settings.host, port, dev_key)
        early_stop.hand_over()
        if not early_stop.requested():
            await api.serve(sockets=[sock] if sock is not None else None)


def _print_serving(host: str, port: int, dev_key: str | None) -> None:
    print(f"aiwf: serving on http://{host}:{port} (OpenAPI /schema, AsyncAPI /asyncapi.json)", flush=True)
    print(f"aiwf: the web app: http://{host}:{port}/ (sign in with an API key)", flush=True)
    if dev_key:
        print(f"aiwf: dev API key (tenant dev, role admin): {dev_key}", flush=True)
        print(
            f"      curl -H 'Authorization: Bearer {dev_key}' http://{host}:{port}/v1/conversations",
            flush=True,
        )


async def _dev_key(settings: Settings, pool: asyncpg.Pool) -> str:
    """One admin key for tenant `dev`, kept in the data folder so every `make run` prints the same one."""
    from infra.api_keys import authenticate, create_key  # noqa: PLC0415

    path = settings.data_dir / "dev-api-key"
    if path.exists() and await authenticate(pool, path.read_text().strip()) is not None:
        return path.read_text().strip()
    key, _ = await create_key(pool, "dev", "admin", label="make run")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


async def migrate_db(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_infrastructure(settings) as infra, open_pool(infra):
        print("migrate: up to date")
    return 0


async def worker(settings: Settings, args: argparse.Namespace) -> int:
    supervised = _supervised(args)
    managers = args.handlers in ("all", "managers")
    async with (
        open_infrastructure(settings) as infra,
        open_pool(infra) as pool,
        open_gateway(infra.notes) as gateway,
        checkpointing(infra.store, pool, infra.keyring, settings.checkpoint_interval_s, infra.notes),
        reporting(infra, gateway if managers else None),
    ):
        if not supervised:
            print_notes(infra)
        managed = gateway if managers else None
        runtime = runtime_for(infra, pool, managed, projectors=args.handlers in ("all", "projectors"))
        await runtime.start()
        settle_heap()
        if not supervised:
            print(f"aiwf worker: {len(runtime.workers)} partition workers as {runtime.consumer}", flush=True)
        try:
            await until_signalled()
        finally:
            await runtime.stop()
    return 0

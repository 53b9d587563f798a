"""The `aiwf` command: the composition root, the one place that wires every layer together."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from domain.types import AgentRole
from handlers.app import HandlerRuntime
from handlers.rebuild import replay
from infra.embedded import EmbeddedError
from infra.observability import configure_logging
from infra.postgres import create_pool, migrate
from infra.runtime import Infrastructure, StartupError, open_infrastructure
from infra.settings import Settings, SettingsError, documented_variables, load_settings
from projections.catalog import PROJECTORS, projector_named

log = logging.getLogger("aiwf")

_PROVIDERS_HELP = """providers (docs/inference.md):
  cloud:   ANTHROPIC_API_KEY [ANTHROPIC_BASE_URL] [AIWF_ANTHROPIC_MODEL]
  local:   pip install '.[local]'  (vLLM, needs a GPU), then
           vllm serve <model> --host 127.0.0.1 --port 8000 [--api-key K]
           AIWF_VLLM_URL=http://127.0.0.1:8000 [AIWF_VLLM_API_KEY] [AIWF_VLLM_MODEL]
  neither: the offline planner (deterministic, no network) answers everything.
  sensitive data (CCP, RIP, RIB, NIF/NIS/RC, invoices) only ever goes to the local model, else is refused."""


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
    _configure_logging(settings)
    if getattr(args, "offline", False):  # needs no server: no event loop, no embedded start
        return int(args.command(settings, args))
    try:
        code: int = _run_loop(args.command(settings, args))
    except (StartupError, EmbeddedError) as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _run_loop(main: Any) -> Any:
    """uvloop where it is installed (Linux, macOS): a faster event loop for the API and the workers."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, json_logs=settings.json_logs)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiwf",
        description="AI Workflow Platform. Settings come from the environment: "
        + ", ".join(documented_variables()),
    )
    commands = parser.add_subparsers(title="commands")
    _platform_commands(commands)
    _data_commands(commands)
    _operator_commands(commands)
    return parser


def _platform_commands(commands: Any) -> None:
    """run, demo, audit."""
    run = commands.add_parser("run", help="start the platform and serve it until Ctrl-C")
    run.add_argument("--port", type=int, help="HTTP port (default AIWF_PORT or 8080)")
    run.set_defaults(command=_run)
    demo = commands.add_parser("demo", help="run the main job once, end to end, and print a summary")
    demo.set_defaults(command=_demo)
    audit = commands.add_parser("audit", help="audit the event log").add_subparsers(title="audit commands")
    verify = audit.add_parser("verify", help="check every hash chain, version and log copy")
    verify.add_argument("--allow-foreign", action="store_true", help="report foreign log entries, don't fail")
    verify.set_defaults(command=_audit_verify)


def _data_commands(commands: Any) -> None:
    """migrate, worker, api, keys, events, projections."""
    migrate_cmd = commands.add_parser("migrate", help="apply the PostgreSQL migrations that are missing")
    migrate_cmd.set_defaults(command=_migrate)
    worker = commands.add_parser("worker", help="run the projectors (and handlers) until Ctrl-C / SIGTERM")
    worker.set_defaults(command=_worker)
    api = commands.add_parser("api", help="serve the HTTP API only (run workers apart with `aiwf worker`)")
    api.add_argument("--port", type=int, help="HTTP port (default AIWF_PORT or 8080)")
    api.set_defaults(command=_api)
    keys = commands.add_parser("keys", help="API keys: create, list, revoke").add_subparsers(
        title="keys commands"
    )
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--tenant", required=True, help="tenant id: lower-case letters, digits, '-', '_'")
    create.add_argument("--role", required=True, choices=["member", "auditor", "admin"])
    create.add_argument("--label", default="", help="a note to recognise the key by")
    create.set_defaults(command=_keys, action="create")
    listing = keys.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", help="only this tenant")
    listing.set_defaults(command=_keys, action="list")
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(command=_keys, action="revoke")
    events = commands.add_parser("events", help="the event log").add_subparsers(title="events commands")
    tail = events.add_parser("tail", help="print events as JSON lines as they are appended")
    tail.add_argument("--type", action="append", help="only this event type (repeatable)")
    tail.add_argument("--tenant", help="only this tenant")
    tail.add_argument("--from-start", action="store_true", help="begin with the first event of the log")
    tail.add_argument("--once", action="store_true", help="stop when caught up instead of following")
    tail.set_defaults(command=_events_tail)


def _operator_commands(commands: Any) -> None:
    """privacy scan, infer."""
    privacy = commands.add_parser("privacy", help="the privacy classifier").add_subparsers(
        title="privacy commands"
    )
    scan = privacy.add_parser("scan", help="classify a text and print every finding as JSON")
    scan.add_argument("text", nargs="?", default="-", help="the text, or - (default) to read standard input")
    scan.set_defaults(command=_privacy_scan, offline=True)
    infer = commands.add_parser(
        "infer",
        help="one call through the LLM gateway, recorded as an event",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_PROVIDERS_HELP,
    )
    infer.add_argument(
        "--purpose", required=True, choices=[r.value for r in AgentRole], help="the agent role"
    )
    infer.add_argument(
        "text", nargs="?", default="-", help="the user message, or - (default) for standard input"
    )
    infer.add_argument(
        "--conversation", help="record the decision on this conversation (default: its own stream)"
    )
    infer.set_defaults(command=_infer)
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
    """`make run`: embedded servers when no URLs, migrations, projectors and the API, until Ctrl-C."""
    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        _print_notes(infra)
        runtime = _runtime(infra, pool)
        await runtime.start()
        try:
            key = await _dev_key(settings, pool)
            await _serve(
                settings, infra, pool=pool, port=args.port or settings.port, lag=runtime.lag, dev_key=key
            )
        finally:
            await runtime.stop()
    return 0


async def _api(settings: Settings, args: argparse.Namespace) -> int:
    """The API alone (scale it apart from the workers)."""
    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        _print_notes(infra)
        probe = _runtime(infra, pool)  # not started: only asked for lag
        await _serve(settings, infra, pool=pool, port=args.port or settings.port, lag=probe.lag)
    return 0


async def _serve(
    settings: Settings,
    infra: Infrastructure,
    *,
    pool: asyncpg.Pool,
    port: int,
    lag: Any,
    dev_key: str | None = None,
) -> None:
    from api.deps import Limits  # noqa: PLC0415 - keeps `aiwf --help` fast
    from api.server import api_services, server  # noqa: PLC0415

    limits = Limits(
        read_wait_s=settings.read_wait_ms / 1000,
        max_body_bytes=settings.max_body_bytes,
        rate_per_s=settings.rate_per_s,
        burst=settings.rate_burst,
    )
    async with api_services(infra.store, pool, infra.database_url, limits, lag) as deps:
        api = server(deps, infra.redis_url, settings.host, port)
        print(
            f"aiwf: serving on http://{settings.host}:{port} (OpenAPI /schema, AsyncAPI /asyncapi.json)",
            flush=True,
        )
        if dev_key:
            print(f"aiwf: dev API key (tenant dev, role admin): {dev_key}", flush=True)
            print(
                f"      curl -H 'Authorization: Bearer {dev_key}' http://{settings.host}:{port}/v1/conversations",
                flush=True,
            )
        await api.serve()


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


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from infra.api_keys import KeyError_, create_key, list_keys, revoke_key  # noqa: PLC0415

    async with open_infrastructure(settings) as infra, _pool(infra) as pool:
        if args.action == "create":
            try:
                key, principal = await create_key(pool, args.tenant, args.role, args.label)
            except KeyError_ as exc:
                print(f"aiwf: {exc}", file=sys.stderr)
                return 2
            print(f"key_id {principal.key_id}  tenant {principal.tenant}  role {principal.role}")
            print(key)
            print("(shown once: store it now)", file=sys.stderr)
        elif args.action == "list":
            for info in await list_keys(pool, args.tenant):
                state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
                print(f"{info.key_id}  {info.tenant:<20} {info.role:<8} {state:<18} {info.label}")
        elif not await revoke_key(pool, args.key_id):
            print(f"aiwf: no active key {args.key_id!r}", file=sys.stderr)
            return 1
    return 0


async def _events_tail(settings: Settings, args: argparse.Namespace) -> int:
    """Print events as JSON lines as they are appended (optionally from the start), filtered by type."""
    from domain.chain import parse_document  # noqa: PLC0415

    async with open_infrastructure(settings) as infra:
        store = infra.store
        positions = {
            k.partition: "0-0" if args.from_start else await store.log_end(k.partition)
            for k in store.keys.all_partitions()
        }
        while True:
            quiet = True
            for partition, after in positions.items():
                for entry in await store.read_log(partition, after=after):
                    positions[partition] = entry.log_id
                    document = parse_document(entry.raw or b"") or {}
                    if args.type and document.get("type") not in args.type:
                        continue
                    if args.tenant and document.get("tenant") != args.tenant:
                        continue
                    print((entry.raw or b"").decode(), flush=True)
                    quiet = False
            if quiet:
                if args.once:
                    return 0
                await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.database_url)
    try:
        for name in await migrate(pool):
            print(f"  migrated: {name}", file=sys.stderr)
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


def _read_text(arg: str) -> str:
    return sys.stdin.read() if arg == "-" else arg


def _privacy_scan(_settings: Settings, args: argparse.Namespace) -> int:
    from inference.operator import privacy_scan  # noqa: PLC0415

    sys.stdout.write(privacy_scan(_read_text(args.text)).decode() + "\n")
    return 0


async def _infer(settings: Settings, args: argparse.Namespace) -> int:
    from domain.envelope import EventOrigin, NewEvent  # noqa: PLC0415
    from domain.ids import uuid7  # noqa: PLC0415
    from inference.config import build_gateway, gateway_config_from_env  # noqa: PLC0415
    from inference.operator import infer_once  # noqa: PLC0415

    try:
        config = gateway_config_from_env(os.environ)
    except ValueError as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    text, inference_id, now = _read_text(args.text), uuid7(), datetime.now(UTC)
    gateway = build_gateway(config)
    try:
        outcome = await infer_once(gateway, AgentRole(args.purpose), text, now, inference_id)
    finally:
        await gateway.aclose()
    stream = f"conversation-{args.conversation}" if args.conversation else f"inference-{inference_id}"
    async with open_infrastructure(settings) as infra:
        head = await infra.store.head(stream)
        event = NewEvent(data=outcome.event, id=inference_id, time=now, correlationid=args.conversation)
        await infra.store.append(
            stream, [event], head.version, EventOrigin(tenant="operator", source="aiwf://cli")
        )
    decision = msgspec.to_builtins(outcome.event)
    decision.pop("output", None)
    print(json.dumps({"stream": stream, "decision": decision}, ensure_ascii=False, indent=2))
    if outcome.output is not None:
        print(json.dumps(msgspec.json.decode(outcome.output), ensure_ascii=False, indent=2))
    return 0 if outcome.output is not None else 1


if __name__ == "__main__":
    sys.exit(main())

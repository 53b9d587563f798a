"""The `aiwf` command: the composition root, the one place that wires every layer together.

`__init__` parses and dispatches; `serving` starts the platform (run, api, worker, demo, migrate);
`operations` holds the operator's commands (keys, events, projections, privacy, infer); `audit_commands`
the audit's (verify, checkpoint).
"""

from __future__ import annotations

from infra.cli import early_stop  # first: it takes SIGTERM over while the rest loads

# isort: split
import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from domain.tenancy import OPERATOR
from domain.types import AgentRole
from infra import event_loop
from infra.cli import audit_commands, consumers, key_commands, operations, sboms, serving, workflow_commands
from infra.cli import eval as corpus_eval
from infra.embedded import EmbeddedError
from infra.observability import configure_logging
from infra.runtime import StartupError
from infra.settings import Settings, SettingsError, documented_variables, load_settings
from infra.tracing import TracingRefused, configure_tracing
from projections.catalog import PROJECTORS

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
    try:
        configure_tracing(_service_of(args))
    except TracingRefused as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "offline", False):  # needs no server: no event loop, no embedded start
        return int(args.command(settings, args))
    try:
        code: int = event_loop.run(early_stop.until_handed_over(args.command(settings, args)))
    except (StartupError, EmbeddedError) as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _service_of(args: argparse.Namespace) -> str:
    """What the traces of this process are named after: its command, and the handlers a worker runs."""
    name = str(getattr(args.command, "__name__", "cli"))
    handlers = getattr(args, "handlers", None)
    return f"{name}-{handlers}" if name == "worker" and handlers else name


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, json_logs=settings.json_logs)
    # One line per HTTP request to n8n or a model: the callers log what matters (operation, outcome).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
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
    _consumer_commands(commands)
    return parser


def _platform_commands(commands: Any) -> None:
    """run, demo, eval, audit."""
    run = commands.add_parser("run", help="start the platform and serve it until Ctrl-C")
    run.add_argument("--port", type=int, help="HTTP port (default AIWF_PORT or 8080)")
    run.set_defaults(command=serving.run)
    demo = commands.add_parser("demo", help="run the main job once, end to end, and print a summary")
    demo.add_argument(
        "--demo-credentials",
        action="store_true",
        help="with an n8n configured: connect dummy credentials of the types the workflow lacks",
    )
    demo.set_defaults(command=serving.demo)
    evaluation = commands.add_parser("eval", help="play the corpus of requests through the main job, scored")
    evaluation.add_argument("--corpus", help="the corpus JSON (default tests/corpus/main_job.json)")
    evaluation.set_defaults(command=corpus_eval.run)
    audit = commands.add_parser("audit", help="audit the event log").add_subparsers(title="audit commands")
    verify = audit.add_parser(
        "verify", help="check every hash chain, version, log copy, and the signed Merkle checkpoints"
    )
    verify.add_argument("--allow-foreign", action="store_true", help="report foreign log entries, don't fail")
    verify.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="processes verifying partitions at once (default: one per core for a large log, else 1)",
    )
    verify.set_defaults(command=audit_commands.verify)
    checkpoint = audit.add_parser(
        "checkpoint", help="sign a Merkle checkpoint of every partition log that grew since its last one"
    )
    checkpoint.add_argument(
        "--rebuild-proofs",
        action="store_true",
        help="sign nothing: write the proof store (Redis) again from the logs, up to each latest checkpoint",
    )
    checkpoint.set_defaults(command=audit_commands.checkpoint)


def _data_commands(commands: Any) -> None:
    """migrate, worker, api, keys, events, projections."""
    migrate_cmd = commands.add_parser("migrate", help="apply the PostgreSQL migrations that are missing")
    migrate_cmd.set_defaults(command=serving.migrate_db)
    worker = commands.add_parser("worker", help="run the projectors and agents until Ctrl-C / SIGTERM")
    worker.add_argument(
        "--handlers",
        choices=["all", "projectors", "managers"],
        default="all",
        help="only the read-model projectors, or only the main job's agents (default: both)",
    )
    worker.add_argument("--supervisor-pid", type=int, help=argparse.SUPPRESS)
    worker.set_defaults(command=serving.worker)
    api = commands.add_parser("api", help="serve the HTTP API only (run workers apart with `aiwf worker`)")
    api.add_argument("--port", type=int, help="HTTP port (default AIWF_PORT or 8080)")
    # `aiwf run`'s own: the socket it bound for every API process, and its pid (they stop with it).
    api.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    api.add_argument("--supervisor-pid", type=int, help=argparse.SUPPRESS)
    api.set_defaults(command=serving.api)
    keys = commands.add_parser("keys", help="API keys: create, list, revoke").add_subparsers(
        title="keys commands"
    )
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--tenant", required=True, help="tenant id: lower-case letters, digits, '-', '_'")
    create.add_argument("--role", required=True, choices=["member", "auditor", "admin"])
    create.add_argument("--label", default="", help="a note to recognise the key by")
    create.set_defaults(command=operations.keys, action="create")
    listing = keys.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", help="only this tenant")
    listing.set_defaults(command=operations.keys, action="list")
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(command=operations.keys, action="revoke")
    rotate = keys.add_parser(
        "rotate", help="encryption keys: a new master version in the keyring, every data key re-wrapped"
    )
    rotate.set_defaults(command=key_commands.rotate)
    events = commands.add_parser("events", help="the event log").add_subparsers(title="events commands")
    tail = events.add_parser("tail", help="print events as JSON lines as they are appended")
    tail.add_argument("--type", action="append", help="only this event type (repeatable)")
    tail.add_argument("--tenant", help="only this tenant")
    tail.add_argument("--from-start", action="store_true", help="begin with the first event of the log")
    tail.add_argument("--once", action="store_true", help="stop when caught up instead of following")
    tail.set_defaults(command=operations.events_tail)
    sbom = commands.add_parser("sbom", help="print the CycloneDX 1.6 SBOM of a workflow revision")
    sbom.add_argument("workflow_id")
    sbom.add_argument("--tenant", required=True, help="the workflow's tenant (every read is scoped to one)")
    sbom.add_argument("--revision", type=int, help="a revision (default: the current one)")
    sbom.set_defaults(command=sboms.show)


def _operator_commands(commands: Any) -> None:
    """privacy scan, workflows validate, infer."""
    privacy = commands.add_parser("privacy", help="the privacy classifier").add_subparsers(
        title="privacy commands"
    )
    scan = privacy.add_parser("scan", help="classify a text and print every finding as JSON")
    scan.add_argument("text", nargs="?", default="-", help="the text, or - (default) to read standard input")
    scan.set_defaults(command=operations.privacy_scan, offline=True)
    workflows = commands.add_parser("workflows", help="n8n workflow documents").add_subparsers(
        title="workflows commands"
    )
    check = workflows.add_parser(
        "validate", help="check an n8n workflow's JSON and print the problems as JSON"
    )
    check.add_argument("file", metavar="FILE", help="the workflow JSON file, or - for standard input")
    check.set_defaults(command=workflow_commands.validate_file, offline=True)
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
        "--conversation",
        help="record the decision on this conversation, which must exist and be --tenant's "
        "(default: a stream of its own)",
    )
    infer.add_argument(
        "--tenant",
        default=OPERATOR,
        help=f"the tenant the decision is recorded for (default: {OPERATOR}, the operator's own)",
    )
    infer.set_defaults(command=operations.infer)
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
        cmd.set_defaults(command=operations.projections_replay, mode=name)
    status = sub.add_parser("status", help="checkpoints and consumer-group lag per projector and partition")
    status.set_defaults(command=operations.projections_status)


def _consumer_commands(commands: Any) -> None:
    """consumers create, list, revoke (docs/consumers.md)."""
    group = commands.add_parser("consumers", help="Redis users for external consumers of the partition logs")
    sub = group.add_subparsers(title="consumers commands")
    create = sub.add_parser(
        "create", help="a user that may only read the logs with its own group; prints its URL"
    )
    create.add_argument(
        "name", metavar="NAME", help="1-40 lower-case letters, digits, '-', '_'; also its group"
    )
    start = create.add_mutually_exclusive_group()
    start.add_argument(
        "--from-start", action="store_true", help="its group starts at the first entry (default)"
    )
    start.add_argument("--from-now", action="store_true", help="its group starts after the last entry")
    create.set_defaults(command=consumers.create)
    sub.add_parser("list", help="each consumer, enabled or not, lag and pending per partition").set_defaults(
        command=consumers.list_all
    )
    revoke = sub.add_parser("revoke", help="delete the user (closing its connections) and its groups")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(command=consumers.revoke)


def _projector_names() -> str:
    return ", ".join(spec.name for spec in PROJECTORS)

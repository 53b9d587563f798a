"""The operator's commands: keys, events, projections, privacy scan, infer (the audit's: audit_commands)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from commands.conversations import stream_of as conversation_stream
from domain.types import AgentRole
from handlers.projector import group_of
from handlers.rebuild import replay
from infra.cli.serving import open_pool, runtime_for
from infra.collector import settle_heap
from infra.event_store import RedisEventStore
from infra.runtime import open_infrastructure
from infra.settings import Settings
from projections.catalog import PROJECTORS, projector_named


async def keys(settings: Settings, args: argparse.Namespace) -> int:
    from infra.api_keys import KeyError_, create_key, list_keys, revoke_key  # noqa: PLC0415

    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
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


async def events_tail(settings: Settings, args: argparse.Namespace) -> int:
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


async def projections_replay(settings: Settings, args: argparse.Namespace) -> int:
    try:
        specs = [projector_named(n) for n in args.names] or list(PROJECTORS)
    except KeyError as exc:
        print(f"aiwf: {exc.args[0]}", file=sys.stderr)
        return 2
    failed = False
    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
        settle_heap()
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


async def projections_status(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
        rows = await pool.fetch("SELECT * FROM projection_checkpoints ORDER BY projection, partition")
        lag = {(g.group, g.partition): g for g in await runtime_for(infra, pool).lag()}
    print(f"{'projector':<20} {'part':>4} {'position':<22} {'events':>10} {'lag':>6} {'pending':>7}")
    for row in rows:
        group = lag.get((group_of(row["projection"]), row["partition"]))
        behind = "?" if group is None or group.lag is None else str(group.lag)
        pending = "?" if group is None else str(group.pending)
        where = f"{row['projection']:<20} {row['partition']:>4} {row['position']:<22}"
        print(f"{where} {row['events']:>10} {behind:>6} {pending:>7}")
    return 0


def _read_text(arg: str) -> str:
    return sys.stdin.read() if arg == "-" else arg


def privacy_scan(_settings: Settings, args: argparse.Namespace) -> int:
    from inference.operator import privacy_scan  # noqa: PLC0415

    sys.stdout.write(privacy_scan(_read_text(args.text)).decode() + "\n")
    return 0


async def infer(settings: Settings, args: argparse.Namespace) -> int:
    from domain.conversation import operator_stream_of  # noqa: PLC0415
    from domain.envelope import EventOrigin, NewEvent  # noqa: PLC0415
    from domain.ids import uuid7  # noqa: PLC0415
    from inference.config import build_gateway, gateway_config_from_env, gateway_notes  # noqa: PLC0415
    from inference.operator import infer_once  # noqa: PLC0415

    try:
        config = gateway_config_from_env(os.environ)
    except ValueError as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    for note in gateway_notes(config):
        print(f"  {note}", file=sys.stderr)
    text, inference_id, now = _read_text(args.text), uuid7(), datetime.now(UTC)
    stream = conversation_stream(args.conversation) if args.conversation else operator_stream_of(inference_id)
    async with open_infrastructure(settings) as infra:
        refusal = await _refuse_conversation(infra.store, args) if args.conversation else None
        if refusal is not None:  # before the model call: a refused record must not cost one
            print(f"aiwf: {refusal}", file=sys.stderr)
            return 1
        gateway = build_gateway(config)
        try:
            outcome = await infer_once(gateway, AgentRole(args.purpose), text, now, inference_id)
        finally:
            await gateway.aclose()
        head = await infra.store.head(stream)
        event = NewEvent(data=outcome.event, id=inference_id, time=now, correlationid=args.conversation)
        await infra.store.append(
            stream, [event], head.version, EventOrigin(tenant=args.tenant, source="aiwf://cli")
        )
    decision = msgspec.to_builtins(outcome.event)
    decision.pop("output", None)
    print(json.dumps({"stream": stream, "decision": decision}, ensure_ascii=False, indent=2))
    if outcome.output is not None:
        print(json.dumps(msgspec.json.decode(outcome.output), ensure_ascii=False, indent=2))
    return 0 if outcome.output is not None else 1


async def _refuse_conversation(store: RedisEventStore, args: argparse.Namespace) -> str | None:
    """Why the decision may not be recorded on `--conversation`, or None: it must exist and be the
    tenant's (the store would refuse another tenant's too, but only after the model call)."""
    owner = await store.tenant_of(conversation_stream(args.conversation))
    if owner is None:
        return f"no conversation {args.conversation!r}"
    if owner != args.tenant:
        return (
            f"conversation {args.conversation!r} is not tenant {args.tenant!r}'s; "
            "name its tenant with --tenant"
        )
    return None

"""`aiwf audit verify` and `aiwf audit checkpoint` (docs/audit.md)."""

from __future__ import annotations

import argparse
import sys
import time

from infra.audit import AuditReport, verify_store
from infra.audit_jobs import jobs_for, log_entries, verify_in_processes
from infra.checkpoints import Checkpointer, latest_checkpoints, list_checkpoints
from infra.cli.serving import open_pool
from infra.crypto.signing import Verifier
from infra.runtime import open_infrastructure
from infra.settings import Settings


async def verify(settings: Settings, args: argparse.Namespace) -> int:
    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
        started = time.perf_counter()
        store = infra.store
        checkpoints = await list_checkpoints(pool, store.keys.prefix)  # before the log is read
        verifier = Verifier.of(infra.keyring) if infra.keyring is not None else None
        jobs = jobs_for(store.keys.partitions, await log_entries(store), args.jobs)
        if jobs > 1:
            report = await verify_in_processes(infra.redis_url, store.keys, checkpoints, verifier, jobs)
        else:
            report = await verify_store(store, checkpoints=checkpoints, verifier=verifier)
        seconds = time.perf_counter() - started
    return _print_report(report, seconds, allow_foreign=args.allow_foreign, signed=verifier is not None)


def _print_report(report: AuditReport, seconds: float, *, allow_foreign: bool, signed: bool) -> int:
    problems = report.problems + ([] if allow_foreign else report.foreign)
    checked = "signatures and roots" if signed else "roots only, no keyring"
    print(
        f"audit: {report.streams} streams, {report.events} events, {report.log_entries} log entries, "
        f"{report.checkpoints} checkpoints ({checked}) in {seconds:.2f}s "
        f"({report.events / max(seconds, 1e-9):,.0f} events/s); "
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


async def checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    """Sign a checkpoint of every partition log that grew since its last one."""
    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
        if infra.keyring is None:
            print("aiwf: no keyring to sign with (AIWF_KEYRING)", file=sys.stderr)
            return 2
        checkpointer = Checkpointer(infra.store, pool, infra.keyring)
        if args.rebuild_proofs:
            return await _rebuild_proofs(checkpointer, infra.store.keys.partitions)
        made = await checkpointer.checkpoint_all()
        latest = await latest_checkpoints(pool, infra.store.keys.prefix)
    for record in made:
        signer = f"{record.signature.algorithm} key v{record.signature.key_version}"
        root = record.checkpoint.root.hex()
        print(f"checkpoint: partition {record.partition} at size {record.size} (root {root}, {signer})")
    covered = sum(record.size for record in latest)
    print(f"audit checkpoint: {len(made)} made; {len(latest)} partitions covered, {covered} log entries")
    return 0


async def _rebuild_proofs(checkpointer: Checkpointer, partitions: int) -> int:
    failed = False
    for partition in range(partitions):
        holds = await checkpointer.rebuild_proofs(partition)
        state = {None: "no checkpoint yet", True: "rebuilt", False: "REBUILT, BUT THE LOG NO LONGER MATCHES"}
        print(f"proof store: partition {partition}: {state[holds]}")
        failed = failed or holds is False
    if failed:
        print("aiwf: the log differs from what was signed: run `aiwf audit verify`", file=sys.stderr)
    return 1 if failed else 0

"""`aiwf audit verify`: every aggregate stream's chain, its head, and its agreement with the log.

Both copies of every event must be byte-identical: the aggregate copy (reached by version) and the
partition log copy (reached through the id index). Entries in a log that are not ours are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from domain.chain import ChainCursor, ChainProblem, check_entry, check_head, parse_document
from infra.event_store import READ_CHUNK, Head, LogEntry, RedisEventStore
from infra.keys import PartitionKeys
from infra.redis_cmds import StreamEntry, xrange
from infra.redis_conn import AnyRedis


class AuditReport(msgspec.Struct, kw_only=True):
    streams: int = 0
    events: int = 0
    log_entries: int = 0
    problems: list[ChainProblem] = msgspec.field(default_factory=list)
    foreign: list[ChainProblem] = msgspec.field(default_factory=list)


async def verify_store(store: RedisEventStore, client: AnyRedis) -> AuditReport:
    report = AuditReport()
    for keys in store.keys.all_partitions():
        heads = await store.streams(keys.partition)
        for stream, head in sorted(heads.items()):
            await _verify_stream(client, keys, stream, head, report)
        await _verify_log(store, client, keys, heads, report)
    return report


async def _verify_stream(
    client: AnyRedis, keys: PartitionKeys, stream: str, head: Head, report: AuditReport
) -> None:
    report.streams += 1
    cursor = ChainCursor(stream=stream)
    start = "-"
    while True:
        entries = await xrange(client, keys.stream(stream), start, count=READ_CHUNK)
        for entry_id, fields in entries:
            version = int(entry_id.split(b"-")[0])
            cursor, problems = check_entry(cursor, version, fields.get(b"event", b""))
            report.problems += problems
        report.events += len(entries)
        await _check_in_log(client, keys, stream, entries, report)
        if len(entries) < READ_CHUNK:
            break
        start = "(" + entries[-1][0].decode()
    report.problems += check_head(cursor, head.version, head.hash)


async def _check_in_log(
    client: AnyRedis, keys: PartitionKeys, stream: str, entries: Sequence[StreamEntry], report: AuditReport
) -> None:
    """Each aggregate event must stand, byte for byte, at the log position its id index names."""
    documents = [(entry_id, fields.get(b"event", b"")) for entry_id, fields in entries]
    ids = [_event_id(raw) for _, raw in documents]
    positions = await _pipeline(client, [("HGET", keys.ids, event_id) for event_id in ids])
    log_ids = [pos.split(b" ")[1].decode() if pos else None for pos in positions]
    copies = await _pipeline(client, [("XRANGE", keys.log, log_id, log_id) for log_id in log_ids if log_id])
    copy_iter = iter(copies)
    for (entry_id, raw), log_id in zip(documents, log_ids, strict=True):
        where = f"{stream}@{entry_id.decode().split('-')[0]}"
        copy = next(copy_iter) if log_id else None
        if not copy or copy[0][1].get(b"event") != raw:
            detail = "no log entry for this event" if not copy else f"log entry {log_id} differs"
            report.problems.append(ChainProblem(where=where, kind="missing_in_log", detail=detail))


async def _verify_log(
    store: RedisEventStore, client: AnyRedis, keys: PartitionKeys, heads: dict[str, Head], report: AuditReport
) -> None:
    """Every log entry must be one of ours and have its twin in its aggregate stream."""
    after = "0-0"
    while True:
        entries = await store.read_log(keys.partition, after=after)
        report.log_entries += len(entries)
        await _check_log_chunk(client, keys, entries, heads, report)
        if len(entries) < READ_CHUNK:
            return
        after = entries[-1].log_id


async def _check_log_chunk(
    client: AnyRedis,
    keys: PartitionKeys,
    entries: Sequence[LogEntry],
    heads: dict[str, Head],
    report: AuditReport,
) -> None:
    ours: list[tuple[LogEntry, str, int]] = []
    for entry in entries:
        where = f"{keys.log} {entry.log_id}"
        document = parse_document(entry.raw) if entry.raw is not None else None
        stream, version = _address(document)
        if stream is None or version is None:
            detail = "no `event` field" if entry.raw is None else "`event` is not one of our CloudEvents"
            report.foreign.append(ChainProblem(where=where, kind="foreign", detail=detail))
        elif stream not in heads:
            report.problems.append(
                ChainProblem(where=where, kind="orphan", detail=f"stream {stream!r} has no head")
            )
        else:
            ours.append((entry, stream, version))
    twins = await _pipeline(client, [("XRANGE", keys.stream(s), f"{v}-0", f"{v}-0") for _, s, v in ours])
    for (entry, stream, version), twin in zip(ours, twins, strict=True):
        if not twin or twin[0][1].get(b"event") != entry.raw:
            where = f"{keys.log} {entry.log_id}"
            detail = f"differs from {stream}@{version}" if twin else f"{stream}@{version} is missing"
            report.problems.append(ChainProblem(where=where, kind="log_mismatch", detail=detail))


def _event_id(raw: bytes) -> str:
    document = parse_document(raw)
    return str(document.get("id", "")) if document else ""


def _address(document: dict[str, Any] | None) -> tuple[str | None, int | None]:
    if document is None:
        return None, None
    stream, version = document.get("stream"), document.get("version")
    if not isinstance(stream, str) or not isinstance(version, int) or "id" not in document:
        return None, None
    return stream, version


async def _pipeline(client: AnyRedis, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    if not commands:
        return []
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return list(await pipe.execute())

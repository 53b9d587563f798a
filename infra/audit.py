"""`aiwf audit verify`: chains, heads, log copies, and the signed Merkle checkpoints of every partition.

Per partition, in bulk reads (a round trip per few thousand entries, never one per event):
1. the checkpoints stored for it: each signed text and signature (infra/audit_checkpoints.py);
2. the log, up to its end when the audit began: every entry's RFC 6962 leaf hash, the tree grown one leaf
   at a time, and its root compared with each checkpoint as the tree reaches its size;
3. each aggregate stream: its hash chain and head, and its agreement, byte for byte, with the log entry
   its id index names (compared through their leaf hashes), in version order;
4. the log entries no aggregate event claimed: foreign, orphaned, differing or duplicated.
Events appended while the audit runs are left for the next one, never reported.

A tenant's audit (`tenant=`) reads the same log and checkpoints, but walks only the tenant's streams and
reports only the unclaimed entries that are the tenant's (infra/audit_scope.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from domain.chain import ChainProblem, check_head, check_stream, parse_document
from domain.merkle import Frontier
from infra.audit_checkpoints import CheckpointCheck, signed_checkpoints
from infra.audit_reads import RawEntry, entry_order, event_of, pipelined, raw_replies, version_of, xrange_raw
from infra.audit_scope import TenantScope, tenant_scope
from infra.checkpoints import CheckpointRecord
from infra.crypto.signing import Verifier
from infra.event_store import READ_CHUNK, Head, RedisEventStore
from infra.keys import PartitionKeys
from infra.redis_conn import AnyRedis

LOG_CHUNK = 5000
IDS_CHUNK = 10_000
STREAMS_PER_ROUND = 250
_sha256 = hashlib.sha256


class AuditReport(msgspec.Struct, kw_only=True):
    streams: int = 0
    events: int = 0
    log_entries: int = 0
    checkpoints: int = 0  # whose signature and root were checked
    problems: list[ChainProblem] = msgspec.field(default_factory=list)
    foreign: list[ChainProblem] = msgspec.field(default_factory=list)


async def verify_store(
    store: RedisEventStore,
    *,
    checkpoints: Sequence[CheckpointRecord] = (),
    verifier: Verifier | None = None,
    partitions: Iterable[int] | None = None,
    tenant: str | None = None,
) -> AuditReport:
    """Checkpoints must be read before the audit starts: one signed later may cover entries it will
    not read. Without a verifier, signatures are not checked (roots still are). `tenant`: that tenant's
    streams only, and nothing of another's in the report."""
    chosen = range(store.keys.partitions) if partitions is None else partitions
    reports = [await verify_partition(store, p, checkpoints, verifier, tenant) for p in chosen]
    return merged(reports)


async def verify_partition(
    store: RedisEventStore,
    partition: int,
    checkpoints: Sequence[CheckpointRecord],
    verifier: Verifier | None,
    tenant: str | None = None,
) -> AuditReport:
    report = AuditReport()
    keys = store.keys.partition(partition)
    mine = [c for c in checkpoints if c.partition == partition]
    signed = signed_checkpoints(store.keys.prefix, keys, mine, verifier, report.problems)
    end = await store.log_end(partition)  # before the heads: every entry up to it has one
    client = raw_replies(await store.redis.client_for_key(keys.log))
    heads = await store.streams(partition)
    scope = None if tenant is None else await tenant_scope(client, keys, tenant, heads)
    audit = _PartitionAudit(
        client=client,
        keys=keys,
        heads=heads if scope is None else scope.heads,
        end=entry_order(end.encode()),
        report=report,
        scope=scope,
    )
    await audit.walk_log(end, CheckpointCheck(keys, signed))
    await audit.walk_streams()
    await audit.leftovers()
    if scope is not None:
        report.problems = [scope.told(problem) for problem in report.problems]
    return report


def merged(reports: Iterable[AuditReport]) -> AuditReport:
    """One report of several partitions' (in the order given)."""
    out = AuditReport()
    for report in reports:
        out.streams += report.streams
        out.events += report.events
        out.log_entries += report.log_entries
        out.checkpoints += report.checkpoints
        out.problems += report.problems
        out.foreign += report.foreign
    return out


class _Claim(msgspec.Struct, frozen=True):
    """An aggregate event as read, to be matched with its log copy."""

    stream: str
    version: int
    event_id: str
    leaf: bytes


class _PartitionAudit:
    def __init__(
        self,
        *,
        client: AnyRedis,
        keys: PartitionKeys,
        heads: dict[str, Head],
        end: tuple[int, int],
        report: AuditReport,
        scope: TenantScope | None = None,
    ) -> None:
        self.client, self.keys, self.heads, self.end, self.report = client, keys, heads, end, report
        self.scope = scope
        self.mentions: set[bytes] = set()  # in a tenant's audit: the entries that may be the tenant's
        # log entry id → (leaf index, leaf hash); an entry is removed once its aggregate event claims it
        self.copies: dict[bytes, tuple[int, bytes]] = {}
        self.ids: dict[bytes, bytes] = {}  # the id index, read before the streams

    async def walk_log(self, end: str, checkpoints: CheckpointCheck) -> None:
        """The next chunk is asked for before this one is hashed: the server reads while we hash."""
        frontier = Frontier()
        ahead = self._log_after("-", end) if self.end > (0, 0) else None
        try:
            while ahead is not None:
                entries = await ahead
                full = len(entries) == LOG_CHUNK
                ahead = self._log_after("(" + entries[-1][0].decode(), end) if full else None
                for entry_id, fields in entries:
                    raw = event_of(fields) or b""
                    leaf = _sha256(b"\x00" + raw).digest()
                    self.copies[entry_id] = (frontier.size, leaf)
                    if self.scope is not None and self.scope.may_hold(raw):
                        self.mentions.add(entry_id)
                    frontier.append(leaf)
                    if checkpoints.due(frontier.size):
                        self.report.problems += checkpoints.check(frontier, entry_id.decode())
        finally:
            if ahead is not None:
                ahead.cancel()
        self.report.problems += checkpoints.beyond(frontier.size)
        self.report.checkpoints += checkpoints.count
        self.report.log_entries += frontier.size

    def _log_after(self, start: str, end: str) -> asyncio.Task[list[RawEntry]]:
        return asyncio.create_task(xrange_raw(self.client, self.keys.log, start, end, count=LOG_CHUNK))

    async def walk_streams(self) -> None:
        self.ids = await self._read_ids()
        names = sorted(self.heads)
        groups = [names[i : i + STREAMS_PER_ROUND] for i in range(0, len(names), STREAMS_PER_ROUND)]
        ahead = self._streams_of(groups[0]) if groups else None
        try:
            for n, group in enumerate(groups):
                assert ahead is not None
                firsts = await ahead
                ahead = self._streams_of(groups[n + 1]) if n + 1 < len(groups) else None
                claims: list[_Claim] = []
                for stream, first in zip(group, firsts, strict=True):
                    entries = await self._whole_stream(stream, first or [])
                    claims += await self._check_stream(stream, entries)
                await self._match_log(claims)
        finally:
            if ahead is not None:
                ahead.cancel()

    def _streams_of(self, group: list[str]) -> asyncio.Task[list[Any]]:
        """The first READ_CHUNK entries of each stream of the group, in one round trip, asked ahead."""
        commands = [("XRANGE", self.keys.stream(s), "-", "+", "COUNT", READ_CHUNK) for s in group]
        return asyncio.create_task(pipelined(self.client, commands))

    async def _read_ids(self) -> dict[bytes, bytes]:
        """The partition's id index (event id → "<version> <log id> …"), scanned in bulk: one lookup per
        event would cost more than the audit's hashing (each argument packed by the client)."""
        ids: dict[bytes, bytes] = {}
        cursor: Any = 0
        while True:
            reply: Any = await self.client.hscan(self.keys.ids, cursor, count=IDS_CHUNK)
            cursor, chunk = reply
            ids.update(chunk)
            if not int(cursor):
                return ids

    async def _whole_stream(self, stream: str, first: list[RawEntry]) -> list[RawEntry]:
        entries, chunk = list(first), first
        while len(chunk) == READ_CHUNK:
            after = "(" + chunk[-1][0].decode()
            chunk = await xrange_raw(self.client, self.keys.stream(stream), after)
            entries += chunk
        return entries

    async def _check_stream(self, stream: str, entries: list[RawEntry]) -> list[_Claim]:
        head = self.heads[stream]
        self.report.streams += 1
        if entries and version_of(entries[-1][0]) > head.version:
            fresh: Any = await self.client.execute_command("HGET", self.keys.heads, stream)
            if fresh is not None and int(fresh.split(b" ", 1)[0]) >= version_of(entries[-1][0]):
                entries = [e for e in entries if version_of(e[0]) <= head.version]  # appended while we read
        read = [(version_of(entry_id), event_of(fields) or b"") for entry_id, fields in entries]
        cursor, problems, ids = check_stream(stream, read)
        self.report.problems += problems
        self.report.events += len(read)
        self.report.problems += check_head(cursor, head.version, head.hash)
        return [
            _Claim(stream, version, event_id, _sha256(b"\x00" + raw).digest())
            for (version, raw), event_id in zip(read, ids, strict=True)
        ]

    async def _match_log(self, claims: list[_Claim]) -> None:
        """Each aggregate event must stand, byte for byte, at the log position its id index names, and a
        stream's events must stand in the log in version order."""
        last_index: dict[str, int] = {}
        for claim in claims:
            record = self.ids.get(claim.event_id.encode())
            parts = record.split(b" ", 2) if record and claim.event_id else []
            log_id: bytes = parts[1] if len(parts) > 1 else b""
            copy = self.copies.get(log_id)
            if copy is None and log_id and entry_order(log_id) > self.end:
                continue  # appended after the log was read
            if copy is None or copy[1] != claim.leaf:
                where = f"{claim.stream}@{claim.version}"
                detail = (
                    "no log entry for this event" if copy is None else f"log entry {log_id.decode()} differs"
                )
                self.report.problems.append(ChainProblem(where=where, kind="missing_in_log", detail=detail))
                continue
            del self.copies[log_id]
            if copy[0] < last_index.get(claim.stream, -1):
                where = f"{claim.stream}@{claim.version}"
                detail = f"its log entry {log_id.decode()} stands before an earlier version's"
                self.report.problems.append(ChainProblem(where=where, kind="log_order", detail=detail))
            last_index[claim.stream] = copy[0]

    async def leftovers(self) -> None:
        """The log entries no aggregate event claimed (each read again: there are few, or it is bad);
        in a tenant's audit, only those that may be the tenant's."""
        left = [i for i in self.copies if self.scope is None or i in self.mentions]
        for start in range(0, len(left), READ_CHUNK):
            chunk = left[start : start + READ_CHUNK]
            found = await pipelined(self.client, [("XRANGE", self.keys.log, i, i) for i in chunk])
            ours = [
                unclaimed
                for log_id, entry in zip(chunk, found, strict=True)
                if (unclaimed := self._sort_out(f"{self.keys.log} {log_id.decode()}", entry)) is not None
            ]
            commands = [("XRANGE", self.keys.stream(s), f"{v}-0", f"{v}-0") for _, _, s, v in ours]
            for (where, raw, stream, version), twin in zip(
                ours, await pipelined(self.client, commands), strict=True
            ):
                self.report.problems.append(_unclaimed(where, raw, f"{stream}@{version}", twin))

    def _sort_out(self, where: str, entry: Any) -> tuple[str, bytes, str, int] | None:
        """An unclaimed entry that names a stream we know, to compare with it; None once reported as
        foreign or orphan, or when a tenant's audit finds it is not the tenant's (then nothing is said)."""
        raw = event_of(entry[0][1]) if entry else None
        document = parse_document(raw) if raw is not None else None
        if self.scope is not None and (document is None or not self.scope.owns(document)):
            return None
        stream, version = _address(document)
        if stream is None or version is None:
            detail = "no `event` field" if raw is None else "`event` is not one of our CloudEvents"
            self.report.foreign.append(ChainProblem(where=where, kind="foreign", detail=detail))
        elif stream not in self.heads:
            detail = f"stream {stream!r} has no head"
            self.report.problems.append(ChainProblem(where=where, kind="orphan", detail=detail))
        else:
            return where, raw or b"", stream, version
        return None


def _unclaimed(where: str, raw: bytes, address: str, twin: Any) -> ChainProblem:
    if not twin:
        return ChainProblem(where=where, kind="log_mismatch", detail=f"{address} is missing")
    if event_of(twin[0][1]) != raw:
        return ChainProblem(where=where, kind="log_mismatch", detail=f"differs from {address}")
    detail = f"a second copy of {address}: its id index names another log entry"
    return ChainProblem(where=where, kind="duplicate", detail=detail)


def _address(document: dict[str, Any] | None) -> tuple[str | None, int | None]:
    if document is None:
        return None, None
    stream, version = document.get("stream"), document.get("version")
    if not isinstance(stream, str) or not isinstance(version, int) or "id" not in document:
        return None, None
    return stream, version

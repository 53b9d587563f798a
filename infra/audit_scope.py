"""One tenant's part of a partition, as a tenant's audit sees it (`verify_store(tenant=…)`, the API's
POST /v1/audit/verifications): its streams, and which unclaimed log entries are its business.

The partition log is shared, so the whole log is still read: the signed checkpoints cover all of it.
What is narrowed is what is checked and reported: only the tenant's streams are walked, and a log entry
no event claimed is reported only when it says it is the tenant's and names no other tenant's stream.
Nothing of another tenant (a stream name, a payload) can reach the report.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.chain import ChainProblem, parse_document
from infra.audit_reads import event_of, pipelined
from infra.event_store import Head
from infra.keys import PartitionKeys
from infra.redis_cmds import hgetall
from infra.redis_conn import AnyRedis


class TenantScope(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str
    heads: dict[str, Head]  # the tenant's streams of the partition
    owners: dict[str, str]  # every stream of the partition → its tenant
    needle: bytes  # the tenant's name as JSON writes it (tenant names need no escapes)

    def may_hold(self, raw: bytes) -> bool:
        """A first pass that costs a byte search: an entry that never quotes the tenant's name cannot
        say it is the tenant's."""
        return self.needle in raw

    def owns(self, document: dict[str, Any]) -> bool:
        """An entry is the tenant's when it says so and names no stream of another tenant."""
        stream = document.get("stream")
        owner = self.owners.get(stream, self.tenant) if isinstance(stream, str) else self.tenant
        return document.get("tenant") == self.tenant and owner == self.tenant

    def told(self, problem: ChainProblem) -> ChainProblem:
        """The problem as the tenant reads it: the stream an entry of its stream wrongly names may be
        another tenant's (an event copied in), so that name is not quoted."""
        if problem.kind != "wrong_stream":
            return problem
        return msgspec.structs.replace(problem, detail="says it belongs to another stream")


async def tenant_scope(
    client: AnyRedis, keys: PartitionKeys, tenant: str, heads: dict[str, Head]
) -> TenantScope:
    """Read after the heads: every stream with a head has its tenant recorded by then (the same script
    writes both), but for streams older than the record, whose first event says whose they are."""
    owners = {name.decode(): who.decode() for name, who in (await hgetall(client, keys.tenants)).items()}
    older = [stream for stream in heads if stream not in owners]
    firsts = await pipelined(client, [("XRANGE", keys.stream(s), "-", "+", "COUNT", 1) for s in older])
    for stream, first in zip(older, firsts, strict=True):
        owners[stream] = _tenant_of(first)
    mine = {stream: head for stream, head in heads.items() if owners.get(stream) == tenant}
    return TenantScope(tenant=tenant, heads=mine, owners=owners, needle=msgspec.json.encode(tenant))


def _tenant_of(first: Any) -> str:
    """The tenant a stream's first entry (a raw XRANGE reply) names; "" when none: nobody's to report."""
    raw = event_of(first[0][1]) if first else None
    document = parse_document(raw) if raw is not None else None
    tenant = document.get("tenant") if document else None
    return tenant if isinstance(tenant, str) else ""

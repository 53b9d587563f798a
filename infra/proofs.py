"""Inclusion and consistency proofs of the partition logs, against their latest signed checkpoints.

A proof is assembled from the proof store (O(log n) reads) and checked against the signed root before
it is given out: a store that disagrees with what was signed yields an error, never a wrong proof.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from domain.chain import parse_document
from domain.merkle import (
    Span,
    consistency_spans,
    fold,
    inclusion_spans,
    leaf_hash,
    nodes_of,
    pieces,
    proof_hashes,
    verify_consistency,
    verify_inclusion,
)
from infra.checkpoints import CheckpointRecord, entry_order, latest_checkpoint, latest_checkpoints
from infra.event_store import RedisEventStore
from infra.proof_store import ProofStore, ProofStoreIncomplete


class NotYetCheckpointed(Exception):
    """The event is stored but no signed checkpoint covers it yet."""


class ProofUnavailable(Exception):
    """The proof store cannot give a proof that the signed checkpoint confirms: run `aiwf audit verify`."""


class SignedCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    size: int
    root: str
    last_log_id: str
    signed_at: datetime
    algorithm: str
    key_version: int
    text: str  # the exact signed bytes (UTF-8), docs/audit.md
    signature: str  # base64 of the detached signature over `text`

    @classmethod
    def of(cls, record: CheckpointRecord) -> SignedCheckpoint:
        checkpoint = record.checkpoint
        return cls(
            partition=record.partition,
            size=record.size,
            root=checkpoint.root.hex(),
            last_log_id=record.last_log_id,
            signed_at=checkpoint.signed_at,
            algorithm=record.signature.algorithm,
            key_version=record.signature.key_version,
            text=record.body.decode(),
            signature=base64.b64encode(record.signature.signature).decode(),
        )


class InclusionProof(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    partition: int
    log: str  # the Redis key of the partition log
    log_id: str
    leaf_index: int
    leaf: str  # base64 of the leaf: the exact bytes of the entry's `event` field
    leaf_hash: str  # SHA-256(0x00 || leaf), hex
    tree_size: int
    root: str
    audit_path: list[str]  # hex, the sibling nearest the leaf first (RFC 6962 §2.1.1)
    checkpoint: SignedCheckpoint


class ConsistencyProof(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]  # hex, RFC 6962 §2.1.2 order
    checkpoint: SignedCheckpoint  # the latest, whose size is `second` unless a smaller one was asked


class Proofs:
    def __init__(self, store: RedisEventStore, pool: asyncpg.Pool) -> None:
        self._store = store
        self._pool = pool
        self._nodes = ProofStore(store.redis, store.keys)

    async def inclusion(self, tenant: str, event_id: str) -> InclusionProof | None:
        """None: no such event of this tenant (another tenant's is absent too)."""
        found = await self._locate(event_id)
        if found is None:
            return None
        partition, log_id, raw, index = found
        document = parse_document(raw)
        if document is None or document.get("tenant") != tenant or document.get("id") != event_id:
            return None
        record = await latest_checkpoint(self._pool, self._store.keys.prefix, partition)
        if record is None or entry_order(log_id) > entry_order(record.last_log_id):
            raise NotYetCheckpointed(event_id)
        if index is None or index >= record.size:
            raise ProofUnavailable(f"partition {partition}: the proof store has no leaf for {log_id}")
        root = record.checkpoint.root
        path = await self._hashes(partition, inclusion_spans(index, record.size))
        leaf = leaf_hash(raw)
        if not verify_inclusion(index, record.size, leaf, path, root):
            raise ProofUnavailable(f"partition {partition}: the proof store disagrees with the checkpoint")
        return InclusionProof(
            event_id=event_id,
            partition=partition,
            log=self._store.keys.partition(partition).log,
            log_id=log_id,
            leaf_index=index,
            leaf=base64.b64encode(raw).decode(),
            leaf_hash=leaf.hex(),
            tree_size=record.size,
            root=root.hex(),
            audit_path=[h.hex() for h in path],
            checkpoint=SignedCheckpoint.of(record),
        )

    async def consistency(self, partition: int, first: int, second: int | None) -> ConsistencyProof | None:
        """None: the partition has no checkpoint yet. ValueError: sizes out of the signed tree."""
        record = await latest_checkpoint(self._pool, self._store.keys.prefix, partition)
        if record is None:
            return None
        second = record.size if second is None else second
        if not 0 <= first <= second <= record.size:
            raise ValueError(f"need 0 <= first <= second <= {record.size}, the latest checkpoint's size")
        proof = await self._hashes(partition, consistency_spans(first, second))
        first_root, second_root = await self._roots(partition, first, second)
        signed_root = record.checkpoint.root
        if second == record.size and second_root != signed_root:
            raise ProofUnavailable(f"partition {partition}: the proof store disagrees with the checkpoint")
        if not verify_consistency(first, second, first_root, second_root, proof):
            raise ProofUnavailable(f"partition {partition}: the proof store gives an inconsistent proof")
        return ConsistencyProof(
            partition=partition,
            first=first,
            second=second,
            first_root=first_root.hex(),
            second_root=second_root.hex(),
            proof=[h.hex() for h in proof],
            checkpoint=SignedCheckpoint.of(record),
        )

    async def checkpoints(self) -> list[SignedCheckpoint]:
        return [SignedCheckpoint.of(r) for r in await latest_checkpoints(self._pool, self._store.keys.prefix)]

    async def _locate(self, event_id: str) -> tuple[int, str, bytes, int | None] | None:
        """The partition, log id, stored bytes and leaf index (None: not in a tree yet) of an event: its
        id index names the log entry. Two round trips."""
        partitions = self._store.keys.all_partitions()
        pipe = self._store.redis.client.pipeline(transaction=False)
        for keys in partitions:
            pipe.hget(keys.ids, event_id)
        records: list[Any] = await pipe.execute()
        for keys, record in zip(partitions, records, strict=True):
            parts = record.split(b" ") if record else []
            if len(parts) < 2:
                continue
            log_id = parts[1].decode()
            client = await self._store.redis.client_for_key(keys.log)
            pipe = client.pipeline(transaction=False)
            pipe.xrange(keys.log, log_id, log_id)
            pipe.hget(keys.merkle_index, log_id)
            entry, index = await pipe.execute()
            raw = entry[0][1].get(b"event") if entry else None
            if raw is not None:
                return keys.partition, log_id, raw, int(index) if index is not None else None
        return None

    async def _hashes(self, partition: int, spans: list[Span]) -> list[bytes]:
        try:
            nodes = await self._nodes.read(partition, nodes_of(spans))
        except ProofStoreIncomplete as exc:
            raise ProofUnavailable(str(exc)) from None
        return proof_hashes(spans, nodes.__getitem__)

    async def _roots(self, partition: int, first: int, second: int) -> tuple[bytes, bytes]:
        wanted = [Span(0, first), Span(0, second)]
        try:
            nodes = await self._nodes.read(partition, nodes_of(wanted))
        except ProofStoreIncomplete as exc:
            raise ProofUnavailable(str(exc)) from None
        first_root, second_root = (fold([nodes[p] for p in pieces(span)]) for span in wanted)
        return first_root, second_root

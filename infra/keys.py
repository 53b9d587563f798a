"""Redis key layout (docs/adr/0003-stream-keys-and-partitions.md).

An aggregate stream hashes to one of P partitions; every key of partition N carries the hash tag
`{pN}`, so one Lua script touches them all on one Redis Cluster shard:

    <prefix>:{pN}:log             partition log, public: field `event` holds the CloudEvent JSON
    <prefix>:{pN}:s:<stream>      one aggregate's events, entry id `<version>-0`
    <prefix>:{pN}:heads           hash: stream → "<version> <hash>"
    <prefix>:{pN}:tenants         hash: stream → the tenant its first event fixed (docs/adr/0022)
    <prefix>:{pN}:ids             hash: event id → "<version> <log id> <digest> <stream>" (ADR 0015)
    <prefix>:{pN}:dlq             dead letters of every consumer group of the partition
    <prefix>:{pN}:dlq:index       hash: "<group> <log id>" → its dead letter (one per entry and group)
    <prefix>:{pN}:lease:<group>   who consumes the partition for an ordered group; :epoch:<group> fences
    <prefix>:{pN}:snap:<name>:<stream>  hash: the newest snapshot of a state of the stream (`v`, `doc`)
    <prefix>:{pN}:lock:<step>:<stream>  who carries out a step's side effect on the stream now (expires)
    <prefix>:{pN}:mt:<level>:<chunk>  string: the log's Merkle nodes of one level, 32 bytes each, node j at
                                  chunk j // 65536 (docs/audit.md); derived from the log, proofs read it
    <prefix>:{pN}:mt:index        hash: log entry id → its leaf index in the partition's Merkle tree

Keys of no partition: `<prefix>:{meta}:config`, a tenant's data keys under `{dk:<tenant>}`, and the shared
rate-limit buckets `<prefix>:rl:<scope>:<subject>` (no hash tag: each is one key of one script).
"""

from __future__ import annotations

import functools
import hashlib

import msgspec


def partition_of(stream: str, partitions: int) -> int:
    """First 8 bytes of sha256(stream), big-endian, modulo P: reproducible in any language."""
    digest = hashlib.sha256(stream.encode()).digest()
    return int.from_bytes(digest[:8], "big") % partitions


class PartitionKeys(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    log: str
    heads: str
    tenants: str
    ids: str
    dlq: str
    stream_prefix: str
    tag: str

    def stream(self, stream: str) -> str:
        return self.stream_prefix + stream

    def snapshot(self, stream: str, name: str) -> str:
        return f"{self.tag}:snap:{name}:{stream}"

    def lease(self, group: str) -> str:
        return f"{self.tag}:lease:{group}"

    def epoch(self, group: str) -> str:
        return f"{self.tag}:epoch:{group}"

    def lock(self, stream: str, step: str) -> str:
        """A step's exclusive hold on one stream's side effect (the deployer's n8n calls)."""
        return f"{self.tag}:lock:{step}:{stream}"

    def merkle_nodes(self, level: int, chunk: int) -> str:
        """Perfect-subtree hashes of one level of the log's Merkle tree (infra/proof_store.py)."""
        return f"{self.tag}:mt:{level}:{chunk}"

    @property
    def dlq_index(self) -> str:
        """Which entries each group has dead-lettered: a group recreated and reading the log again
        must not letter the same entry twice."""
        return f"{self.tag}:dlq:index"

    @property
    def merkle_index(self) -> str:
        """Log entry id → leaf index in the log's Merkle tree."""
        return f"{self.tag}:mt:index"


@functools.lru_cache(maxsize=4096)
def _partition_keys(prefix: str, n: int) -> PartitionKeys:
    """Built once per prefix and partition: every append and read of a stream names its partition's keys."""
    tag = f"{prefix}:{{p{n}}}"
    return PartitionKeys(
        partition=n,
        log=f"{tag}:log",
        heads=f"{tag}:heads",
        tenants=f"{tag}:tenants",
        ids=f"{tag}:ids",
        dlq=f"{tag}:dlq",
        stream_prefix=f"{tag}:s:",
        tag=tag,
    )


class KeySpace(msgspec.Struct, frozen=True, kw_only=True):
    prefix: str
    partitions: int

    def partition(self, n: int) -> PartitionKeys:
        return _partition_keys(self.prefix, n)

    def for_stream(self, stream: str) -> PartitionKeys:
        return self.partition(partition_of(stream, self.partitions))

    def all_partitions(self) -> list[PartitionKeys]:
        return [self.partition(n) for n in range(self.partitions)]

    @property
    def meta(self) -> str:
        """Store-wide facts (partition count) that must never change under existing data."""
        return f"{self.prefix}:{{meta}}:config"

    def data_keys(self, tenant: str) -> str:
        """A tenant's wrapped data keys, one hash field per subject (infra/crypto/datakeys.py)."""
        return f"{self.prefix}:{{dk:{tenant}}}:keys"

    def wrapping_keys(self, tenant: str) -> str:
        """A tenant's wrapping keys, each encapsulated to its KEK, and which one is current."""
        return f"{self.prefix}:{{dk:{tenant}}}:wrapping"

    def subject_members(self, tenant: str, subject: str) -> str:
        """The subjects shredded with `subject` (a customer's conversations); same slot as the keys."""
        return f"{self.prefix}:{{dk:{tenant}}}:members:{subject}"

    @property
    def provider_reports(self) -> str:
        """Hash: `<hostname>:<pid>` → the JSON report of the model providers that process may call
        (infra/provider_reports.py)."""
        return f"{self.prefix}:{{ops}}:providers"

    @property
    def data_keys_shredded(self) -> str:
        """The channel every process hears a shredding on, to drop the keys it cached."""
        return f"{self.prefix}:dk:shredded"

    def rate_bucket(self, scope: str, subject: str) -> str:
        """Hash: the token bucket every API process shares for `subject` (an API key id, a client
        address) of a limit `scope` (infra/rate_buckets.py); it expires once full again."""
        return f"{self.prefix}:rl:{scope}:{subject}"

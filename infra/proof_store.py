"""The Merkle nodes of every partition log, in Redis, so that a proof reads O(log n) hashes.

Every perfect subtree the checkpointer completes is written at a fixed place: level L, node j is the
32 bytes at offset 32 * (j % CHUNK) of the string `<prefix>:{pN}:mt:<L>:<j // CHUNK>`; the leaf index of
each log entry is in the hash `<prefix>:{pN}:mt:index`. Writes are SETRANGE at those offsets, so writing
a node twice (a checkpointer that crashed before committing, then ran again) writes the same bytes.

This is derived data, trusted for nothing: a proof assembled from it is checked against the signed root
before it is served, and `aiwf audit verify` recomputes the tree from the log itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.merkle import HASH_BYTES, NodeId
from infra.keys import KeySpace, PartitionKeys
from infra.redis_conn import RedisConnection

CHUNK = 65536  # nodes per string: 2 MiB, far below Redis's 512 MiB limit, however long the log grows
_INDEX_BATCH = 1000

Completed = tuple[int, int, bytes]  # (level, index, hash), as domain.merkle.Frontier.append gives them


class ProofStoreIncomplete(RuntimeError):
    """A node a proof needs is not stored: the checkpointer has not written it, or it was removed."""


class ProofStore:
    def __init__(self, redis: RedisConnection, keys: KeySpace) -> None:
        self._redis = redis
        self.keys = keys

    async def write(
        self, partition: int, nodes: Sequence[Completed], leaves: Sequence[tuple[str, int]]
    ) -> None:
        """Store completed nodes and the leaf index of each log entry (log id, index)."""
        keys = self.keys.partition(partition)
        client = await self._redis.client_for_key(keys.log)
        pipe = client.pipeline(transaction=False)
        for key, offset, blob in _runs(keys, nodes):
            pipe.setrange(key, offset, blob)
        for start in range(0, len(leaves), _INDEX_BATCH):
            mapping = dict(leaves[start : start + _INDEX_BATCH])
            pipe.hset(keys.merkle_index, mapping=mapping)  # type: ignore[arg-type]
        await pipe.execute()

    async def read(self, partition: int, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]:
        keys = self.keys.partition(partition)
        wanted = list(dict.fromkeys(nodes))
        if not wanted:
            return {}
        client = await self._redis.client_for_key(keys.log)
        pipe = client.pipeline(transaction=False)
        for level, index in wanted:
            offset = HASH_BYTES * (index % CHUNK)
            pipe.getrange(keys.merkle_nodes(level, index // CHUNK), offset, offset + HASH_BYTES - 1)
        found: list[bytes] = await pipe.execute()
        missing = [node for node, digest in zip(wanted, found, strict=True) if len(digest) != HASH_BYTES]
        if missing:
            raise ProofStoreIncomplete(f"partition {partition}: no stored node {missing[0]} (level, index)")
        return dict(zip(wanted, found, strict=True))


def _runs(keys: PartitionKeys, nodes: Sequence[Completed]) -> list[tuple[str, int, bytes]]:
    """Consecutive nodes of a level and chunk joined into one SETRANGE each."""
    runs: list[tuple[str, int, bytes]] = []
    ordered = sorted(nodes)
    i = 0
    while i < len(ordered):
        level, first, _ = ordered[i]
        j = i + 1
        while (
            j < len(ordered)
            and ordered[j][0] == level
            and ordered[j][1] == first + (j - i)
            and ordered[j][1] // CHUNK == first // CHUNK
        ):
            j += 1
        blob = b"".join(digest for _, _, digest in ordered[i:j])
        runs.append((keys.merkle_nodes(level, first // CHUNK), HASH_BYTES * (first % CHUNK), blob))
        i = j
    return runs

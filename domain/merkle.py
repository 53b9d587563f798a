"""RFC 6962 Merkle trees over a partition log (docs/audit.md, docs/adr/0024-signed-merkle-checkpoints.md).

    leaf hash   SHA-256(0x00 || leaf)
    node hash   SHA-256(0x01 || left || right)
    MTH({})     SHA-256("")
    MTH(D[n])   node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two smaller than n

A tree of n leaves is the right fold of its perfect subtrees, one per set bit of n, largest first: its
*frontier*. Keeping the frontier is enough to extend the tree without hashing again what it covers. A
perfect subtree is named `(level, index)`: it covers the leaves [index * 2**level, (index + 1) * 2**level).
Every subtree an RFC 6962 proof names is the right fold of a few of them, so proofs can be assembled
from stored perfect subtrees alone. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 (the same
hashing and proofs as RFC 6962, with the verifier's algorithm written out).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import NamedTuple

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]  # (level, index) of a perfect subtree
_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


class Span(NamedTuple):
    """The leaves [start, start + size) of a tree, as RFC 6962's recursion splits it."""

    start: int
    size: int


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def pieces(span: Span) -> list[NodeId]:
    """The perfect subtrees whose right fold is MTH of the span, largest first. Every span of the RFC's
    recursion starts at a multiple of its largest piece, so each piece is a whole stored node."""
    start, size = span
    out: list[NodeId] = []
    while size:
        level = size.bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"span {span} is not aligned on its subtrees")
        out.append((level, start >> level))
        start += 1 << level
        size -= 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """node(h0, node(h1, … node(h[-2], h[-1]))): MTH of adjacent perfect subtrees, largest first."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


class Frontier:
    """The perfect subtrees of a tree of `size` leaves, largest first: what extends it (a compact range
    starting at leaf 0)."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count() or any(len(h) != HASH_BYTES for h in hashes):
            raise ValueError(f"a frontier of {size} leaves holds {size.bit_count()} hashes of 32 bytes")
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        return cls(size, [blob[i : i + HASH_BYTES] for i in range(0, len(blob), HASH_BYTES)])

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def root(self) -> bytes:
        return fold(self.hashes)

    def append(self, leaf: bytes, completed: list[tuple[int, int, bytes]] | None = None) -> None:
        """Add the leaf hash `leaf`; each perfect subtree it completes goes to `completed` as
        (level, index, hash), the leaf itself first."""
        size, digest, level = self.size, leaf, 0
        if completed is not None:
            completed.append((0, size, digest))
        while (size >> level) & 1:
            digest = node_hash(self.hashes.pop(), digest)
            level += 1
            if completed is not None:
                completed.append((level, size >> level, digest))
        self.hashes.append(digest)
        self.size = size + 1

    def nodes(self) -> list[NodeId]:
        return pieces(Span(0, self.size))


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves whose hashes are given."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def inclusion_spans(index: int, size: int) -> list[Span]:
    """The subtrees of PATH(index, D[size]) (RFC 6962 §2.1.1), the one nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[Span] = []
    start = 0
    while size > 1:
        k = _split(size)
        if index < k:
            path.append(Span(start + k, size - k))
            size = k
        else:
            path.append(Span(start, k))
            start, index, size = start + k, index - k, size - k
    path.reverse()
    return path


def consistency_spans(first: int, second: int) -> list[Span]:
    """The subtrees of PROOF(first, D[second]) (RFC 6962 §2.1.2), in the RFC's order."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    proof: list[Span] = []
    start, complete = 0, True
    while first != second:
        k = _split(second)
        if first <= k:
            proof.append(Span(start + k, second - k))
            second = k
        else:
            proof.append(Span(start, k))
            start, first, second, complete = start + k, first - k, second - k, False
    if not complete:
        proof.append(Span(start, first))
    proof.reverse()
    return proof


def nodes_of(spans: Sequence[Span]) -> list[NodeId]:
    """Every stored node a proof over these spans reads."""
    return [node for span in spans for node in pieces(span)]


def proof_hashes(spans: Sequence[Span], node: Callable[[NodeId], bytes]) -> list[bytes]:
    """The proof's hashes, each span folded from its perfect subtrees as `node` gives them."""
    return [fold([node(piece) for piece in pieces(span)]) for span in spans]


def subtree_hash(leaf_hashes: Sequence[bytes], node: NodeId) -> bytes:
    """A perfect subtree computed from the leaves (in memory: tests and small trees)."""
    level, index = node
    if level == 0:
        return leaf_hashes[index]
    return node_hash(
        subtree_hash(leaf_hashes, (level - 1, 2 * index)),
        subtree_hash(leaf_hashes, (level - 1, 2 * index + 1)),
    )


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    return proof_hashes(inclusion_spans(index, size), lambda n: subtree_hash(leaf_hashes, n))


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    return proof_hashes(consistency_spans(first, second), lambda n: subtree_hash(leaf_hashes, n))


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root the audit path leads to from the leaf hash, or None when the path cannot belong to a
    leaf `index` of a tree of `size` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size or any(len(p) != HASH_BYTES for p in path):
        return None
    fn, sn, digest = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return digest if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether the tree of `second` leaves extends the one of `first` (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second or any(len(p) != HASH_BYTES for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root

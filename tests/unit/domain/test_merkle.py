"""RFC 6962 Merkle trees: known vectors, and every proof of every tree up to 33 leaves against the RFC's
own recursive definitions (written again here, independently of domain/merkle.py)."""

from __future__ import annotations

import hashlib

import pytest

from domain.merkle import (
    EMPTY_ROOT,
    Frontier,
    Span,
    consistency_proof,
    consistency_spans,
    inclusion_proof,
    leaf_hash,
    pieces,
    root_from_inclusion,
    subtree_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

# The Certificate Transparency reference vectors, as transparency-dev/merkle keeps them
# (proof/verify_test.go, commit 02194e9afb6c1d95b5381350007963aa70fff472).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    bytes.fromhex("606162636465666768696a6b6c6d6e6f")
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index counted from 1, as the Go vectors do; tree size; audit path)
CT_INCLUSION = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


# ---------------------------------------------------------------- RFC 6962 §2.1, word for word


def rfc_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(data[:k]) + rfc_mth(data[k:])).digest()


def rfc_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*rfc_path(m, data[:k]), rfc_mth(data[k:])]
    return [*rfc_path(m - k, data[k:]), rfc_mth(data[:k])]


def rfc_subproof(m: int, data: list[bytes], *, b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [rfc_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*rfc_subproof(m, data[:k], b=b), rfc_mth(data[k:])]
    return [*rfc_subproof(m - k, data[k:], b=False), rfc_mth(data[:k])]


def rfc_proof(m: int, data: list[bytes]) -> list[bytes]:
    return rfc_subproof(m, data, b=True)


DATA = [bytes([i, i * 7 % 256, 0x42]) for i in range(33)]
HASHES = [leaf_hash(d) for d in DATA]


# ---------------------------------------------------------------- known vectors


def test_the_tree_heads_are_the_certificate_transparency_ones() -> None:
    hashes = [leaf_hash(leaf) for leaf in CT_LEAVES]

    assert tree_hash([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert [tree_hash(hashes[:n]).hex() for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("leaf", "size", "path"), CT_INCLUSION)
def test_the_inclusion_proofs_are_the_certificate_transparency_ones(
    leaf: int, size: int, path: list[str]
) -> None:
    hashes = [leaf_hash(x) for x in CT_LEAVES]

    proof = inclusion_proof(hashes, leaf - 1, size)

    assert [p.hex() for p in proof] == path
    assert verify_inclusion(leaf - 1, size, hashes[leaf - 1], proof, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_the_consistency_proofs_are_the_certificate_transparency_ones(
    first: int, second: int, path: list[str]
) -> None:
    hashes = [leaf_hash(x) for x in CT_LEAVES]
    roots = [bytes.fromhex(r) for r in CT_ROOTS]

    proof = consistency_proof(hashes, first, second)

    assert [p.hex() for p in proof] == path
    assert verify_consistency(first, second, roots[first - 1], roots[second - 1], proof)


# ---------------------------------------------------------------- every tree up to 33 leaves


@pytest.mark.parametrize("size", range(1, 34))
def test_every_inclusion_proof_is_the_rfcs_and_verifies(size: int) -> None:
    root = tree_hash(HASHES[:size])
    assert root == rfc_mth(DATA[:size])
    for index in range(size):
        proof = inclusion_proof(HASHES, index, size)

        assert proof == rfc_path(index, DATA[:size])
        assert verify_inclusion(index, size, HASHES[index], proof, root)
        assert not verify_inclusion(index, size, HASHES[(index + 1) % 33], proof, root) or size == 1
        for wrong in {index - 1, index + 1, index ^ 2} - {index}:
            if 0 <= wrong < size and HASHES[wrong] != HASHES[index]:
                assert not verify_inclusion(wrong, size, HASHES[index], proof, root)
        assert not verify_inclusion(index, size * 2, HASHES[index], proof, root)
        assert size < 2 or not verify_inclusion(index, size // 2, HASHES[index], proof, root)
        assert not verify_inclusion(index, size, HASHES[index], [*proof, root], root)
        for i in range(len(proof)):
            flipped = [*proof]
            flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
            assert not verify_inclusion(index, size, HASHES[index], flipped, root)


@pytest.mark.parametrize("second", range(1, 34))
def test_every_consistency_proof_is_the_rfcs_and_verifies(second: int) -> None:
    new_root = tree_hash(HASHES[:second])
    for first in range(1, second + 1):
        old_root = tree_hash(HASHES[:first])
        proof = consistency_proof(HASHES, first, second)

        assert proof == (rfc_proof(first, DATA[:second]) if first < second else [])
        assert verify_consistency(first, second, old_root, new_root, proof)
        if first < second:
            assert not verify_consistency(first, second, new_root, old_root, proof)
            assert not verify_consistency(first, second, old_root, new_root, proof[:-1])
            assert not verify_consistency(first, second, old_root, new_root, [*proof, old_root])
            for i in range(len(proof)):
                flipped = [*proof]
                flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
                assert not verify_consistency(first, second, old_root, new_root, flipped)


def test_consistency_with_the_empty_tree_needs_no_proof() -> None:
    assert verify_consistency(0, 5, EMPTY_ROOT, tree_hash(HASHES[:5]), [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, tree_hash(HASHES[:5]), [EMPTY_ROOT])
    assert consistency_spans(0, 5) == []


def test_an_inclusion_proof_outside_the_tree_leads_nowhere() -> None:
    assert root_from_inclusion(3, 3, HASHES[0], []) is None
    assert root_from_inclusion(0, 0, HASHES[0], []) is None
    assert root_from_inclusion(0, 2, HASHES[0], [b"short"]) is None


# ---------------------------------------------------------------- the frontier


def test_a_frontier_grown_leaf_by_leaf_has_the_root_of_every_size() -> None:
    frontier = Frontier()
    for size in range(1, 34):
        frontier.append(HASHES[size - 1])

        assert frontier.root() == rfc_mth(DATA[:size])
        assert len(frontier.hashes) == size.bit_count()


def test_a_frontier_saved_and_loaded_extends_to_the_same_tree() -> None:
    grown = Frontier()
    for leaf in HASHES[:13]:
        grown.append(leaf)
    loaded = Frontier.from_bytes(13, grown.to_bytes())
    for leaf in HASHES[13:]:
        loaded.append(leaf)

    assert loaded.root() == tree_hash(HASHES)


def test_a_frontier_refuses_a_wrong_number_of_hashes() -> None:
    with pytest.raises(ValueError, match="holds 2 hashes"):
        Frontier(3, [HASHES[0]])


def test_the_nodes_a_frontier_completes_are_the_trees_perfect_subtrees() -> None:
    frontier, completed = Frontier(), list[tuple[int, int, bytes]]()
    for leaf in HASHES:
        frontier.append(leaf, completed)

    assert len(completed) == len({(level, index) for level, index, _ in completed})
    assert {(level, index) for level, index, _ in completed} == {
        (level, index) for level in range(6) for index in range(33 >> level)
    }
    for level, index, digest in completed:
        assert digest == subtree_hash(HASHES, (level, index))


def test_a_spans_pieces_fold_to_its_tree_hash() -> None:
    assert pieces(Span(0, 13)) == [(3, 0), (2, 2), (0, 12)]
    assert pieces(Span(16, 5)) == [(2, 4), (0, 20)]
    with pytest.raises(ValueError, match="not aligned"):
        pieces(Span(3, 4))

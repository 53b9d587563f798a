from __future__ import annotations

import msgspec

from domain.canonical import seal
from domain.chain import ChainCursor, check_entry, check_head
from domain.envelope import GENESIS_HASH
from tests.support.events import message
from tests.unit.domain.test_registry import envelope_of


def chain_of(n: int) -> list[bytes]:
    raws, prevhash = [], GENESIS_HASH
    for version in range(1, n + 1):
        envelope = msgspec.structs.replace(
            envelope_of(message(f"m{version}")), version=version, prevhash=prevhash
        )
        sealed, raw = seal(envelope)
        raws.append(raw)
        prevhash = sealed.hash or ""
    return raws


def walk(entries: list[tuple[int, bytes]]) -> tuple[ChainCursor, list[str]]:
    cursor, kinds = ChainCursor(stream="conversation-c1"), []
    for version, raw in entries:
        cursor, problems = check_entry(cursor, version, raw)
        kinds += [p.kind for p in problems]
    return cursor, kinds


def test_an_untouched_chain_has_no_problems() -> None:
    raws = chain_of(4)

    cursor, kinds = walk(list(enumerate(raws, start=1)))

    assert kinds == []
    assert cursor.version == 4
    assert check_head(cursor, 4, cursor.hash) == []


def test_an_edited_payload_breaks_its_hash() -> None:
    raws = chain_of(3)
    raws[1] = raws[1].replace(b"m2", b"m9")

    _, kinds = walk(list(enumerate(raws, start=1)))

    assert kinds == ["hash"]


def test_a_deleted_event_leaves_a_gap_and_a_broken_link() -> None:
    raws = chain_of(3)

    _, kinds = walk([(1, raws[0]), (3, raws[2])])

    assert "gap" in kinds
    assert "prevhash" in kinds


def test_an_event_moved_to_another_stream_is_caught() -> None:
    raws = chain_of(1)
    raws[0] = raws[0].replace(b"conversation-c1", b"conversation-c2")

    _, kinds = walk([(1, raws[0])])

    assert "wrong_stream" in kinds


def test_garbage_is_reported_as_malformed() -> None:
    _, kinds = walk([(1, b"\xff not json")])

    assert kinds == ["malformed"]


def test_a_head_that_points_past_the_stream_is_reported() -> None:
    raws = chain_of(2)
    cursor, _ = walk(list(enumerate(raws, start=1)))

    assert [p.kind for p in check_head(cursor, 3, cursor.hash)] == ["head"]

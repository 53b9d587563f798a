"""`check_stream`, the audit's one-pass chain check, says exactly what `check_entry` says entry by entry,
on clean chains and on every kind of damage."""

from __future__ import annotations

import json
import random

import pytest

from domain.chain import ChainCursor, check_entry, check_stream
from tests.unit.domain.test_chain import chain_of

STREAM = "conversation-c1"


def one_by_one(entries: list[tuple[int, bytes]]) -> tuple[ChainCursor, list[object]]:
    cursor, problems = ChainCursor(stream=STREAM), []
    for version, raw in entries:
        cursor, found = check_entry(cursor, version, raw)
        problems += found
    return cursor, problems


def damaged(seed: int) -> list[tuple[int, bytes]]:
    rng = random.Random(seed)
    entries = list(enumerate(chain_of(8), start=1))
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(entries))
        version, raw = entries[i]
        if not raw.startswith(b"{"):
            continue  # already made unreadable
        doc = json.loads(raw)
        match rng.randrange(8):
            case 0:
                entries[i] = (version, raw.replace(b"m", b"M", 1))
            case 1:
                del entries[i]
            case 2:
                entries[i], entries[-1] = entries[-1], entries[i]
            case 3:
                entries[i] = (version, b"not json")
            case 4:
                doc["prevhash"] = "ab" * 32
                entries[i] = (version, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
            case 5:
                doc["stream"] = "conversation-other"
                entries[i] = (version, json.dumps(doc).encode())
            case 6:
                entries[i] = (version + 10, raw)
            case _:
                doc.pop("id")
                doc["hash"] = "zz"
                entries[i] = (version, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    return entries


def test_a_clean_chain_has_no_problems_and_every_id() -> None:
    entries = list(enumerate(chain_of(5), start=1))

    cursor, problems, ids = check_stream(STREAM, entries)

    assert problems == []
    assert (cursor.version, cursor.hash) == (5, json.loads(entries[-1][1])["hash"])
    assert ids == [json.loads(raw)["id"] for _, raw in entries]


@pytest.mark.parametrize("seed", range(200))
def test_one_pass_says_what_entry_by_entry_says(seed: int) -> None:
    entries = damaged(seed)

    cursor, problems, ids = check_stream(STREAM, entries)

    assert (cursor, problems) == one_by_one(entries)
    assert len(ids) == len(entries)

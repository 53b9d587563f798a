"""The worked example of docs/consumers.md is recomputed here, from the page itself: a foreign verifier
(the stdlib `json`) gets its canonical bytes and hashes, and the store writes exactly those bytes today."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from domain.canonical import seal
from domain.catalog import REGISTRY
from domain.chain import ChainCursor, check_entry
from domain.envelope import GENESIS_HASH, EventOrigin, NewEvent
from infra.dataschema import LOCAL_SCHEMAS
from infra.event_store import envelope_for
from infra.keys import partition_of
from tests.support.consumers_doc import DOC, blocks

EXAMPLE = blocks()


def foreign_canonical(document: dict[str, Any]) -> bytes:
    unhashed = {key: value for key, value in document.items() if key != "hash"}
    return json.dumps(unhashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_worked_example_hashes_as_the_page_says() -> None:
    first, second = json.loads(EXAMPLE["stored-1"]), json.loads(EXAMPLE["stored-2"])
    canonical = EXAMPLE["canonical-1"].encode()

    assert foreign_canonical(first) == canonical
    assert hashlib.sha256(b"\x00" * 32 + canonical).hexdigest() == first["hash"]
    assert EXAMPLE["hash-1"].endswith(f"= {first['hash']}")
    assert first["prevhash"] == GENESIS_HASH
    assert second["prevhash"] == first["hash"]
    assert second["version"] == first["version"] + 1
    assert (
        hashlib.sha256(bytes.fromhex(first["hash"]) + foreign_canonical(second)).hexdigest() == second["hash"]
    )


def test_the_worked_example_is_what_the_store_writes_and_what_an_audit_accepts() -> None:
    cursor, problems = ChainCursor(stream="conversation-c7"), []
    for version, name in enumerate(["stored-1", "stored-2"], start=1):
        raw = EXAMPLE[name].encode()
        document = json.loads(raw)
        envelope = REGISTRY.decode(raw)
        event = NewEvent(
            data=envelope.data,
            id=envelope.id,
            time=envelope.time,
            correlationid=envelope.correlationid,
            causationid=envelope.causationid,
            traceparent=envelope.traceparent,
        )
        origin = EventOrigin(tenant=envelope.tenant, source=envelope.source)
        rewritten = envelope_for(
            envelope.stream, version, document["prevhash"], event, origin=origin, schemas=LOCAL_SCHEMAS
        )
        assert seal(rewritten)[1] == raw
        cursor, found = check_entry(cursor, version, raw)
        problems += found

    assert problems == []
    assert f"XRANGE aiwf:{{p{partition_of('conversation-c7', 8)}}}:log" in DOC.read_text(encoding="utf-8")


def test_the_page_holds_the_blocks_the_tests_read() -> None:
    assert {"stored-1", "canonical-1", "hash-1", "stored-2", "consumer.mjs"} <= EXAMPLE.keys()

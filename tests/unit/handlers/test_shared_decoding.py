"""The groups of one process share the decoding of the entries they read: what each gets is exactly
what decoding it alone would give, poison included."""

from __future__ import annotations

import gc

from domain.canonical import seal
from domain.catalog import REGISTRY
from domain.envelope import Envelope
from handlers.runtime.records import LogRecord, SharedDecoding, to_record
from tests.support.events import NOW, message

LOG = "aiwf:{p0}:log"


def raw_event(text: str = "bonjour", version: int = 1) -> bytes:
    envelope = Envelope(
        specversion="1.0",
        id=f"e{version}",
        source="aiwf://tests",
        type="aiwf.conversation.user_message_received.v1",
        time=NOW,
        datacontenttype="application/json",
        tenant="acme",
        stream="conversation-c1",
        version=version,
        prevhash="0" * 64,
        data=message(text),
    )
    return seal(envelope)[1]


POISON: dict[str, dict[bytes, bytes]] = {
    "no event field": {b"note": b"written by another program"},
    "malformed JSON": {b"event": b'{"specversion": "1.0", "type": "aiwf.nothing.v9", "id": 7'},
    "unknown type": {b"event": raw_event().replace(b"user_message_received", b"nothing_at_all")},
    "missing field": {b"event": raw_event().replace(b'"tenant":"acme",', b"")},
    "invalid payload": {b"event": raw_event().replace(b'"sensitivity":"public"', b'"sensitivity":"nope"')},
}


def test_every_group_gets_the_record_decoding_alone_gives_poison_included() -> None:
    entries = [{b"event": raw_event("a", 1)}, *POISON.values(), {b"event": raw_event("b", 2)}]
    ids = [f"1-{n}".encode() for n in range(len(entries))]
    decoding = SharedDecoding(REGISTRY)
    alone = [to_record(REGISTRY, i, e) for i, e in zip(ids, entries, strict=True)]
    for _group in range(5):
        assert decoding.records(LOG, ids, entries) == alone
    assert (decoding.decoded, decoding.shared) == (len(entries), 4 * len(entries))
    bad = [r for r in alone if r.envelope is None]
    assert len(bad) == len(POISON)
    assert all(r.error for r in bad)
    assert bad[0].raw is None
    assert bad[0].error == "no `event` field"


def test_the_same_id_with_other_bytes_is_decoded_again() -> None:
    """A log deleted and written again reuses entry ids: the bytes decide, not the id."""
    decoding = SharedDecoding(REGISTRY)
    [first] = decoding.records(LOG, [b"1-0"], [{b"event": raw_event("first")}])
    [poison] = decoding.records(LOG, [b"1-0"], [POISON["malformed JSON"]])
    [second] = decoding.records(LOG, [b"1-0"], [{b"event": raw_event("second")}])
    assert first.envelope is not None
    assert second.envelope is not None
    assert poison.envelope is None
    assert poison.error
    assert first.envelope.data != second.envelope.data
    assert decoding.shared == 0


def test_another_log_with_the_same_ids_is_decoded_on_its_own() -> None:
    decoding = SharedDecoding(REGISTRY)
    decoding.records(LOG, [b"1-0"], [{b"event": raw_event()}])
    decoding.records("aiwf:{p1}:log", [b"1-0"], [{b"event": raw_event()}])
    assert (decoding.decoded, decoding.shared) == (2, 0)


def test_only_the_most_recent_entries_are_kept() -> None:
    decoding = SharedDecoding(REGISTRY, capacity=2)
    ids = [b"1-0", b"1-1", b"1-2"]
    entries = [{b"event": raw_event(str(n), n + 1)} for n in range(3)]
    decoding.records(LOG, ids, entries)
    decoding.records(LOG, ids[1:], entries[1:])
    assert (decoding.decoded, decoding.shared) == (3, 2)
    decoding.records(LOG, ids[:1], entries[:1])
    assert decoding.decoded == 4


def test_decoded_records_are_left_to_reference_counting() -> None:
    """Frozen, they can be in no cycle: untracked, the cycle collector does not walk thousands of them."""
    [record] = SharedDecoding(REGISTRY).records(LOG, [b"1-0"], [{b"event": raw_event()}])
    assert isinstance(record, LogRecord)
    assert record.envelope is not None
    assert not gc.is_tracked(record)
    assert not gc.is_tracked(record.envelope)

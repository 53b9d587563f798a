"""The groups of one process share the decoding of the entries they read: what each gets is exactly
what decoding it alone would give, poison included."""

from __future__ import annotations

import gc

from domain.canonical import seal
from domain.catalog import REGISTRY
from domain.envelope import Envelope
from handlers.runtime.brokers import entries_as_sent
from handlers.runtime.records import LogRecord, SharedDecoding, event_of, to_record
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


POISON: dict[str, list[bytes]] = {
    "no event field": [b"note", b"written by another program"],
    "malformed JSON": [b"event", b'{"specversion": "1.0", "type": "aiwf.nothing.v9", "id": 7'],
    "unknown type": [b"event", raw_event().replace(b"user_message_received", b"nothing_at_all")],
    "missing field": [b"event", raw_event().replace(b'"tenant":"acme",', b"")],
    "invalid payload": [b"event", raw_event().replace(b'"sensitivity":"public"', b'"sensitivity":"nope"')],
}


def test_every_group_gets_the_record_decoding_alone_gives_poison_included() -> None:
    entries = [[b"event", raw_event("a", 1)], *POISON.values(), [b"event", raw_event("b", 2)]]
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
    [first] = decoding.records(LOG, [b"1-0"], [[b"event", raw_event("first")]])
    [poison] = decoding.records(LOG, [b"1-0"], [POISON["malformed JSON"]])
    [second] = decoding.records(LOG, [b"1-0"], [[b"event", raw_event("second")]])
    assert first.envelope is not None
    assert second.envelope is not None
    assert poison.envelope is None
    assert poison.error
    assert first.envelope.data != second.envelope.data
    assert decoding.shared == 0


def test_another_log_with_the_same_ids_is_decoded_on_its_own() -> None:
    decoding = SharedDecoding(REGISTRY)
    decoding.records(LOG, [b"1-0"], [[b"event", raw_event()]])
    decoding.records("aiwf:{p1}:log", [b"1-0"], [[b"event", raw_event()]])
    assert (decoding.decoded, decoding.shared) == (2, 0)


def test_only_the_most_recent_entries_are_kept_within_the_budget() -> None:
    ids = [b"1-0", b"1-1", b"1-2"]
    entries = [[b"event", raw_event(str(n), n + 1)] for n in range(3)]
    two = sum(len(e[1]) for e in entries[1:]) + 2 * 512  # each entry counts 512 bytes besides its own
    decoding = SharedDecoding(REGISTRY, budget=two)
    decoding.records(LOG, ids, entries)
    decoding.records(LOG, ids[1:], entries[1:])
    assert (decoding.decoded, decoding.shared) == (3, 2)
    decoding.records(LOG, ids[:1], entries[:1])
    assert decoding.decoded == 4
    assert decoding.kept(LOG) == 2


def test_decoded_records_are_left_to_reference_counting() -> None:
    """Frozen, they can be in no cycle: untracked, the cycle collector does not walk thousands of them."""
    [record] = SharedDecoding(REGISTRY).records(LOG, [b"1-0"], [[b"event", raw_event()]])
    assert isinstance(record, LogRecord)
    assert record.envelope is not None
    assert not gc.is_tracked(record)
    assert not gc.is_tracked(record.envelope)


def _entries(count: int) -> tuple[list[bytes], list[list[bytes]]]:
    return [f"1-{n}".encode() for n in range(count)], [
        [b"event", raw_event(str(n), n + 1)] for n in range(count)
    ]


def test_an_entry_every_reader_of_its_log_took_is_dropped_at_once() -> None:
    """A process whose groups keep up holds only what some of them have not read yet."""
    decoding = SharedDecoding(REGISTRY)
    ids, entries = _entries(3)
    alone = [to_record(REGISTRY, i, e) for i, e in zip(ids, entries, strict=True)]
    with decoding.reading(LOG), decoding.reading(LOG), decoding.reading(LOG):
        assert decoding.readers(LOG) == 3
        assert decoding.records(LOG, ids, entries) == alone
        assert decoding.kept(LOG) == 3
        assert decoding.records(LOG, ids[:2], entries[:2]) == alone[:2]
        assert decoding.kept(LOG) == 3
        assert decoding.records(LOG, ids, entries) == alone
        assert decoding.kept(LOG) == 1  # the third reader has not taken 1-2 yet
        assert decoding.records(LOG, ids[2:], entries[2:]) == alone[2:]
        assert decoding.kept(LOG) == 0
    assert (decoding.decoded, decoding.shared) == (3, 6)
    assert decoding.readers(LOG) == 0


def test_a_log_one_group_alone_reads_is_decoded_and_not_kept() -> None:
    decoding = SharedDecoding(REGISTRY)
    ids, entries = _entries(2)
    with decoding.reading(LOG):
        decoding.records(LOG, ids, entries)
        assert decoding.kept(LOG) == 0
        decoding.records("aiwf:{p1}:log", ids, entries)  # a log nobody said it reads: kept
        assert decoding.kept("aiwf:{p1}:log") == 2


def test_an_entry_taken_twice_by_one_reader_is_dropped_early_and_decoded_again_the_same() -> None:
    """A redelivery counts as a read: the last reader then decodes the entry again, never something else."""
    decoding = SharedDecoding(REGISTRY)
    ids, entries = _entries(1)
    alone = [to_record(REGISTRY, ids[0], entries[0])]
    with decoding.reading(LOG), decoding.reading(LOG), decoding.reading(LOG):
        assert decoding.records(LOG, ids, entries) == alone
        assert decoding.records(LOG, ids, entries) == alone  # first reader again
        assert decoding.records(LOG, ids, entries) == alone  # second reader: dropped after it
        assert decoding.kept(LOG) == 0
        assert decoding.records(LOG, ids, entries) == alone  # third reader decodes it again
    assert (decoding.decoded, decoding.shared) == (2, 2)


def test_other_bytes_under_a_kept_id_replace_it_or_drop_it_when_no_one_else_reads() -> None:
    decoding = SharedDecoding(REGISTRY)
    with decoding.reading(LOG), decoding.reading(LOG):
        [first] = decoding.records(LOG, [b"1-0"], [[b"event", raw_event("first")]])
        rewritten = [b"event", raw_event("second")]
        [second] = decoding.records(LOG, [b"1-0"], [rewritten])
        assert decoding.kept(LOG) == 1
        [again] = decoding.records(LOG, [b"1-0"], [rewritten])
        assert again == second != first
        assert decoding.kept(LOG) == 0
    with decoding.reading(LOG):
        decoding.records(LOG, [b"1-1"], [[b"event", raw_event("alone")]])
    decoding.records(LOG, [b"1-1"], [[b"event", raw_event("unknown readers")]])
    with decoding.reading(LOG):
        decoding.records(LOG, [b"1-1"], [[b"event", raw_event("alone again")]])
        assert decoding.kept(LOG) == 0


def test_a_reader_that_leaves_is_no_longer_waited_for() -> None:
    decoding = SharedDecoding(REGISTRY)
    ids, entries = _entries(1)
    with decoding.reading(LOG):
        with decoding.reading(LOG):
            assert decoding.readers(LOG) == 2
        assert decoding.readers(LOG) == 1
        decoding.records(LOG, ids, entries)
        assert decoding.kept(LOG) == 0


def test_the_event_field_is_found_among_others_in_any_place() -> None:
    raw = raw_event()
    assert event_of([b"event", raw]) == raw
    assert event_of([b"note", b"x", b"event", raw]) == raw
    assert event_of([b"note", b"event"]) is None  # a value that reads "event" is not the field
    assert event_of([]) is None
    assert to_record(REGISTRY, b"1-0", [b"note", b"x", b"event", raw]) == to_record(
        REGISTRY, b"1-0", [b"event", raw]
    )


def test_a_read_reply_keeps_each_entry_s_fields_as_redis_sent_them_in_either_protocol() -> None:
    entries = [[b"1-0", [b"event", b"{}"]], [b"1-1", [b"note", b"x", b"event", b"{}"]]]
    legacy = [[b"aiwf:{p0}:log", entries]]
    assert entries_as_sent({b"aiwf:{p0}:log": entries}) == legacy  # RESP3: a map of streams
    assert entries_as_sent([(b"aiwf:{p0}:log", entries)]) == legacy  # RESP2: a list of pairs
    assert entries_as_sent(None) == entries_as_sent({}) == []

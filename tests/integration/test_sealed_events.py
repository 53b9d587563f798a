"""The store seals sensitive fields on append and opens them on reads: retries stay idempotent, the chain
verifies what is stored, snapshots are sealed too, and a shredded subject opens as `[shredded]`."""

from __future__ import annotations

import msgspec
import pytest

from domain.errors import ShreddedSubject
from domain.types import Sensitivity
from infra.crypto.fields import PREFIX, SHREDDED
from infra.event_store import RedisEventStore
from tests.support.events import ORIGIN, message, new, started

RIP = "00799999001234567845"
STREAM = "conversation-c1"


def sensitive(text: str = f"Mon RIP {RIP}") -> object:
    return msgspec.structs.replace(message(text), sensitivity=Sensitivity.SENSITIVE)


async def test_a_sensitive_message_is_sealed_in_the_log_and_opened_by_the_store(
    standalone_store: RedisEventStore,
) -> None:
    store = standalone_store
    await store.append(STREAM, [new(started()), new(sensitive()), new(message("public"))], 0, ORIGIN)  # type: ignore[arg-type]

    stored = await store.read_stream(STREAM)

    raw = stored[1].raw
    assert RIP.encode() not in raw
    assert PREFIX.encode() in raw
    assert b'"keyid":"c1/dk-' in raw  # the subject, then its key
    assert b'"encalg":"AES-256-GCM"' in raw
    assert stored[1].envelope.data.text == f"Mon RIP {RIP}"  # type: ignore[attr-defined]
    assert stored[2].envelope.keyid is None
    assert b"public" in stored[2].raw


async def test_a_sealed_batch_sent_again_is_recognised_as_the_same_and_stored_once(
    standalone_store: RedisEventStore,
) -> None:
    events = [new(started()), new(sensitive())]  # type: ignore[arg-type]
    first = await standalone_store.append(STREAM, events, 0, ORIGIN)

    again = await standalone_store.append(STREAM, events, 0, ORIGIN)
    later = await standalone_store.append(STREAM, events, 2, ORIGIN)

    assert again == first == later
    assert len(await standalone_store.read_stream(STREAM)) == 2


async def test_a_snapshot_of_a_stream_with_sealed_fields_is_sealed_and_unreadable_once_shredded(
    standalone_store: RedisEventStore,
) -> None:
    store = standalone_store
    await store.append(STREAM, [new(started()), new(sensitive())], 0, ORIGIN)  # type: ignore[arg-type]
    plain = f'{{"state": "{RIP}"}}'.encode()

    await store.save_snapshot(STREAM, "conversation", 2, plain, tenant="acme")
    key = store.keys.for_stream(STREAM).snapshot(STREAM, "conversation")
    kept = await store.redis.client.hget(key, "doc")
    opened = await store.load_snapshot(STREAM, "conversation")
    assert store.cipher is not None
    await store.cipher.keys.shred("acme", "c1")

    assert RIP.encode() not in kept
    assert opened == plain
    assert await store.load_snapshot(STREAM, "conversation") is None  # refolded, and reads [shredded]
    assert (await store.read_stream(STREAM))[1].envelope.data.text == SHREDDED  # type: ignore[attr-defined]
    with pytest.raises(ShreddedSubject):
        await store.append(STREAM, [new(sensitive())], 2, ORIGIN)  # type: ignore[arg-type]
    await store.append(STREAM, [new(message("still public"))], 2, ORIGIN)  # nothing to seal: written


async def test_a_sealed_field_moved_to_another_event_does_not_open(standalone_store: RedisEventStore) -> None:
    store = standalone_store
    await store.append(STREAM, [new(started()), new(sensitive()), new(sensitive("autre"))], 0, ORIGIN)  # type: ignore[arg-type]
    stored = await store.read_stream(STREAM)
    assert store.cipher is not None
    first = store.registry.decode(stored[1].raw)
    second = store.registry.decode(stored[2].raw)
    swapped = msgspec.structs.replace(second, data=msgspec.structs.replace(second.data, text=first.data.text))  # type: ignore[attr-defined]

    with pytest.raises(Exception, match="does not open here"):
        await store.cipher.open(swapped)

"""Every appended event says what it is about (`subject`) and where the schema of its `data` is
(`dataschema`); events written before the store said so stay as they are, and a log holding both kinds
verifies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import msgspec
import pytest

from domain.chain import parse_document
from domain.conversation_events import ConversationClosed
from infra import event_store
from infra.audit import verify_store
from infra.dataschema import SchemaLocator
from infra.event_store import RedisEventStore
from tests.support.events import NOW, ORIGIN, batch, new

STREAM = "conversation-mixed-ages"


def as_written_before(*args: Any, **kwargs: Any) -> Any:
    """The envelope the store wrote before `subject` and `dataschema`: the same, without both."""
    envelope = ENVELOPE_FOR(*args, **kwargs)
    return msgspec.structs.replace(envelope, subject=None, dataschema=None)


ENVELOPE_FOR = event_store.envelope_for


async def test_an_appended_event_carries_its_aggregate_id_and_the_url_of_its_schema(
    standalone_store: RedisEventStore,
) -> None:
    store = RedisEventStore(
        standalone_store.redis,
        standalone_store.keys,
        standalone_store.registry,
        wait_fsync_ms=None,
        schemas=SchemaLocator(public_url="https://aiwf.example"),
    )
    await store.append("workflow-w-1:a", [new(ConversationClosed(closed_at=NOW))], 0, ORIGIN)

    [stored] = await store.read_stream("workflow-w-1:a")
    document = parse_document(stored.raw)

    assert document is not None
    assert document["subject"] == "w-1:a"
    assert document["dataschema"] == "https://aiwf.example/v1/schemas/aiwf.conversation.closed.v1"
    assert stored.envelope.subject == "w-1:a"


async def test_a_log_with_events_from_before_and_after_verifies(
    standalone_store: RedisEventStore, monkeypatch: pytest.MonkeyPatch, redis_url: str, database_url: str
) -> None:
    store = standalone_store
    with monkeypatch.context() as before:
        before.setattr(event_store, "envelope_for", as_written_before)
        old = batch(2, "old")
        await store.append(STREAM, old, expected_version=0, origin=ORIGIN)
        await store.append("conversation-only-old", batch(1), expected_version=0, origin=ORIGIN)
    await store.append(STREAM, batch(2, "new"), expected_version=2, origin=ORIGIN)
    resent = await store.append(STREAM, old, expected_version=0, origin=ORIGIN)  # a retry after the upgrade

    documents = [parse_document(e.raw) or {} for e in await store.read_stream(STREAM)]
    report = await verify_store(store)
    cli = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "infra.cli", "audit", "verify"],
        env={**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
        | {"AIWF_KEY_PREFIX": store.keys.prefix, "AIWF_PARTITIONS": str(store.keys.partitions)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert [("subject" in d, "dataschema" in d) for d in documents] == [(False, False)] * 2 + [
        (True, True)
    ] * 2
    assert documents[2]["prevhash"] == documents[1]["hash"]
    assert [p.version for p in resent] == [1, 2]
    assert (report.problems, report.events) == ([], 5)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "audit: OK" in cli.stdout

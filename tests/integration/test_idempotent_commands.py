"""A command with an idempotency key runs once per stream, however late it is redone.

Found by the chaos suite: its events' ids derived from the stream's version, so the deployer redoing an
approval after the workflow had moved on (its consumer group recreated) requested a second deployment,
and a request re-run after its claim expired could store a message twice."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest

from commands.context import CommandContext
from commands.conversations import send_message, start_conversation
from domain.conversation_events import UserMessageReceived
from domain.errors import DuplicateEventId
from handlers.managers import steps
from handlers.managers.steps import ManagerDeps
from infra.event_store import RedisEventStore
from tests.support.events import ORIGIN, batch, message, new, started


def ctx(key: str | None) -> CommandContext:
    return CommandContext(
        tenant="acme", actor="k1", now=datetime(2026, 12, 7, tzinfo=UTC), idempotency_key=key
    )


async def test_a_command_redone_after_the_stream_moved_on_appends_nothing_and_answers_as_before(
    store: RedisEventStore,
) -> None:
    started = await start_conversation(store, ctx(None), title="Ventes", language="fr")
    cid = started.stream.removeprefix("conversation-")
    first = await send_message(store, ctx("request-1"), cid, "Envoie le total des ventes sur Slack")
    await send_message(store, ctx("request-2"), cid, "Et préviens Yalidine")  # the stream moves on

    again = await send_message(store, ctx("request-1"), cid, "Envoie le total des ventes sur Slack")

    assert again.event_ids == first.event_ids
    assert again.positions == first.positions
    texts = [
        e.envelope.data.text
        for e in await store.read_stream(started.stream)
        if isinstance(e.envelope.data, UserMessageReceived)
    ]
    assert texts == ["Envoie le total des ventes sur Slack", "Et préviens Yalidine"]


async def test_without_a_key_the_same_command_twice_is_two_commands(store: RedisEventStore) -> None:
    started = await start_conversation(store, ctx(None), title=None, language="fr")
    cid = started.stream.removeprefix("conversation-")

    one = await send_message(store, ctx(None), cid, "bonjour")
    two = await send_message(store, ctx(None), cid, "bonjour")

    assert one.event_ids != two.event_ids
    assert two.version == one.version + 1


async def test_a_step_redone_with_another_decision_keeps_its_first_one(store: RedisEventStore) -> None:
    """A process manager's step redone late may decide otherwise from a state that moved on (a reply
    worded for a later turn); its id, derived from its cause, is stored: the first decision stands."""
    stream = "conversation-c1"
    await store.append(stream, [new(started("c1"))], 0, ORIGIN)
    deps = cast(ManagerDeps, SimpleNamespace(store=store))
    await steps.append(deps, ORIGIN.tenant, stream, [new(message("first reply"), "step-1")])
    await store.append(stream, batch(2), 2, ORIGIN)

    await steps.append(deps, ORIGIN.tenant, stream, [new(message("another reply"), "step-1")])

    texts = [
        e.envelope.data.text
        for e in await store.read_stream(stream)
        if isinstance(e.envelope.data, UserMessageReceived)
    ]
    assert texts == ["first reply", "msg 0", "msg 1"]


async def test_a_step_whose_id_is_not_stored_still_fails_loudly(store: RedisEventStore) -> None:
    stream = "conversation-c2"
    await store.append(stream, [new(started("c2")), new(message("stored"), "step-2")], 0, ORIGIN)
    deps = cast(ManagerDeps, SimpleNamespace(store=store))

    with pytest.raises(DuplicateEventId):  # "step-2" is stored, "step-3" is not: half of a batch
        await steps.append(
            deps, ORIGIN.tenant, "conversation-c3", [new(message("x"), "step-3"), new(message("y"), "step-2")]
        )

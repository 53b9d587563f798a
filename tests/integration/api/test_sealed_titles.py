"""A conversation's sealed title, kept sealed by its read model, opened for its tenant from its first event
(api/reveal.py), and `[shredded]` once the conversation is."""

from __future__ import annotations

from api import reveal
from domain.conversation_events import ConversationStarted
from domain.envelope import EventOrigin
from domain.ids import uuid7
from domain.types import Sensitivity
from infra.crypto.fields import PREFIX, SHREDDED
from projections import queries
from tests.integration.api.conftest import Stack
from tests.support.events import NOW, new

TITLE = "Paiements depuis le RIP 00799999002345678165"


async def test_a_sealed_title_is_opened_for_its_tenant_and_reads_shredded_once_shredded(stack: Stack) -> None:
    cid, public = uuid7(), uuid7()
    origin = EventOrigin(tenant="acme", source="aiwf://tests")
    for conversation_id, title, level in ((cid, TITLE, Sensitivity.SENSITIVE), (public, "Ventes", "public")):
        started = ConversationStarted(
            conversation_id=conversation_id,
            started_by="k1",
            title=title,
            sensitivity=Sensitivity(level),
            started_at=NOW,
        )
        await stack.store.append(f"conversation-{conversation_id}", [new(started)], 0, origin)
    assert await stack.runtime.wait_caught_up(timeout_s=20)
    row = await queries.get_conversation(stack.pool, "acme", cid)
    other = await queries.get_conversation(stack.pool, "acme", public)
    assert row is not None
    assert other is not None

    opened = await reveal.conversation(stack.deps, row)
    listed = await reveal.conversations(stack.deps, [row, other])
    async with stack.client("acme-admin") as admin:
        assert (await admin.delete(f"/v1/subjects/{cid}")).status_code == 202
    shredded = await reveal.conversation(stack.deps, row)

    assert row.title is not None
    assert row.title.startswith(PREFIX)
    assert opened.title == TITLE
    assert [r.title for r in listed] == [TITLE, "Ventes"]
    assert listed[1] is other  # nothing sealed: left as it is
    assert shredded.title == SHREDDED


async def test_a_title_or_a_close_reason_holding_a_rip_is_classified_sealed_and_read_back_opened(
    stack: Stack,
) -> None:
    async with stack.client() as http:
        started = await http.post("/v1/conversations", json={"title": TITLE})
        cid = started.json()["conversation_id"]
        closed = await http.post(f"/v1/conversations/{cid}/close", json={"reason": f"payé depuis {TITLE}"})
        assert (started.status_code, closed.status_code) == (202, 202)
        assert await stack.runtime.wait_caught_up(timeout_s=20)
        one = (await http.get(f"/v1/conversations/{cid}")).json()
        listed = (await http.get("/v1/conversations")).json()["items"]
    stored = await stack.pool.fetchval("SELECT title FROM conversations WHERE conversation_id = $1", cid)
    events = await stack.store.read_stream(f"conversation-{cid}")

    assert stored.startswith(PREFIX)
    assert (one["title"], listed[0]["title"]) == (TITLE, TITLE)
    assert all(b"00799999002345678165" not in e.raw for e in events)
    closing = events[-1].envelope.data
    assert getattr(closing, "reason", None) == f"payé depuis {TITLE}"  # opened for the store's readers

"""From a user's message to a validated n8n workflow awaiting approval, every step an event."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from commands.context import CommandContext
from commands.workflows import approve_workflow, reject_workflow
from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import AssistantReplied
from domain.errors import InvalidTransition
from domain.workflow_events import WorkflowDrafted, WorkflowValidated
from tests.integration.managers.conftest import MainJob

DEMO = (
    "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack, "
    "et préviens le livreur Yalidine pour les commandes payées"
)


def kinds(events: list) -> Counter[str]:
    return Counter(e.envelope.type.split(".")[2] for e in events)


async def test_a_message_becomes_a_validated_workflow_and_a_reply_that_says_it_awaits_approval(
    main_job: MainJob,
) -> None:
    cid = await main_job.conversation()
    await main_job.say(cid, DEMO)

    [reply] = await main_job.replies(cid)

    events = await main_job.events(cid)
    assert kinds(events) == Counter(
        {
            "started": 1,
            "user_message_received": 1,
            "inference_decided": 4,  # orchestrator, sales, logistics, designer
            "intent_classified": 1,
            "agent_delegated": 2,
            "agent_finding_recorded": 2,
            "assistant_replied": 1,
        }
    )
    data = reply.envelope.data
    assert isinstance(data, AssistantReplied)
    assert data.kind == "workflow"
    assert "attend votre approbation" in data.text
    workflow = await main_job.store.read_stream(workflow_stream(data.workflow_id or ""))
    drafted, validated = (e.envelope.data for e in workflow)
    assert isinstance(drafted, WorkflowDrafted)
    assert isinstance(validated, WorkflowValidated)
    assert (drafted.revision, validated.revision, drafted.conversation_id) == (1, 1, cid)
    nodes = {n["type"] for n in json.loads(drafted.definition)["nodes"]}
    assert {"n8n-nodes-base.scheduleTrigger", "n8n-nodes-base.slack"} <= nodes


async def test_a_rejection_with_a_reason_drafts_the_next_revision_and_only_it_can_be_approved(
    main_job: MainJob,
) -> None:
    cid = await main_job.conversation()
    await main_job.say(cid, "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack")
    [first] = await main_job.replies(cid)
    workflow_id = first.envelope.data.workflow_id
    ctx = CommandContext(tenant="acme", actor="k1", now=datetime.now(UTC))
    await reject_workflow(main_job.store, ctx, workflow_id, 1, "plutôt sur Telegram")

    [_, second] = await main_job.replies(cid, count=2)

    assert second.envelope.data.workflow_revision == 2
    assert "révision 2" in second.envelope.data.text
    drafts = [e.envelope.data for e in await main_job.store.read_stream(workflow_stream(workflow_id))]
    assert [type(d).__name__ for d in drafts] == [
        "WorkflowDrafted",
        "WorkflowValidated",
        "WorkflowRejected",
        "WorkflowDrafted",
        "WorkflowValidated",
    ]
    nodes = {n["type"] for n in json.loads(drafts[3].definition)["nodes"]}
    assert "n8n-nodes-base.telegram" in nodes
    with pytest.raises(InvalidTransition):
        await approve_workflow(main_job.store, ctx, workflow_id, 1)
    approved = await approve_workflow(main_job.store, ctx, workflow_id, 2)
    assert approved.event_ids

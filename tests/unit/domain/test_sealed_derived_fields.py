"""What derives from a sensitive turn is sealed too: the intents' summary, a delegation's task, the replies,
and a workflow's n8n JSON with what the validator, n8n and people said of it; names and outline stay
public, and a draft's digest covers its definition as it reads."""

from __future__ import annotations

import hashlib

import msgspec

from domain.conversation_events import AgentDelegated, AssistantReplied, IntentClassified
from domain.envelope import DomainEvent
from domain.sealed_fields import map_paths, sealed_paths, with_digests
from domain.types import AgentRole, Sensitivity
from domain.workflow_events import (
    DraftedNode,
    ValidationProblem,
    WorkflowDeploymentFailed,
    WorkflowDrafted,
    WorkflowRejected,
    WorkflowRetired,
    WorkflowValidated,
    WorkflowValidationFailed,
)
from tests.support.events import NOW

RIP = "00799999002345678165"
DEFINITION = f'{{"name": "Paiements fournisseurs", "nodes": [], "note": "RIP {RIP}"}}'
LEVELS = (Sensitivity.INTERNAL, Sensitivity.SENSITIVE)


def classified(level: Sensitivity, summary: str = f"pay from RIP {RIP}") -> IntentClassified:
    return IntentClassified(
        message_id="m1", intents=(), summary=summary, sensitivity=level, classified_at=NOW
    )


def delegated(level: Sensitivity) -> AgentDelegated:
    return AgentDelegated(
        delegation_id="d1",
        agent=AgentRole.FINANCE,
        task=f"list payments from RIP {RIP}",
        message_id="m1",
        sensitivity=level,
        delegated_at=NOW,
    )


def replied(level: Sensitivity, text: str = f"Voici le workflow pour le RIP {RIP}") -> AssistantReplied:
    return AssistantReplied(message_id="r1", text=text, sensitivity=level, replied_at=NOW)


def drafted(level: Sensitivity, definition: str = DEFINITION) -> WorkflowDrafted:
    return WorkflowDrafted(
        workflow_id="w1",
        conversation_id="c1",
        revision=1,
        name="Paiements fournisseurs",
        definition=definition,
        definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
        sensitivity=level,
        nodes=(DraftedNode(name="Every Friday", node_type="n8n-nodes-base.noOp", type_version="1"),),
        drafted_at=NOW,
    )


def problem(message: str) -> ValidationProblem:
    return ValidationProblem(code="inline_secret", message=message, node="Send Email")


def test_above_public_the_summary_the_task_and_the_reply_drawn_from_a_turn_are_sealed() -> None:
    for level in LEVELS:
        assert sealed_paths(classified(level)) == ("summary",)
        assert sealed_paths(delegated(level)) == ("task",)
        assert sealed_paths(replied(level)) == ("text",)


def test_a_public_turn_s_summary_task_and_reply_are_left_as_they_are() -> None:
    assert sealed_paths(classified(Sensitivity.PUBLIC)) == ()
    assert sealed_paths(delegated(Sensitivity.PUBLIC)) == ()
    assert sealed_paths(replied(Sensitivity.PUBLIC)) == ()
    assert sealed_paths(classified(Sensitivity.SENSITIVE, summary="")) == ()
    assert sealed_paths(replied(Sensitivity.SENSITIVE, text="")) == ()


def test_above_public_a_draft_s_definition_is_sealed_and_its_names_and_outline_never_are() -> None:
    for level in LEVELS:
        assert sealed_paths(drafted(level)) == ("definition",)
    assert sealed_paths(drafted(Sensitivity.PUBLIC)) == ()


def test_what_the_validator_and_n8n_said_of_a_sensitive_draft_is_sealed_message_by_message() -> None:
    validated = WorkflowValidated(
        revision=1,
        checks=("inline_secret",),
        n8n_version="2.8.4",
        warnings=(problem(f"the RIP {RIP} is inline"), problem(""), problem("another")),
        sensitivity=Sensitivity.SENSITIVE,
        validated_at=NOW,
    )
    failed = WorkflowValidationFailed(
        revision=1, problems=(problem("x"),), sensitivity=Sensitivity.SENSITIVE, failed_at=NOW
    )
    deployment = WorkflowDeploymentFailed(
        deployment_id="dep1",
        revision=1,
        attempt=1,
        status=400,
        message=f"bad parameter: {RIP}",
        retryable=False,
        sensitivity=Sensitivity.INTERNAL,
        failed_at=NOW,
    )

    assert sealed_paths(validated) == ("warnings.0.message", "warnings.2.message")  # nothing in the 2nd
    assert sealed_paths(failed) == ("problems.0.message",)
    assert sealed_paths(deployment) == ("message",)
    public = msgspec.structs.replace(validated, sensitivity=Sensitivity.PUBLIC)
    assert sealed_paths(public) == ()
    assert sealed_paths(msgspec.structs.replace(deployment, sensitivity=Sensitivity.PUBLIC)) == ()


def test_a_person_s_reason_is_sealed_at_its_own_sensitivity_and_an_empty_one_is_not() -> None:
    rejected = WorkflowRejected(
        revision=1,
        rejected_by="k1",
        reason=f"use RIP {RIP}",
        sensitivity=Sensitivity.SENSITIVE,
        rejected_at=NOW,
    )
    retired = WorkflowRetired(
        reason=f"closed RIP {RIP}", retired_by="k1", sensitivity=Sensitivity.SENSITIVE, retired_at=NOW
    )

    assert sealed_paths(rejected) == ("reason",)
    assert sealed_paths(retired) == ("reason",)
    assert sealed_paths(msgspec.structs.replace(rejected, reason="")) == ()
    assert sealed_paths(msgspec.structs.replace(rejected, sensitivity=Sensitivity.PUBLIC)) == ()
    assert sealed_paths(msgspec.structs.replace(retired, sensitivity=Sensitivity.PUBLIC)) == ()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_draft_s_digest_covers_its_definition_as_it_reads_sealed_opened_or_shredded() -> None:
    plain = drafted(Sensitivity.SENSITIVE)
    sealed = with_digests(map_paths(plain, ("definition",), lambda _p, _v: "aiwf:enc:1:c2VhbGVk"))
    opened = with_digests(map_paths(sealed, ("definition",), lambda _p, _v: DEFINITION))
    shredded = with_digests(map_paths(sealed, ("definition",), lambda _p, _v: "[shredded]"))

    assert isinstance(sealed, WorkflowDrafted)
    assert sealed.definition_sha256 == sha("aiwf:enc:1:c2VhbGVk")
    assert sha(DEFINITION) not in msgspec.json.encode(sealed).decode()  # no plaintext digest to confirm
    assert opened == plain
    assert isinstance(shredded, WorkflowDrafted)
    assert shredded.definition_sha256 == sha("[shredded]")


def test_with_digests_leaves_every_other_event_as_it_is() -> None:
    events: list[DomainEvent] = [classified(Sensitivity.SENSITIVE), replied(Sensitivity.SENSITIVE)]

    assert all(with_digests(event) is event for event in events)


def test_events_recorded_before_their_sensitivity_was_kept_keep_their_bytes() -> None:
    """A default sensitivity is left out of the JSON: the bytes (and the hash chain) of old events stay."""
    for event in (
        classified(Sensitivity.PUBLIC),
        delegated(Sensitivity.PUBLIC),
        replied(Sensitivity.PUBLIC),
        msgspec.structs.replace(drafted(Sensitivity.PUBLIC), nodes=()),
    ):
        assert b"sensitivity" not in msgspec.json.encode(event)
        assert b'"nodes"' not in msgspec.json.encode(event)

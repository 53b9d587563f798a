"""Given events, when a person approves or rejects, then events (or an error): the Workflow decider."""

from __future__ import annotations

import pytest

from domain import workflow
from domain.errors import InvalidTransition, NotFound
from domain.workflow import ApproveWorkflow, NoWorkflow, RejectWorkflow
from domain.workflow_events import (
    WorkflowApproved,
    WorkflowDrafted,
    WorkflowRejected,
    WorkflowValidated,
    WorkflowValidationFailed,
)
from tests.support.events import NOW

DRAFT = WorkflowDrafted(
    workflow_id="w1",
    conversation_id="c1",
    revision=1,
    name="Daily sales",
    definition="{}",
    definition_sha256="0" * 64,
    drafted_at=NOW,
)
VALID = WorkflowValidated(revision=1, checks=("node_types",), n8n_version="2.8.4", validated_at=NOW)
APPROVE = ApproveWorkflow(approved_by="k1", approved_at=NOW)


def test_a_validated_workflow_is_approved_by_a_person() -> None:
    assert workflow.decide(APPROVE, workflow.fold([DRAFT, VALID])) == [
        WorkflowApproved(revision=1, approved_by="k1", approved_at=NOW)
    ]


def test_approving_twice_changes_nothing() -> None:
    approved = WorkflowApproved(revision=1, approved_by="k1", approved_at=NOW)

    assert workflow.decide(APPROVE, workflow.fold([DRAFT, VALID, approved])) == []


def test_a_workflow_that_failed_validation_cannot_be_approved() -> None:
    failed = WorkflowValidationFailed(revision=1, problems=(), failed_at=NOW)

    with pytest.raises(InvalidTransition, match="invalid workflow cannot be approved"):
        workflow.decide(APPROVE, workflow.fold([DRAFT, failed]))


def test_approving_a_revision_the_person_did_not_see_is_refused() -> None:
    stale = ApproveWorkflow(approved_by="k1", revision=2, approved_at=NOW)

    with pytest.raises(InvalidTransition, match="revision 2"):
        workflow.decide(stale, workflow.fold([DRAFT, VALID]))


def test_a_person_can_reject_a_draft_with_a_reason() -> None:
    reject = RejectWorkflow(rejected_by="k1", reason="wrong channel", rejected_at=NOW)

    [event] = workflow.decide(reject, workflow.fold([DRAFT]))

    assert event == WorkflowRejected(revision=1, rejected_by="k1", reason="wrong channel", rejected_at=NOW)


def test_a_missing_workflow_is_not_found() -> None:
    with pytest.raises(NotFound):
        workflow.decide(APPROVE, NoWorkflow())

"""Given events, when a person approves or rejects, then events (or an error): the Workflow decider."""

from __future__ import annotations

import msgspec
import pytest

from domain import workflow
from domain.errors import InvalidTransition, NotFound
from domain.types import Sensitivity
from domain.workflow import (
    ApproveWorkflow,
    Deployed,
    N8nCopy,
    NeedsCredentials,
    NoWorkflow,
    RecordDeactivation,
    RecordDeployment,
    RejectWorkflow,
    RequestDeployment,
    RetireWorkflow,
)
from domain.workflow_events import (
    MissingCredential,
    WorkflowApproved,
    WorkflowDeactivated,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
    WorkflowNeedsCredentials,
    WorkflowRejected,
    WorkflowRetired,
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


# --- deployment -------------------------------------------------------------------------------------

APPROVED = WorkflowApproved(revision=1, approved_by="k1", approved_at=NOW)
REQUEST = RequestDeployment(
    deployment_id="d1", target="http://n8n", requested_by="aiwf-deployer", requested_at=NOW
)
REQUESTED = WorkflowDeploymentRequested(
    deployment_id="d1", revision=1, target="http://n8n", requested_by="aiwf-deployer", requested_at=NOW
)
DEPLOYED = WorkflowDeployed(
    deployment_id="d1", revision=1, n8n_workflow_id="n1", n8n_version_id="v1", active=True, deployed_at=NOW
)
MISSING = (MissingCredential(node="Post to Slack", credential_type="slackApi"),)


def test_an_approved_workflow_is_deployed_on_request_and_remembers_the_n8n_copy() -> None:
    assert workflow.decide(REQUEST, workflow.fold([DRAFT, VALID, APPROVED])) == [REQUESTED]
    state = workflow.fold([DRAFT, VALID, APPROVED, REQUESTED, DEPLOYED])

    assert isinstance(state, Deployed)
    assert state.status == "deployed"
    assert state.in_n8n == N8nCopy(n8n_workflow_id="n1", revision=1, active=True)


def test_a_workflow_nobody_approved_cannot_be_deployed() -> None:
    with pytest.raises(InvalidTransition, match="validated workflow cannot be deployed"):
        workflow.decide(REQUEST, workflow.fold([DRAFT, VALID]))


def test_one_deployment_at_a_time_and_the_same_request_twice_is_a_no_op() -> None:
    deploying = workflow.fold([DRAFT, VALID, APPROVED, REQUESTED])
    again = msgspec.structs.replace(REQUEST, deployment_id="d2")

    assert workflow.decide(again, deploying) == []
    assert workflow.decide(REQUEST, workflow.fold([DRAFT, VALID, APPROVED, REQUESTED, DEPLOYED])) == []


def test_a_failed_deployment_can_be_requested_again_as_the_next_attempt() -> None:
    failed = WorkflowDeploymentFailed(
        deployment_id="d1", revision=1, attempt=1, status=503, message="down", retryable=True, failed_at=NOW
    )
    retry = msgspec.structs.replace(REQUEST, deployment_id="d2")

    [requested] = workflow.decide(retry, workflow.fold([DRAFT, VALID, APPROVED, REQUESTED, failed]))

    assert isinstance(requested, WorkflowDeploymentRequested)
    assert (requested.deployment_id, requested.attempt) == ("d2", 2)


def test_an_outcome_is_recorded_only_for_the_current_deployment() -> None:
    deploying = workflow.fold([DRAFT, VALID, APPROVED, REQUESTED])
    stale = msgspec.structs.replace(DEPLOYED, deployment_id="d0")

    assert workflow.decide(RecordDeployment(outcome=DEPLOYED), deploying) == [DEPLOYED]
    assert workflow.decide(RecordDeployment(outcome=stale), deploying) == []


def test_a_workflow_that_needs_credentials_keeps_its_inactive_n8n_copy_and_what_is_missing() -> None:
    needs = WorkflowNeedsCredentials(
        deployment_id="d1", revision=1, n8n_workflow_id="n1", missing=MISSING, noted_at=NOW
    )
    state = workflow.fold([DRAFT, VALID, APPROVED, REQUESTED, needs])

    assert isinstance(state, NeedsCredentials)
    assert state.missing == MISSING
    assert state.in_n8n == N8nCopy(n8n_workflow_id="n1", revision=1, active=False)


def test_a_new_revision_keeps_the_n8n_copy_so_it_is_updated_in_place() -> None:
    second = msgspec.structs.replace(DRAFT, revision=2, definition='{"name": "v2"}')
    state = workflow.fold([DRAFT, VALID, APPROVED, REQUESTED, DEPLOYED, second])

    assert isinstance(state, workflow.Drafted)
    assert state.revision == 2
    assert state.in_n8n is not None
    assert state.in_n8n.n8n_workflow_id == "n1"


def test_retiring_a_deployed_workflow_then_its_deactivation_is_recorded_once() -> None:
    retired = WorkflowRetired(reason="season over", retired_by="k1", retired_at=NOW)
    deactivate = RecordDeactivation(n8n_workflow_id="n1", deactivated_at=NOW)
    history = [DRAFT, VALID, APPROVED, REQUESTED, DEPLOYED]

    assert workflow.decide(
        RetireWorkflow(retired_by="k1", reason="season over", retired_at=NOW), workflow.fold(history)
    ) == [retired]
    [deactivated] = workflow.decide(deactivate, workflow.fold([*history, retired]))
    assert isinstance(deactivated, WorkflowDeactivated)
    assert workflow.decide(deactivate, workflow.fold([*history, retired, deactivated])) == []


# --- sensitivity --------------------------------------------------------------------------------------


def test_a_person_s_reason_keeps_its_sensitivity_when_rejecting_or_retiring() -> None:
    [rejection] = workflow.decide(
        RejectWorkflow(rejected_by="k1", reason="RIP …", sensitivity=Sensitivity.SENSITIVE, rejected_at=NOW),
        workflow.fold([DRAFT]),
    )
    [retirement] = workflow.decide(
        RetireWorkflow(retired_by="k1", reason="RIP …", sensitivity=Sensitivity.SENSITIVE, retired_at=NOW),
        workflow.fold([DRAFT, VALID, APPROVED]),
    )

    assert isinstance(rejection, WorkflowRejected)
    assert isinstance(retirement, WorkflowRetired)
    assert rejection.sensitivity == retirement.sensitivity == Sensitivity.SENSITIVE


def test_the_state_knows_the_current_draft_s_name_and_sensitivity_for_what_tells_of_it() -> None:
    sensitive = msgspec.structs.replace(DRAFT, revision=2, name="Relances", sensitivity=Sensitivity.SENSITIVE)

    first = workflow.fold([DRAFT])
    second = workflow.fold([DRAFT, VALID, sensitive, VALID])

    assert isinstance(first, workflow.WorkflowBase)
    assert (first.name, first.sensitivity) == ("Daily sales", Sensitivity.PUBLIC)
    assert isinstance(second, workflow.WorkflowBase)
    assert (second.name, second.sensitivity) == ("Relances", Sensitivity.SENSITIVE)

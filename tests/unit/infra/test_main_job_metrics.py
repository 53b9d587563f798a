"""Each fact of the main job moves its metric once, with closed-set labels only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    InferenceRefused,
    IntentClassified,
)
from domain.envelope import DomainEvent, NewEvent
from domain.types import AgentRole, Sensitivity
from domain.workflow_events import (
    ValidationProblem,
    WorkflowApproved,
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
from inference.routing import RoutingPolicy, decide_route
from infra.main_job_metrics import (
    count_appended,
    count_n8n_retry,
    n8n_operation,
    refusal_category,
    retry_cause,
    timed_step,
)
from infra.n8n.client import N8nClient, N8nError, N8nInstance, N8nUnavailable
from infra.observability import REGISTRY
from tests.support.events import NOW, decided, message, new
from tests.support.fake_n8n import FakeN8n
from tests.unit.infra.test_n8n_client import POLICY, _free_port

Sample = tuple[str, dict[str, str]]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@contextmanager
def moved(*samples: Sample) -> Iterator[Callable[[], list[float]]]:
    """How much each sample moved inside the block."""
    before = [value(name, **labels) for name, labels in samples]
    after: list[float] = []
    yield lambda: [a - b for a, b in zip(after, before, strict=True)]
    after.extend(value(name, **labels) for name, labels in samples)


def caused(data: DomainEvent, cause: str) -> NewEvent:
    return NewEvent(data=data, id=f"{cause}-{type(data).__name__}-{id(data)}", time=NOW, causationid=cause)


def drafted(revision: int = 1) -> WorkflowDrafted:
    return WorkflowDrafted(
        workflow_id="w1",
        conversation_id="c1",
        revision=revision,
        name="Daily total",
        definition="{}",
        definition_sha256="b" * 64,
        drafted_at=NOW,
    )


def failed(revision: int = 1) -> WorkflowValidationFailed:
    problem = ValidationProblem(code="no_trigger", message="no trigger")
    return WorkflowValidationFailed(revision=revision, problems=(problem,), failed_at=NOW)


def validated(revision: int = 1) -> WorkflowValidated:
    return WorkflowValidated(revision=revision, checks=("structure",), n8n_version="2.8.4", validated_at=NOW)


def test_the_conversation_facts_count_messages_intents_delegations_findings_and_replies() -> None:
    samples: list[Sample] = [
        ("aiwf_messages_received_total", {"sensitivity": "public"}),
        ("aiwf_intents_classified_total", {}),
        ("aiwf_agent_delegations_total", {"agent": "sales"}),
        ("aiwf_agent_findings_total", {"agent": "sales"}),
        ("aiwf_assistant_replies_total", {"kind": "workflow"}),
    ]
    with moved(*samples) as delta:
        count_appended(
            [
                new(message()),
                new(IntentClassified(message_id="m1", intents=(), summary="s", classified_at=NOW)),
                new(
                    AgentDelegated(
                        delegation_id="d1", agent=AgentRole.SALES, task="t", message_id="m1", delegated_at=NOW
                    )
                ),
                new(
                    AgentFindingRecorded(
                        delegation_id="d1", agent=AgentRole.SALES, summary="s", recorded_at=NOW
                    )
                ),
                new(AssistantReplied(message_id="r1", text="ok", kind="workflow", replied_at=NOW)),
            ]
        )
    assert delta() == [1, 1, 1, 1, 1]


def test_a_model_call_counts_by_provider_and_outcome_with_its_tokens_cost_and_latency() -> None:
    model = {"provider": "anthropic", "model": "claude-x"}
    samples: list[Sample] = [
        ("aiwf_model_calls_total", {**model, "purpose": "sales", "outcome": "ok"}),
        ("aiwf_model_tokens_total", {**model, "kind": "input"}),
        ("aiwf_model_tokens_total", {**model, "kind": "output"}),
        ("aiwf_model_cost_micro_usd_total", model),
        ("aiwf_model_call_seconds_count", {"provider": "anthropic", "outcome": "ok"}),
    ]
    with moved(*samples) as delta:
        count_appended(
            [new(decided(provider="anthropic", model="claude-x", tokens=(120, 30), cost_micro_usd=900))]
        )
    assert delta() == [1, 120, 30, 900, 1]


def test_the_workflow_facts_count_drafted_valid_invalid_approved_rejected_deployed_and_failed() -> None:
    samples: list[Sample] = [
        ("aiwf_workflows_drafted_total", {}),
        ("aiwf_workflow_validations_total", {"verdict": "valid"}),
        ("aiwf_workflow_validations_total", {"verdict": "invalid"}),
        ("aiwf_workflows_approved_total", {}),
        ("aiwf_workflows_rejected_total", {}),
        ("aiwf_workflow_deployments_requested_total", {"attempt": "first"}),
        ("aiwf_workflow_deployments_requested_total", {"attempt": "retry"}),
        ("aiwf_workflows_deployed_total", {}),
        ("aiwf_workflows_needing_credentials_total", {}),
        ("aiwf_workflow_deployments_failed_total", {"retryable": "true"}),
    ]

    def requested(attempt: int) -> WorkflowDeploymentRequested:
        return WorkflowDeploymentRequested(
            deployment_id=f"dep{attempt}",
            revision=1,
            target="http://n8n",
            attempt=attempt,
            requested_by="u",
            requested_at=NOW,
        )

    with moved(*samples) as delta:
        count_appended(
            [
                new(drafted()),
                new(validated()),
                new(failed()),
                new(WorkflowApproved(revision=1, approved_by="u", approved_at=NOW)),
                new(WorkflowRejected(revision=1, rejected_by="u", reason="no", rejected_at=NOW)),
                new(requested(1)),
                new(requested(2)),
                new(
                    WorkflowDeployed(
                        deployment_id="dep1",
                        revision=1,
                        n8n_workflow_id="n1",
                        n8n_version_id=None,
                        active=True,
                        deployed_at=NOW,
                    )
                ),
                new(
                    WorkflowNeedsCredentials(
                        deployment_id="dep1", revision=1, n8n_workflow_id="n1", missing=(), noted_at=NOW
                    )
                ),
                new(
                    WorkflowDeploymentFailed(
                        deployment_id="dep2",
                        revision=1,
                        attempt=2,
                        status=503,
                        message="down",
                        retryable=True,
                        failed_at=NOW,
                    )
                ),
            ]
        )
    assert delta() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def test_a_draft_made_again_for_the_step_whose_draft_was_refused_is_a_repair_round() -> None:
    with moved(("aiwf_workflow_repair_rounds_total", {}), ("aiwf_workflows_drafted_total", {})) as delta:
        count_appended([caused(drafted(1), "finding-a"), caused(failed(1), "finding-a")])
        count_appended([caused(drafted(2), "finding-a"), caused(failed(2), "finding-a")])
        count_appended([caused(drafted(3), "finding-a"), caused(validated(3), "finding-a")])
    assert delta() == [2, 3]


def test_a_draft_of_another_step_after_a_refused_one_is_no_repair_round() -> None:
    with moved(("aiwf_workflow_repair_rounds_total", {})) as delta:
        count_appended([caused(drafted(1), "finding-b"), caused(failed(1), "finding-b")])
        count_appended([caused(drafted(2), "rejection-b"), caused(validated(2), "rejection-b")])
        count_appended([new(drafted(3)), new(validated(3))])  # no cause at all
    assert delta() == [0]


def everything() -> float:
    return sum(sample.value for m in REGISTRY.collect() if m.name.startswith("aiwf_") for sample in m.samples)


def test_a_fact_operators_do_not_watch_counts_nothing() -> None:
    before = everything()
    count_appended([new(WorkflowRetired(reason="old", retired_by="u", retired_at=NOW))])
    assert everything() == before


@pytest.mark.parametrize(
    ("local", "exposure", "category"),
    [
        ("absent", None, "no_local_model"),
        ("circuit_open", None, "local_circuit_open"),
        ("unhealthy", None, "local_unhealthy"),
        (
            "ready",
            "the local model at http://10.0.0.5 is reached over plain HTTP off this machine, "
            "not declared trusted (AIWF_VLLM_TRUSTED=1)",
            "local_untrusted_transport",
        ),
    ],
)
def test_each_refusal_the_router_writes_has_its_own_category(
    local: str, exposure: str | None, category: str
) -> None:
    decision = decide_route(Sensitivity.SENSITIVE, local, "ready", RoutingPolicy(), local_exposure=exposure)  # type: ignore[arg-type]
    reason = f"sensitive (iban): {decision.reason}"
    assert refusal_category(reason) == category


def test_a_refusal_after_every_provider_failed_is_providers_failed_even_when_it_quotes_the_route() -> None:
    reason = (
        "sensitive: local model only; the local model is unhealthy; vllm answered with error: 500; "
        "no allowed provider answered, and sensitive data never goes to the cloud"
    )
    assert refusal_category(reason) == "providers_failed"


def test_a_refusal_worded_otherwise_is_other_and_counted_under_it() -> None:
    assert refusal_category("a reason no code writes today") == "other"
    refused = InferenceRefused(
        inference_id="i1",
        purpose=AgentRole.FINANCE,
        sensitivity=Sensitivity.SENSITIVE,
        reason="something new",
        refused_at=NOW,
    )
    with moved(("aiwf_inferences_refused_total", {"purpose": "finance", "category": "other"})) as delta:
        count_appended([new(refused)])
    assert delta() == [1]


def test_an_n8n_retry_is_counted_by_operation_and_cause_without_the_workflow_it_is_about() -> None:
    assert n8n_operation("activate workflow 8f2c") == "activate workflow"
    assert n8n_operation("create workflow 'Daily total'") == "create workflow"
    assert n8n_operation("something else") == "other"
    assert [retry_cause(s) for s in (None, 429, 502, 409)] == [
        "unreachable",
        "rate_limited",
        "server_error",
        "other",
    ]
    with moved(("aiwf_n8n_retries_total", {"operation": "get workflow", "cause": "server_error"})) as delta:
        count_n8n_retry("get workflow 8f2c", 503)
    assert delta() == [1]


def test_a_step_is_timed_by_manager_and_outcome_and_its_error_still_raises() -> None:
    ok = ("aiwf_manager_step_seconds_count", {"manager": "unit", "outcome": "ok"})
    error = ("aiwf_manager_step_seconds_count", {"manager": "unit", "outcome": "error"})
    with moved(ok, error) as delta:
        with timed_step("unit"):
            pass
        with pytest.raises(RuntimeError), timed_step("unit"):
            raise RuntimeError("the step failed")
    assert delta() == [1, 1]


async def test_the_n8n_client_counts_each_retry_it_makes_and_not_an_answer_it_does_not_retry() -> None:
    retried = ("aiwf_n8n_retries_total", {"operation": "list tags", "cause": "rate_limited"})
    unreachable = ("aiwf_n8n_retries_total", {"operation": "list credentials", "cause": "unreachable"})
    not_found = ("aiwf_n8n_retries_total", {"operation": "get workflow", "cause": "other"})
    with FakeN8n(page_size=2) as fake, moved(retried, unreachable, not_found) as delta:
        async with N8nClient(
            N8nInstance(url=fake.url + "/", api_key=fake.api_key), policy=POLICY, sleep=_no_wait
        ) as n8n:
            fake.fail_next("GET", "/api/v1/tags", status=429, times=2)
            await n8n.list_tags()
            fake.fail_next("GET", "/api/v1/workflows/w404", status=404)
            with pytest.raises(N8nError):
                await n8n.get_workflow("w404")
        async with N8nClient(
            N8nInstance(url=f"http://127.0.0.1:{_free_port()}/", api_key="k"),
            policy=POLICY,
            sleep=_no_wait,
        ) as down:
            with pytest.raises(N8nUnavailable):
                await down.list_credentials()
    assert delta() == [2, POLICY.attempts - 1, 0]


async def _no_wait(_seconds: float) -> None:
    return None

"""The main job's Prometheus metrics (docs/operations.md, docs/adr/0036-main-job-metrics.md).

What happened is counted where it is stored: `count_appended` runs once per batch the event store
appended anew, so a redelivered step, whose batch is already stored, counts nothing again. Labels are
closed sets only (agent role, provider, model, outcome, a refusal's category): never a tenant, a stream
or an id.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Literal

from prometheus_client import Counter, Histogram

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    InferenceDecided,
    InferenceRefused,
    IntentClassified,
    UserMessageReceived,
)
from domain.envelope import DomainEvent, NewEvent
from domain.workflow_events import (
    WorkflowApproved,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
    WorkflowNeedsCredentials,
    WorkflowRejected,
    WorkflowValidated,
    WorkflowValidationFailed,
)
from infra.observability import REGISTRY

log = logging.getLogger(__name__)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

MESSAGES = Counter("aiwf_messages_received", "User messages recorded", ["sensitivity"], registry=REGISTRY)
INTENTS = Counter("aiwf_intents_classified", "Messages the orchestrator classified", registry=REGISTRY)
DELEGATIONS = Counter("aiwf_agent_delegations", "Tasks delegated to an agent", ["agent"], registry=REGISTRY)
FINDINGS = Counter("aiwf_agent_findings", "Findings an agent recorded", ["agent"], registry=REGISTRY)
REPLIES = Counter("aiwf_assistant_replies", "Replies to the user, by kind", ["kind"], registry=REGISTRY)
DRAFTED = Counter("aiwf_workflows_drafted", "Workflow revisions drafted", registry=REGISTRY)
VALIDATED = Counter(
    "aiwf_workflow_validations",
    "Validator verdicts on drafts (valid / invalid)",
    ["verdict"],
    registry=REGISTRY,
)
REPAIRS = Counter(
    "aiwf_workflow_repair_rounds", "Drafts made again after the validator refused one", registry=REGISTRY
)
APPROVED = Counter("aiwf_workflows_approved", "Workflow revisions approved", registry=REGISTRY)
REJECTED = Counter("aiwf_workflows_rejected", "Workflow revisions rejected by a person", registry=REGISTRY)
DEPLOYMENTS = Counter(
    "aiwf_workflow_deployments_requested",
    "Deployments asked for: first (an approval) or retry (a person asked again)",
    ["attempt"],
    registry=REGISTRY,
)
DEPLOYED = Counter("aiwf_workflows_deployed", "Workflow revisions deployed to n8n", registry=REGISTRY)
NEEDS_CREDENTIALS = Counter(
    "aiwf_workflows_needing_credentials", "Deployments stopped for missing credentials", registry=REGISTRY
)
DEPLOY_FAILED = Counter(
    "aiwf_workflow_deployments_failed", "Deployments that failed", ["retryable"], registry=REGISTRY
)
MODEL_CALLS = Counter(
    "aiwf_model_calls",
    "Model calls decided, by provider, model, purpose and outcome",
    ["provider", "model", "purpose", "outcome"],
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "aiwf_model_tokens", "Tokens of model calls", ["provider", "model", "kind"], registry=REGISTRY
)
MODEL_COST = Counter(
    "aiwf_model_cost_micro_usd",
    "Cost of model calls in millionths of a USD",
    ["provider", "model"],
    registry=REGISTRY,
)
MODEL_SECONDS = Histogram(
    "aiwf_model_call_seconds",
    "Latency of a model call as the gateway measured it",
    ["provider", "outcome"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
REFUSED = Counter(
    "aiwf_inferences_refused",
    "Model calls the gateway refused to send anywhere, by purpose and category of reason",
    ["purpose", "category"],
    registry=REGISTRY,
)
N8N_RETRIES = Counter(
    "aiwf_n8n_retries",
    "Calls to n8n tried again, by operation and cause",
    ["operation", "cause"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "aiwf_manager_step_seconds",
    "Time a process manager spends on one event, by manager and outcome (ok / error)",
    ["manager", "outcome"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
PROJECTOR_SECONDS = Histogram(
    "aiwf_projector_batch_seconds",
    "Time a projector spends on one batch (one transaction)",
    ["projection"],
    buckets=_SECONDS,
    registry=REGISTRY,
)

RefusalCategory = Literal[
    "providers_failed",
    "local_untrusted_transport",
    "no_local_model",
    "local_circuit_open",
    "local_unhealthy",
    "other",
]
# First match wins: a "no allowed provider answered" reason also quotes the route it followed.
_REFUSAL_MARKS: tuple[tuple[str, RefusalCategory], ...] = (
    ("no allowed provider answered", "providers_failed"),
    ("not declared trusted", "local_untrusted_transport"),
    ("no local model is configured", "no_local_model"),
    ("the local model's circuit is open", "local_circuit_open"),
    ("the local model is unhealthy", "local_unhealthy"),
)


def refusal_category(reason: str) -> RefusalCategory:
    """A closed set for a refusal's free text (inference/routing.py and inference/gateway.py write it)."""
    for mark, category in _REFUSAL_MARKS:
        if mark in reason:
            return category
    return "other"


# The operations infra/n8n/client.py names, without the workflow, tag or credential they are about.
_N8N_OPERATIONS = (
    "create workflow",
    "get workflow",
    "find workflows",
    "update workflow",
    "activate workflow",
    "deactivate workflow",
    "delete workflow",
    "list tags",
    "create tag",
    "set tags of workflow",
    "list credentials",
    "create credential",
    "delete credential",
    "read credential schema",
    "get execution",
    "read n8n settings",
    "read n8n editor page",
)


def n8n_operation(operation: str) -> str:
    return next((known for known in _N8N_OPERATIONS if operation.startswith(known)), "other")


def retry_cause(status: int | None) -> str:
    if status is None:
        return "unreachable"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "other"


def count_n8n_retry(operation: str, status: int | None) -> None:
    N8N_RETRIES.labels(operation=n8n_operation(operation), cause=retry_cause(status)).inc()


@contextlib.contextmanager
def timed_step(manager: str) -> Iterator[None]:
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        STEP_SECONDS.labels(manager=manager, outcome=outcome).observe(time.perf_counter() - started)


class _RepairWatch:
    """Which steps (by the event that caused them) saw a draft refused: the designer's next draft for
    the same cause is a repair round. Per process and bounded: a designer run is one step in one process."""

    KEPT = 4096

    def __init__(self) -> None:
        self._refused: OrderedDict[str, None] = OrderedDict()

    def refused(self, cause: str | None) -> None:
        if cause is None:
            return
        self._refused[cause] = None
        if len(self._refused) > self.KEPT:
            self._refused.popitem(last=False)

    def is_repair(self, cause: str | None) -> bool:
        return cause is not None and cause in self._refused


_repairs = _RepairWatch()


def count_appended(events: Sequence[NewEvent]) -> None:
    """Once per batch the store appended anew (never for a stored batch sent again). The batch is
    stored by then: a metric that fails must not make the caller believe the append did."""
    try:
        for event in events:
            _count(event.data, event.causationid)
    except Exception:
        log.exception("metrics of an appended batch not counted")


def _count(data: DomainEvent, cause: str | None) -> None:
    if not _count_conversation(data):
        _count_workflow(data, cause)


def _count_conversation(data: DomainEvent) -> bool:
    match data:
        case UserMessageReceived(sensitivity=sensitivity):
            MESSAGES.labels(sensitivity=str(sensitivity)).inc()
        case IntentClassified():
            INTENTS.inc()
        case AgentDelegated(agent=agent):
            DELEGATIONS.labels(agent=str(agent)).inc()
        case AgentFindingRecorded(agent=agent):
            FINDINGS.labels(agent=str(agent)).inc()
        case InferenceDecided():
            _count_model_call(data)
        case InferenceRefused(purpose=purpose, reason=reason):
            REFUSED.labels(purpose=str(purpose), category=refusal_category(reason)).inc()
        case AssistantReplied(kind=kind):
            REPLIES.labels(kind=kind).inc()
        case _:
            return False
    return True


def _count_workflow(data: DomainEvent, cause: str | None) -> None:
    match data:
        case WorkflowDrafted():
            DRAFTED.inc()
            if _repairs.is_repair(cause):
                REPAIRS.inc()
        case WorkflowValidated():
            VALIDATED.labels(verdict="valid").inc()
        case WorkflowValidationFailed():
            VALIDATED.labels(verdict="invalid").inc()
            _repairs.refused(cause)
        case WorkflowApproved():
            APPROVED.inc()
        case WorkflowRejected():
            REJECTED.inc()
        case WorkflowDeploymentRequested(attempt=attempt):
            DEPLOYMENTS.labels(attempt="first" if attempt <= 1 else "retry").inc()
        case WorkflowDeployed():
            DEPLOYED.inc()
        case WorkflowNeedsCredentials():
            NEEDS_CREDENTIALS.inc()
        case WorkflowDeploymentFailed(retryable=retryable):
            DEPLOY_FAILED.labels(retryable=str(retryable).lower()).inc()
        case _:
            pass  # not a fact operators watch (conversation started, workflow retired, ...)


def _count_model_call(call: InferenceDecided) -> None:
    model = {"provider": call.provider, "model": call.model}
    MODEL_CALLS.labels(**model, purpose=str(call.purpose), outcome=call.outcome).inc()
    for kind, tokens in (
        ("input", call.input_tokens),
        ("output", call.output_tokens),
        ("cache_read", call.cache_read_tokens),
        ("cache_write", call.cache_write_tokens),
    ):
        if tokens:
            MODEL_TOKENS.labels(**model, kind=kind).inc(tokens)
    if call.cost_micro_usd:
        MODEL_COST.labels(**model).inc(call.cost_micro_usd)
    MODEL_SECONDS.labels(provider=call.provider, outcome=call.outcome).observe(call.latency_ms / 1000)

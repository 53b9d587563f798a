"""The parts of a workflow's SBOM that cyclonedx-python-lib does not model (model cards, service trust
zones, the formulation), our properties, and the provenance they are read from. Pure functions."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from cyclonedx.model import Property

from projections.sbom_inputs import (
    AnySource,
    Attempt,
    ClassificationSource,
    DelegationSource,
    FindingSource,
    InferenceSource,
    MessageSource,
    RevisionRecord,
    SbomSubject,
    status_of,
)

NS: Final = "aiwf"  # our property namespace: `aiwf:<topic>:<name>`
OFFLINE: Final = "offline"
SERVICE_NAMES: Final = {"anthropic": "Anthropic Messages API", "vllm": "vLLM sidecar (OpenAI-compatible API)"}
_LOCALITY: Final = {"anthropic": "cloud", "vllm": "local", OFFLINE: "local"}
_SENSITIVITY_RANK: Final = {"public": 0, "internal": 1, "sensitive": 2}


def prop(name: str, value: str | None) -> Property:
    return Property(name=f"{NS}:{name}", value=value)


def _json_prop(name: str, value: str) -> dict[str, str]:
    return {"name": f"{NS}:{name}", "value": value}


# --- keys of the things a BOM names -------------------------------------------------------------


def model_key(call: InferenceSource) -> str:
    return f"model:{call.provider}:{call.model}"


def prompt_key(call: InferenceSource) -> str:
    return f"prompt:{call.template_id}@{call.template_version}:{call.template_sha256[:12]}"


def locality_of(call: InferenceSource) -> str:
    """Recorded on the decision since it was kept; before that, known from the provider."""
    return call.locality or _LOCALITY.get(call.provider, "unknown")


def endpoint_key(call: InferenceSource) -> str | None:
    """The service a call went to; None for the planner that answers in this process."""
    if call.provider == OFFLINE:
        return None
    return f"service:{call.provider}" + (f":{call.endpoint}" if call.endpoint else "")


# --- provenance: the sources the draft names --------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """A user message the design read: how it was classified, and what each agent found about it."""

    message: MessageSource | None
    classification: ClassificationSource
    delegations: tuple[DelegationSource, ...]
    findings: tuple[FindingSource, ...]


@dataclass(frozen=True)
class Provenance:
    calls: tuple[InferenceSource, ...]  # the model decisions the draft names, in the draft's order
    turns: tuple[Turn, ...]
    designer: InferenceSource | None

    @classmethod
    def of(cls, record: RevisionRecord, sources: Sequence[AnySource]) -> Provenance:
        inferences = {s.inference_id: s for s in sources if isinstance(s, InferenceSource)}
        named = list(dict.fromkeys(record.draft.inference_ids))
        calls = tuple(inferences[i] for i in named if i in inferences)
        messages = {s.message_id: s for s in sources if isinstance(s, MessageSource)}
        findings = {s.inference_id: s for s in sources if isinstance(s, FindingSource) and s.inference_id}
        turns = tuple(
            Turn(
                message=messages.get(c.message_id),
                classification=c,
                delegations=tuple(
                    s for s in sources if isinstance(s, DelegationSource) and s.message_id == c.message_id
                ),
                findings=(),
            )
            for c in _classifications(sources, named)
        )
        turns = tuple(_with_findings(t, [findings[i] for i in named if i in findings]) for t in turns)
        designer = calls[-1] if calls and calls[-1].purpose == "designer" else None
        return cls(calls=calls, turns=turns, designer=designer)

    def by_model(self) -> dict[str, list[InferenceSource]]:
        return _grouped(self.calls, model_key)

    def by_prompt(self) -> dict[str, list[InferenceSource]]:
        return _grouped(self.calls, prompt_key)

    def by_endpoint(self) -> dict[str, list[InferenceSource]]:
        return _grouped(
            (c for c in self.calls if endpoint_key(c) is not None), lambda c: endpoint_key(c) or ""
        )

    def workflow_sensitivity(self) -> str:
        """What the n8n JSON may derive from: what the designer was sent, else the messages read."""
        if self.designer is not None:
            return self.designer.sensitivity
        seen = [t.message.sensitivity for t in self.turns if t.message is not None]
        return max(seen, key=lambda s: _SENSITIVITY_RANK.get(s, 0), default="public")


def _classifications(sources: Sequence[AnySource], named: list[str]) -> list[ClassificationSource]:
    wanted = set(named)
    return [s for s in sources if isinstance(s, ClassificationSource) and s.inference_id in wanted]


def _with_findings(turn: Turn, findings: list[FindingSource]) -> Turn:
    ids = {d.delegation_id for d in turn.delegations}
    mine = tuple(f for f in findings if f.delegation_id in ids)
    return Turn(
        message=turn.message, classification=turn.classification, delegations=turn.delegations, findings=mine
    )


def _grouped(calls: Iterable[InferenceSource], key: Any) -> dict[str, list[InferenceSource]]:
    groups: dict[str, list[InferenceSource]] = {}
    for call in calls:
        groups.setdefault(key(call), []).append(call)
    return groups


# --- the workflow component ------------------------------------------------------------------------


def workflow_properties(
    subject: SbomSubject, record: RevisionRecord, provenance: Provenance
) -> list[Property]:
    pairs: list[tuple[str, str | None]] = [
        ("workflow:id", subject.workflow_id),
        ("workflow:revision", str(record.revision)),
        ("workflow:status", status_of(record)),
        ("tenant", subject.tenant),
        ("conversation:id", subject.conversation_id),
        ("workflow:drafted-at", _time(record.draft.at)),
        ("data:classification", provenance.workflow_sensitivity()),
    ]
    pairs += [
        ("data:sensitive-field", f)
        for f in sorted({f for t in provenance.turns for x in t.findings for f in x.sensitive_fields})
    ]
    if record.verdict is not None:
        pairs += [
            ("validation:status", "valid" if record.verdict.valid else "invalid"),
            ("validation:n8n-version", record.verdict.n8n_version),
        ]
        pairs += [("validation:problem", p) for p in record.verdict.problems]
    if (decision := record.decision) is not None:
        kind = "approval" if decision.approved else "rejection"
        pairs += [(f"{kind}:by", decision.by), (f"{kind}:at", _time(decision.at))]
        if decision.reason:
            pairs.append((f"{kind}:reason", decision.reason))
    if record.attempts:
        pairs += _deployment_pairs(record.attempts, active=record.deactivated is None)
    if record.retired is not None:
        pairs.append(("workflow:retired-at", _time(record.retired.at)))
    if record.deactivated is not None:
        pairs.append(("deployment:deactivated-at", _time(record.deactivated.at)))
    return [prop(name, value) for name, value in pairs if value is not None]


def _deployment_pairs(attempts: Sequence[Attempt], *, active: bool) -> list[tuple[str, str | None]]:
    """The last attempt's outcome; `active` False once the deployer turned the n8n copy off."""
    last = attempts[-1]
    return [
        ("deployment:status", last.outcome),
        ("deployment:attempts", str(len(attempts))),
        ("deployment:instance", last.target),
        ("deployment:n8n-workflow-id", last.n8n_workflow_id),
        ("deployment:n8n-version-id", last.n8n_version_id),
        ("deployment:n8n-version", last.n8n_version),
        ("deployment:active", "true" if last.active and active else "false"),
        *(("deployment:missing-credential-type", t) for t in last.missing_types),
    ]


def revision_note(record: RevisionRecord) -> str | None:
    revised = record.revised
    if revised is None:
        return None
    why = {
        "rejected": f"rejected by {revised.by}" + (f": {revised.reason}" if revised.reason else ""),
        "invalid": "refused by the validator",
    }.get(revised.status, f"{revised.status} when this one was drafted")
    changes = [
        f"{label} {', '.join(names)}"
        for label, names in (
            ("added", revised.added),
            ("removed", revised.removed),
            ("changed", revised.changed),
        )
        if names
    ]
    sealed = " (their parameters are sealed and were not compared)" if revised.parameters_sealed else ""
    return (
        f"Revision {record.revision} follows revision {revised.revision} ({why}). Nodes{sealed}: "
        + ("; ".join(changes) if changes else "the same nodes")
        + "."
    )


def model_description(call: InferenceSource) -> str:
    if call.provider == OFFLINE:
        return (
            "The AI Workflow Platform's offline planner: deterministic keyword rules and fixed n8n node "
            "templates, no learned weights. Not a language model."
        )
    where = "in the cloud" if locality_of(call) == "cloud" else "on the operator's machine"
    return f"Language model {call.model} reached through {call.provider}, {where}"


# --- what the library lacks, added to its JSON ------------------------------------------------------


def complete(document: dict[str, Any], record: RevisionRecord, provenance: Provenance) -> None:
    calls = provenance.by_model()
    for component in document.get("components", []):
        if component.get("type") == "machine-learning-model":
            component["modelCard"] = model_card(calls[component["bom-ref"]])
    for service in document.get("services", []):
        service["trustZone"] = _trust_zone(service)
    document["formulation"] = [{"bom-ref": "formulation", "workflows": [_formula(record, provenance)]}]


def model_card(calls: Sequence[InferenceSource]) -> dict[str, Any]:
    first = calls[0]
    roles = sorted({c.purpose for c in calls})
    uses = [_USE_CASES.get(r, r) for r in roles]
    limits = [
        "Its answers are kept only when they match the role's JSON schema; the designer's drafts are "
        "then checked by the n8n validator, which does not prove a workflow does what was asked."
    ]
    parameters: dict[str, Any] = {
        "inputs": [{"format": "text: the conversation, and the agents' findings for the designer"}],
        "outputs": [{"format": "JSON document of the role's schema (an n8n workflow for the designer)"}],
    }
    if first.provider == OFFLINE:
        parameters |= {
            "task": "rule-based planning",
            "architectureFamily": "rule-based system (no learned weights)",
            "modelArchitecture": "keyword lexicon (fr, ar, darija, en) and fixed n8n node templates",
        }
        limits = [
            "Not a language model: it recognises only the intents, channels and n8n nodes in its lexicon "
            "(inference/offline_lexicon.toml) and understands nothing else.",
            "Deterministic: the same conversation always gets the same answer.",
            *limits,
        ]
    else:
        parameters["task"] = "text-generation"
        limits.append(
            "Receives only text the privacy classifier found public: sensitive data never goes to the cloud."
            if locality_of(first) == "cloud"
            else "Runs on the operator's machine: the only kind of model sensitive data may be sent to."
        )
    return {
        "modelParameters": parameters,
        "considerations": {"useCases": uses, "technicalLimitations": limits},
    }


_USE_CASES: Final = {
    "orchestrator": "orchestrator: read a message's intents and choose the specialist agents",
    "sales": "Sales Expert: find what a sales request needs",
    "logistics": "Logistics Specialist: find what a delivery request needs",
    "finance": "Finance Advisor: find what a payment or invoicing request needs",
    "designer": "workflow designer: draft the n8n workflow from the request and the findings",
}


def _trust_zone(service: dict[str, Any]) -> str:
    if service.get("bom-ref") == "service:n8n":
        return "local" if not service.get("x-trust-boundary") else "remote"
    return "cloud" if service.get("x-trust-boundary") else "local"


def is_local_url(url: str) -> bool:
    """Loopback, a private address or `localhost`: the machine (or network) the platform runs on."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


# --- formulation ------------------------------------------------------------------------------------


def _formula(record: RevisionRecord, provenance: Provenance) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []
    inputs: list[str] = []
    for turn in provenance.turns:
        orchestrator = _orchestrator_task(turn, provenance)
        tasks.append(orchestrator)
        agents = [_agent_task(f, turn, provenance) for f in turn.findings]
        tasks += agents
        dependencies += [{"ref": a["bom-ref"], "dependsOn": [orchestrator["bom-ref"]]} for a in agents]
        inputs += [a["bom-ref"] for a in agents] or [orchestrator["bom-ref"]]
    steps = _workflow_tasks(record, provenance)
    chain = [*([inputs] if inputs else []), *([[t["bom-ref"]] for t in steps])]
    dependencies += [
        {"ref": later[0], "dependsOn": sorted(earlier)} for earlier, later in itertools.pairwise(chain)
    ]
    tasks += steps
    times = [t[key] for t in tasks for key in ("timeStart", "timeEnd") if key in t]
    formula: dict[str, Any] = {
        "bom-ref": f"formulation:revision-{record.revision}",
        "uid": f"revision-{record.revision}:{record.draft.event_id}",
        "name": f"How revision {record.revision} was produced",
        "description": "The main job's steps, each with the ids of the events that record it",
        "taskTypes": sorted({tt for t in tasks for tt in t["taskTypes"]}),
        "tasks": tasks,
    }
    if dependencies:
        formula["taskDependencies"] = dependencies
    if times:
        formula |= {"timeStart": min(times), "timeEnd": max(times)}
    return formula


def _task(ref: str, uid: str, name: str, kind: str, *span: datetime) -> dict[str, Any]:
    """A formulation task; `span` is when it started and when it ended."""
    start, end = span
    return {
        "bom-ref": ref,
        "uid": uid,
        "name": name,
        "taskTypes": [kind],
        "timeStart": _time(start),
        "timeEnd": _time(end),
        "properties": [],
    }


def _events(task: dict[str, Any], *pairs: tuple[str, str | None]) -> None:
    task["properties"] += [_json_prop(f"event:{kind}", event_id) for kind, event_id in pairs if event_id]


def _uses(task: dict[str, Any], call: InferenceSource | None) -> None:
    if call is None:
        return
    task["inputs"] = [{"resource": {"ref": model_key(call)}}, {"resource": {"ref": prompt_key(call)}}]
    _events(task, ("inference_decided", call.event_id))
    task["properties"] += [
        _json_prop("inference:id", call.inference_id),
        _json_prop("inference:provider", call.provider),
        _json_prop("inference:model", call.model),
        _json_prop("inference:route-reason", call.route_reason),
        _json_prop("inference:sensitivity", call.sensitivity),
        _json_prop("inference:outcome", call.outcome),
        _json_prop("inference:input-tokens", str(call.input_tokens)),
        _json_prop("inference:output-tokens", str(call.output_tokens)),
        _json_prop("inference:latency-ms", str(call.latency_ms)),
    ]


def _call(provenance: Provenance, inference_id: str | None) -> InferenceSource | None:
    return next((c for c in provenance.calls if c.inference_id == inference_id), None)


def _orchestrator_task(turn: Turn, provenance: Provenance) -> dict[str, Any]:
    c = turn.classification
    start = turn.message.at if turn.message is not None else c.at
    task = _task(
        f"task:orchestrator:{c.message_id}", c.event_id, "orchestrator: intents", "other", start, c.at
    )
    if turn.message is not None:
        _events(task, ("user_message_received", turn.message.event_id))
        task["properties"].append(_json_prop("message:sensitivity", turn.message.sensitivity))
        task["properties"] += [_json_prop("message:data-kind", k) for k in turn.message.data_kinds]
    _uses(task, _call(provenance, c.inference_id))
    _events(
        task, ("intent_classified", c.event_id), *(("agent_delegated", d.event_id) for d in turn.delegations)
    )
    task["properties"] += [_json_prop("intent", i) for i in c.intents]
    return task


def _agent_task(finding: FindingSource, turn: Turn, provenance: Provenance) -> dict[str, Any]:
    delegated = next((d for d in turn.delegations if d.delegation_id == finding.delegation_id), None)
    start = delegated.at if delegated is not None else finding.at
    task = _task(
        f"task:agent:{finding.delegation_id}",
        finding.event_id,
        f"{finding.agent}: finding",
        "other",
        start,
        finding.at,
    )
    _uses(task, _call(provenance, finding.inference_id))
    _events(task, ("agent_finding_recorded", finding.event_id))
    task["properties"] += [_json_prop("n8n:node-type", n) for n in finding.n8n_nodes]
    return task


def _workflow_tasks(record: RevisionRecord, provenance: Provenance) -> list[dict[str, Any]]:
    draft = record.draft
    start = provenance.designer.at if provenance.designer is not None else draft.at
    designer = _task("task:designer", draft.event_id, "designer: n8n workflow", "build", start, draft.at)
    _uses(designer, provenance.designer)
    _events(designer, ("workflow_drafted", draft.event_id))
    designer["outputs"] = [{"type": "artifact", "resource": {"ref": "workflow"}}]
    tasks = [designer]
    if (verdict := record.verdict) is not None:
        task = _task(
            "task:validator", verdict.event_id, "validator: n8n rules", "test", verdict.at, verdict.at
        )
        _events(
            task, ("workflow_validated" if verdict.valid else "workflow_validation_failed", verdict.event_id)
        )
        task["properties"] += [_json_prop("validation:check", c) for c in verdict.checks]
        tasks.append(task)
    if (decision := record.decision) is not None:
        kind = "approval" if decision.approved else "rejection"
        task = _task(
            f"task:{kind}",
            decision.event_id,
            f"{kind} by {decision.by}",
            "release" if decision.approved else "other",
            decision.at,
            decision.at,
        )
        _events(task, ("workflow_approved" if decision.approved else "workflow_rejected", decision.event_id))
        tasks.append(task)
    for attempt in record.attempts:
        end = attempt.answered.at if attempt.answered is not None else attempt.requested.at
        task = _task(
            f"task:deployment:{attempt.attempt}:{attempt.deployment_id}",
            attempt.requested.event_id,
            f"deployment {attempt.attempt} to n8n: {attempt.outcome}",
            "deploy",
            attempt.requested.at,
            end,
        )
        answer = attempt.answered.event_id if attempt.answered is not None else None
        outcome = _OUTCOME_EVENTS.get(attempt.outcome, attempt.outcome)
        _events(task, ("workflow_deployment_requested", attempt.requested.event_id), (outcome, answer))
        tasks.append(task)
    if record.retired is not None:
        task = _task(
            "task:retirement",
            record.retired.event_id,
            "retired",
            "clean",
            record.retired.at,
            record.retired.at,
        )
        _events(task, ("workflow_retired", record.retired.event_id))
        tasks.append(task)
    if (off := record.deactivated) is not None:
        task = _task("task:deactivation", off.event_id, "n8n copy turned off", "clean", off.at, off.at)
        _events(task, ("workflow_deactivated", off.event_id))
        tasks.append(task)
    for task in tasks:
        if not task["properties"]:
            del task["properties"]
    return tasks


_OUTCOME_EVENTS: Final = {
    "deployed": "workflow_deployed",
    "needs_credentials": "workflow_needs_credentials",
    "failed": "workflow_deployment_failed",
}


def _time(at: datetime) -> str:
    return at.isoformat()

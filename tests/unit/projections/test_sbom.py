"""Given the events behind a workflow revision, when its SBOM is built, then a CycloneDX 1.6 document that
says which models, prompt templates, n8n nodes and services made it, and nothing it should not."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    InferenceDecided,
    Intent,
    IntentClassified,
    PrivacyFinding,
    UserMessageReceived,
)
from domain.envelope import DomainEvent, Envelope
from domain.n8n.catalog import NodeCatalog, default_catalog
from domain.types import AgentRole, Sensitivity
from domain.workflow_events import (
    MissingCredential,
    WorkflowApproved,
    WorkflowDeactivated,
    WorkflowDeployed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
    WorkflowNeedsCredentials,
    WorkflowRejected,
    WorkflowRetired,
    WorkflowValidated,
)
from projections import sbom_parts
from projections.events import ProjectedEvent
from projections.sbom import MEDIA_TYPE, build_sbom, serial_number, sources_complete
from projections.sbom_inputs import (
    AnySource,
    InferenceSource,
    SbomSubject,
    decode_source,
    evolve_subject,
    source_rows,
)
from projections.sbom_schema import SbomInvalid, check_sbom
from tests.support.events import NOW

TENANT = "acme"
CONVERSATION = "c-0001"
WORKFLOW = "w-0001"
ANTHROPIC = "http://127.0.0.1:40001"
VLLM = "http://127.0.0.1:40002/v1"
SECRET_ID = "cred-SECRET-4242"
SECRET_NAME = "Boutique Shopify de Samir"
GENERATOR = "9.9.9"
CATALOG = default_catalog()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def definition(*, slack: bool = True, extra: dict[str, Any] | None = None) -> str:
    """An n8n workflow: a schedule, a Shopify read (linked to a credential, whose id and name must never
    reach the SBOM) and a Slack or Telegram post."""
    post: dict[str, Any] = (
        {
            "name": "Post to Slack",
            "type": "n8n-nodes-base.slack",
            "typeVersion": 2.3,
            "parameters": {"resource": "message", "operation": "post", "text": "total"},
        }
        if slack
        else {
            "name": "Send to Telegram",
            "type": "n8n-nodes-base.telegram",
            "typeVersion": 1.2,
            "parameters": {"chatId": "42", "text": "total"},
        }
    )
    nodes: list[dict[str, Any]] = [
        {
            "name": "Every Day at 08:00",
            "type": "n8n-nodes-base.scheduleTrigger",
            "typeVersion": 1.2,
            "parameters": {"rule": {"interval": [{"field": "cronExpression", "expression": "0 8 * * *"}]}},
        },
        {
            "name": "Get Shopify Orders",
            "type": "n8n-nodes-base.shopify",
            "typeVersion": 1,
            "parameters": {"resource": "order", "operation": "getAll"},
            "credentials": {"shopifyApi": {"id": SECRET_ID, "name": SECRET_NAME}},
        },
        post,
    ]
    if extra is not None:
        nodes.append(extra)
    names = [n["name"] for n in nodes]
    connections = {
        a: {"main": [[{"node": b, "type": "main", "index": 0}]]} for a, b in itertools.pairwise(names)
    }
    return json.dumps({"name": "Rapport Shopify", "nodes": nodes, "connections": connections})


@dataclass
class Log:
    """The two streams of one workflow, as the projector sees them: events with versions and times."""

    conversation: list[ProjectedEvent] = field(default_factory=list)
    workflow: list[ProjectedEvent] = field(default_factory=list)
    clock: datetime = NOW

    def _add(self, into: list[ProjectedEvent], stream: str, data: DomainEvent, event_id: str) -> str:
        self.clock += timedelta(seconds=1)
        envelope = Envelope(
            specversion="1.0",
            id=event_id,
            source="aiwf://tests",
            type=type(data).event_type,  # type: ignore[attr-defined]
            time=self.clock,
            datacontenttype="application/json",
            tenant=TENANT,
            stream=stream,
            version=len(into) + 1,
            prevhash="0" * 64,
            data=data,
        )
        position = len(self.conversation) + len(self.workflow) + 1
        into.append(ProjectedEvent(partition=0, log_id=f"1000-{position}", raw=b"{}", envelope=envelope))
        return event_id

    def said(self, data: DomainEvent, event_id: str) -> str:
        return self._add(self.conversation, f"conversation-{CONVERSATION}", data, event_id)

    def did(self, data: DomainEvent, event_id: str) -> str:
        return self._add(self.workflow, f"workflow-{WORKFLOW}", data, event_id)

    @property
    def now(self) -> datetime:
        return self.clock + timedelta(seconds=1)

    def sources(self) -> list[AnySource]:
        return [decode_source(row.document) for e in self.conversation for row in source_rows(e)]

    def subject(self) -> SbomSubject:
        subject: SbomSubject | None = None
        for event in self.workflow:
            subject = evolve_subject(subject, event)
        assert subject is not None
        return subject

    def sbom(self, revision: int = 1, catalog: NodeCatalog = CATALOG) -> bytes:
        subject = self.subject()
        record = subject.revision(revision)
        assert record is not None
        return build_sbom(subject, record, self.sources(), catalog, GENERATOR)

    def document(self, revision: int = 1) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.sbom(revision))
        return loaded


@dataclass(frozen=True)
class Where:
    """Where a model call went: the provider, and what the gateway recorded of its endpoint."""

    provider: str
    model: str
    locality: str | None = None
    endpoint: str | None = None
    authenticated: bool | None = None


OFFLINE = Where(provider="offline", model="offline-planner", locality="local")
CLOUD = Where(
    provider="anthropic", model="claude-sonnet-4-5", locality="cloud", endpoint=ANTHROPIC, authenticated=True
)
LOCAL = Where(
    provider="vllm", model="qwen2.5-7b-instruct", locality="local", endpoint=VLLM, authenticated=False
)


def decided(log: Log, role: AgentRole, where: Where, sensitivity: Sensitivity, suffix: str = "") -> str:
    inference_id = f"inf-{role.value}{suffix}"
    data = InferenceDecided(
        inference_id=inference_id,
        purpose=role,
        provider=where.provider,
        model=where.model,
        route_reason="public text: the configured model" if where.provider != "vllm" else "sensitive: local",
        sensitivity=sensitivity,
        template_id=role.value,
        template_version=3,
        template_sha256=_sha(f"template of {role.value}"),
        input_tokens=100,
        output_tokens=20,
        latency_ms=7,
        cost_micro_usd=15 if where.provider == "anthropic" else 0,
        output='{"secret": "the answer is never copied"}',
        locality=where.locality,  # type: ignore[arg-type]
        endpoint=where.endpoint,
        authenticated=where.authenticated,
        decided_at=log.now,
    )
    log.said(data, f"ev-decided-{role.value}{suffix}")
    return inference_id


def a_turn(
    log: Log,
    *,
    orchestrator: Where = OFFLINE,
    sales: Where = OFFLINE,
    designer: Where = OFFLINE,
    sensitive: bool = False,
    suffix: str = "",
) -> tuple[str, ...]:
    """One message through the orchestrator, the Sales Expert and the designer; the inference ids the
    draft names."""
    level = Sensitivity.SENSITIVE if sensitive else Sensitivity.PUBLIC
    findings = (PrivacyFinding(kind="ccp", start=10, end=20, checksum_valid=True),) if sensitive else ()
    message_id = f"m{suffix or '1'}"
    log.said(
        UserMessageReceived(
            message_id=message_id,
            text="Chaque matin, le total Shopify sur Slack, CCP 0012345678 clé 90",
            sensitivity=level,
            findings=findings,
            received_at=log.now,
        ),
        f"ev-message{suffix}",
    )
    orchestrated = decided(log, AgentRole.ORCHESTRATOR, orchestrator, level, suffix)
    log.said(
        IntentClassified(
            message_id=message_id,
            intents=(Intent(name="sales_report", confidence=90, agents=(AgentRole.SALES,)),),
            summary="daily Shopify total on Slack",
            inference_id=orchestrated,
            language="fr",
            classified_at=log.now,
        ),
        f"ev-classified{suffix}",
    )
    log.said(
        AgentDelegated(
            delegation_id=f"d-sales{suffix}",
            agent=AgentRole.SALES,
            task="orders",
            message_id=message_id,
            delegated_at=log.now,
        ),
        f"ev-delegated{suffix}",
    )
    found = decided(log, AgentRole.SALES, sales, level, suffix)
    log.said(
        AgentFindingRecorded(
            delegation_id=f"d-sales{suffix}",
            agent=AgentRole.SALES,
            summary="orders of yesterday",
            n8n_nodes=("n8n-nodes-base.shopify",),
            sensitive_fields=("ccp",) if sensitive else (),
            inference_id=found,
            recorded_at=log.now,
        ),
        f"ev-found{suffix}",
    )
    designed = decided(log, AgentRole.DESIGNER, designer, level, suffix)
    return (orchestrated, found, designed)


def drafted(log: Log, revision: int, inference_ids: tuple[str, ...], text: str) -> None:
    log.did(
        WorkflowDrafted(
            workflow_id=WORKFLOW,
            conversation_id=CONVERSATION,
            revision=revision,
            name="Rapport Shopify",
            definition=text,
            definition_sha256=_sha(text),
            inference_ids=inference_ids,
            drafted_at=log.now,
        ),
        f"ev-drafted-{revision}",
    )
    log.did(
        WorkflowValidated(
            revision=revision, checks=("schema", "nodes"), n8n_version="2.8.4", validated_at=log.now
        ),
        f"ev-validated-{revision}",
    )


def deployed(log: Log, revision: int = 1) -> None:
    log.did(WorkflowApproved(revision=revision, approved_by="samir", approved_at=log.now), "ev-approved")
    log.did(
        WorkflowDeploymentRequested(
            deployment_id="dep-1",
            revision=revision,
            target="http://127.0.0.1:5678",
            requested_by="samir",
            requested_at=log.now,
        ),
        "ev-deployment-requested",
    )
    log.did(
        WorkflowDeployed(
            deployment_id="dep-1",
            revision=revision,
            n8n_workflow_id="n8n-77",
            n8n_version_id="ver-1",
            active=True,
            n8n_version="2.8.4",
            deployed_at=log.now,
        ),
        "ev-deployed",
    )


def a_workflow(**where: Any) -> Log:
    log = Log()
    drafted(log, 1, a_turn(log, **where), definition())
    return log


# --- helpers to read a document ----------------------------------------------------------------------


def components(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in document.get("components", []) if c["type"] == kind]


def props(item: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in item.get("properties", []):
        found.setdefault(p["name"], []).append(p["value"])
    return found


def service(document: dict[str, Any], provider: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        s for s in document.get("services", []) if props(s).get("aiwf:inference:provider") == [provider]
    ]
    assert len(found) == 1, found
    return found[0]


def flows(item: dict[str, Any]) -> set[tuple[str, str]]:
    return {(d["flow"], d["classification"]) for d in item.get("data", [])}


def prompt_ref(document: dict[str, Any], role: str) -> str:
    [prompt] = [c for c in components(document, "data") if props(c)["aiwf:prompt:role"] == [role]]
    ref: str = prompt["bom-ref"]
    return ref


def depends(document: dict[str, Any], ref: str) -> set[str]:
    [entry] = [d for d in document["dependencies"] if d["ref"] == ref]
    return set(entry.get("dependsOn", []))


def tasks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [formula] = document["formulation"][0]["workflows"]
    return {t["bom-ref"]: t for t in formula["tasks"]}


# --- the document ------------------------------------------------------------------------------------


def test_a_revision_gives_a_schema_valid_cyclonedx_1_6_document_identified_by_its_events() -> None:
    log = a_workflow()
    record = log.subject().revision(1)
    assert record is not None

    document = log.document()

    check_sbom(document)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")
    assert document["serialNumber"] == serial_number(TENANT, WORKFLOW, 1).urn
    assert document["serialNumber"].startswith("urn:uuid:")
    assert document["version"] == record.events == 2  # drafted, validated
    assert datetime.fromisoformat(document["metadata"]["timestamp"]) == record.updated_at
    assert record.updated_at == log.workflow[-1].envelope.time
    [tool] = document["metadata"]["tools"]["components"]
    assert (tool["name"], tool["version"]) == ("aiwf", GENERATOR)
    assert MEDIA_TYPE == "application/vnd.cyclonedx+json; version=1.6"


def test_the_serial_number_is_one_per_revision_and_the_version_counts_its_events() -> None:
    assert serial_number(TENANT, WORKFLOW, 1) == serial_number(TENANT, WORKFLOW, 1)
    assert serial_number(TENANT, WORKFLOW, 1) != serial_number(TENANT, WORKFLOW, 2)
    assert serial_number(TENANT, WORKFLOW, 1) != serial_number("other", WORKFLOW, 1)
    log = a_workflow()
    deployed(log)

    document = log.document()

    assert document["serialNumber"] == serial_number(TENANT, WORKFLOW, 1).urn
    assert document["version"] == 5
    assert datetime.fromisoformat(document["metadata"]["timestamp"]) == log.workflow[-1].envelope.time


def test_the_workflow_is_the_main_component_with_the_sha256_of_its_definition() -> None:
    log = a_workflow()
    workflow = log.document()["metadata"]["component"]
    [draft] = [e.envelope.data for e in log.workflow if isinstance(e.envelope.data, WorkflowDrafted)]

    assert workflow["bom-ref"] == "workflow"
    assert (workflow["type"], workflow["name"], workflow["version"]) == (
        "application",
        "Rapport Shopify",
        "1",
    )
    assert workflow["hashes"] == [{"alg": "SHA-256", "content": _sha(draft.definition)}]
    assert workflow["hashes"][0]["content"] == draft.definition_sha256
    named = props(workflow)
    assert named["aiwf:workflow:id"] == [WORKFLOW]
    assert named["aiwf:workflow:revision"] == ["1"]
    assert named["aiwf:tenant"] == [TENANT]
    assert named["aiwf:conversation:id"] == [CONVERSATION]
    assert named["aiwf:workflow:status"] == ["valid"]
    assert all(p["name"].startswith("aiwf:") for p in workflow["properties"])


def test_each_node_is_an_npm_component_of_n8n_nodes_base_with_its_credential_types_only() -> None:
    log = a_workflow()
    raw = log.sbom().decode()
    document = json.loads(raw)

    nodes = {c["bom-ref"]: c for c in components(document, "library")}

    assert set(nodes) == {"node:Every Day at 08:00", "node:Get Shopify Orders", "node:Post to Slack"}
    version = CATALOG.package_version
    shopify = nodes["node:Get Shopify Orders"]
    assert shopify["purl"] == f"pkg:npm/n8n-nodes-base@{version}"
    assert (shopify["name"], shopify["group"], shopify["version"]) == (
        "n8n-nodes-base.shopify",
        "n8n-nodes-base",
        version,
    )
    assert props(shopify)["aiwf:n8n:type-version"] == ["1"]
    assert props(shopify)["aiwf:n8n:credential-type"] == ["shopifyApi"]
    assert props(nodes["node:Post to Slack"])["aiwf:n8n:credential-type"]  # a type, whatever its name
    assert "aiwf:n8n:credential-type" not in props(nodes["node:Every Day at 08:00"])
    assert all(c["purl"] == f"pkg:npm/n8n-nodes-base@{version}" for c in nodes.values())
    assert SECRET_ID not in raw
    assert SECRET_NAME not in raw
    assert "the answer is never copied" not in raw  # a model's answer is not an SBOM's business
    assert "0012345678" not in raw  # nor the user's text


def test_a_node_of_another_n8n_than_the_catalogue_s_is_named_without_a_version_it_cannot_know() -> None:
    log = a_workflow()
    other = msgspec.structs.replace(CATALOG, n8n_version="1.0.0")

    document = json.loads(log.sbom(catalog=other))

    check_sbom(document)
    [shopify] = [c for c in components(document, "library") if c["bom-ref"] == "node:Get Shopify Orders"]
    assert shopify["purl"] == "pkg:npm/n8n-nodes-base"
    assert "version" not in shopify
    assert props(shopify)["aiwf:n8n:version"] == ["2.8.4"]  # the validator's n8n, not the catalogue's


def test_a_node_of_another_package_is_named_by_its_own_npm_package_and_flagged_when_uncatalogued() -> None:
    log = Log()
    agent = {
        "name": "AI Agent",
        "type": "@n8n/n8n-nodes-langchain.agent",
        "typeVersion": 1.7,
        "parameters": {},
        "disabled": True,
    }
    drafted(log, 1, a_turn(log), definition(extra=agent))

    document = log.document()

    check_sbom(document)
    [node] = [c for c in components(document, "library") if c["bom-ref"] == "node:AI Agent"]
    assert node["purl"] == "pkg:npm/%40n8n/n8n-nodes-langchain"  # the catalogue knows no version of it
    assert (node["group"], node["name"]) == ("@n8n/n8n-nodes-langchain", "@n8n/n8n-nodes-langchain.agent")
    assert props(node)["aiwf:n8n:catalogued"] == ["false"]
    assert props(node)["aiwf:n8n:disabled"] == ["true"]
    assert props(node)["aiwf:n8n:type-version"] == ["1.7"]


def test_the_offline_planner_is_a_model_component_that_says_it_is_not_a_language_model() -> None:
    document = a_workflow().document()

    [planner] = components(document, "machine-learning-model")

    assert (planner["bom-ref"], planner["name"], planner["group"]) == (
        "model:offline:offline-planner",
        "offline-planner",
        "offline",
    )
    assert "Not a language model" in planner["description"]
    card = planner["modelCard"]
    assert any("Not a language model" in limit for limit in card["considerations"]["technicalLimitations"])
    assert card["modelParameters"]["task"] == "rule-based planning"
    assert props(planner)["aiwf:inference:role"] == ["designer", "orchestrator", "sales"]
    assert props(planner)["aiwf:inference:calls"] == ["3"]
    assert "services" not in document  # the planner answers in-process: no service took the data


def test_an_anthropic_call_is_a_cloud_service_across_the_trust_boundary_with_the_data_it_got() -> None:
    document = a_workflow(sales=CLOUD).document()

    anthropic = service(document, "anthropic")
    [claude] = [c for c in components(document, "machine-learning-model") if c["group"] == "anthropic"]

    assert anthropic["endpoints"] == [ANTHROPIC]
    assert anthropic["authenticated"] is True
    assert anthropic["x-trust-boundary"] is True
    assert anthropic["trustZone"] == "cloud"
    assert flows(anthropic) == {("outbound", "public"), ("inbound", "public")}
    assert claude["name"] == "claude-sonnet-4-5"
    assert claude["supplier"]["name"] == "Anthropic"
    assert claude["modelCard"]["modelParameters"]["task"] == "text-generation"
    assert props(claude)["aiwf:inference:role"] == ["sales"]
    assert props(claude)["aiwf:inference:cost-micro-usd"] == ["15"]
    assert depends(document, claude["bom-ref"]) == {
        prompt_ref(document, "sales"),
        anthropic["bom-ref"],
    }


def test_a_vllm_call_is_a_local_service_inside_the_trust_boundary_that_may_receive_sensitive_data() -> None:
    document = a_workflow(sales=LOCAL, designer=LOCAL, sensitive=True).document()

    check_sbom(document)
    vllm = service(document, "vllm")
    assert vllm["endpoints"] == [VLLM]
    assert vllm["authenticated"] is False
    assert vllm["x-trust-boundary"] is False
    assert vllm["trustZone"] == "local"
    assert flows(vllm) == {("outbound", "sensitive"), ("inbound", "sensitive")}
    [qwen] = [c for c in components(document, "machine-learning-model") if c["group"] == "vllm"]
    assert props(qwen)["aiwf:inference:role"] == ["designer", "sales"]
    workflow = props(document["metadata"]["component"])
    assert workflow["aiwf:data:classification"] == ["sensitive"]
    assert workflow["aiwf:data:sensitive-field"] == ["ccp"]


def test_the_cloud_and_the_local_model_of_one_workflow_are_two_services_with_their_own_flows() -> None:
    log = Log()
    ids = a_turn(log, orchestrator=CLOUD, sales=LOCAL, designer=LOCAL)
    drafted(log, 1, ids, definition())

    document = log.document()

    assert {s["trustZone"] for s in document["services"]} == {"cloud", "local"}
    assert service(document, "anthropic")["x-trust-boundary"] is True
    assert service(document, "vllm")["x-trust-boundary"] is False
    assert {c["group"] for c in components(document, "machine-learning-model")} == {"anthropic", "vllm"}


def test_prompt_templates_are_data_components_with_the_sha256_of_their_text() -> None:
    document = a_workflow().document()

    prompts = {props(c)["aiwf:prompt:role"][0]: c for c in components(document, "data")}

    assert set(prompts) == {"orchestrator", "sales", "designer"}
    for role, prompt in prompts.items():
        assert (prompt["name"], prompt["version"]) == (role, "3")
        assert prompt["hashes"] == [{"alg": "SHA-256", "content": _sha(f"template of {role}")}]


def test_dependencies_link_workflow_to_nodes_and_models_and_each_model_to_its_prompts_and_service() -> None:
    document = a_workflow(orchestrator=CLOUD, sales=LOCAL).document()
    nodes = {c["bom-ref"] for c in components(document, "library")}
    models = {c["group"]: c["bom-ref"] for c in components(document, "machine-learning-model")}
    prompts = {props(c)["aiwf:prompt:role"][0]: c["bom-ref"] for c in components(document, "data")}

    assert depends(document, "workflow") == nodes | set(models.values())
    assert depends(document, models["anthropic"]) == {
        prompts["orchestrator"],
        service(document, "anthropic")["bom-ref"],
    }
    assert depends(document, models["vllm"]) == {prompts["sales"], service(document, "vllm")["bom-ref"]}
    assert depends(document, models["offline"]) == {prompts["designer"]}  # in process: no service
    known = {c["bom-ref"] for c in document["components"]} | {s["bom-ref"] for s in document["services"]}
    assert {r for d in document["dependencies"] for r in d.get("dependsOn", [])} <= known | {"workflow"}


def test_the_formulation_names_each_step_with_the_ids_of_the_events_behind_it() -> None:
    log = a_workflow()
    deployed(log)

    steps = tasks(log.document())

    def events(ref: str) -> dict[str, list[str]]:
        return {k: v for k, v in props(steps[ref]).items() if k.startswith("aiwf:event:")}

    assert events("task:orchestrator:m1") == {
        "aiwf:event:user_message_received": ["ev-message"],
        "aiwf:event:inference_decided": ["ev-decided-orchestrator"],
        "aiwf:event:intent_classified": ["ev-classified"],
        "aiwf:event:agent_delegated": ["ev-delegated"],
    }
    assert events("task:agent:d-sales") == {
        "aiwf:event:inference_decided": ["ev-decided-sales"],
        "aiwf:event:agent_finding_recorded": ["ev-found"],
    }
    assert events("task:designer") == {
        "aiwf:event:inference_decided": ["ev-decided-designer"],
        "aiwf:event:workflow_drafted": ["ev-drafted-1"],
    }
    assert events("task:validator") == {"aiwf:event:workflow_validated": ["ev-validated-1"]}
    assert events("task:approval") == {"aiwf:event:workflow_approved": ["ev-approved"]}
    [deploy] = [ref for ref in steps if ref.startswith("task:deployment:")]
    assert events(deploy) == {
        "aiwf:event:workflow_deployment_requested": ["ev-deployment-requested"],
        "aiwf:event:workflow_deployed": ["ev-deployed"],
    }
    assert steps[deploy]["taskTypes"] == ["deploy"]
    assert steps["task:designer"]["outputs"] == [{"type": "artifact", "resource": {"ref": "workflow"}}]


def test_a_deployed_revision_names_the_n8n_instance_and_the_deployment() -> None:
    log = a_workflow()
    deployed(log)

    document = log.document()

    check_sbom(document)
    [n8n] = [s for s in document["services"] if s["bom-ref"] == "service:n8n"]
    assert n8n["endpoints"] == ["http://127.0.0.1:5678"]
    assert (n8n["version"], n8n["trustZone"], n8n["x-trust-boundary"]) == ("2.8.4", "local", False)
    named = props(document["metadata"]["component"])
    assert named["aiwf:deployment:n8n-workflow-id"] == ["n8n-77"]
    assert named["aiwf:deployment:instance"] == ["http://127.0.0.1:5678"]
    assert named["aiwf:deployment:n8n-version"] == ["2.8.4"]
    assert named["aiwf:approval:by"] == ["samir"]
    assert named["aiwf:workflow:status"] == ["deployed"]


def test_a_deployment_that_needs_credentials_then_a_retirement_are_told_and_cited() -> None:
    log = a_workflow()
    log.did(WorkflowApproved(revision=1, approved_by="samir", approved_at=log.now), "ev-approved")
    log.did(
        WorkflowDeploymentRequested(
            deployment_id="dep-1",
            revision=1,
            target="https://n8n.example.dz",
            requested_by="samir",
            requested_at=log.now,
        ),
        "ev-deployment-requested",
    )
    log.did(
        WorkflowNeedsCredentials(
            deployment_id="dep-1",
            revision=1,
            n8n_workflow_id="n8n-77",
            missing=(MissingCredential(node="Post to Slack", credential_type="slackApi"),),
            noted_at=log.now,
        ),
        "ev-needs-credentials",
    )
    log.did(WorkflowRetired(reason="plus besoin", retired_by="samir", retired_at=log.now), "ev-retired")

    document = log.document()

    check_sbom(document)
    named = props(document["metadata"]["component"])
    assert named["aiwf:deployment:status"] == ["needs_credentials"]
    assert named["aiwf:deployment:missing-credential-type"] == ["slackApi"]
    assert named["aiwf:workflow:status"] == ["retired"]
    [n8n] = [s for s in document["services"] if s["bom-ref"] == "service:n8n"]
    assert (n8n["trustZone"], n8n["x-trust-boundary"]) == ("remote", True)  # not on this machine
    steps = tasks(document)
    assert props(steps["task:deployment:1:dep-1"])["aiwf:event:workflow_needs_credentials"] == [
        "ev-needs-credentials"
    ]
    assert props(steps["task:retirement"])["aiwf:event:workflow_retired"] == ["ev-retired"]
    assert document["version"] == 6


def test_a_retired_deployment_turned_off_in_n8n_says_it_is_no_longer_active_and_cites_it() -> None:
    log = a_workflow()
    deployed(log)
    log.did(WorkflowRetired(reason="fini", retired_by="samir", retired_at=log.now), "ev-retired")
    log.did(WorkflowDeactivated(n8n_workflow_id="n8n-77", deactivated_at=log.now), "ev-deactivated")

    document = log.document()

    check_sbom(document)
    named = props(document["metadata"]["component"])
    assert named["aiwf:deployment:active"] == ["false"]
    assert named["aiwf:deployment:deactivated-at"] == [document["metadata"]["timestamp"]]  # the newest
    steps = tasks(document)
    assert props(steps["task:deactivation"])["aiwf:event:workflow_deactivated"] == ["ev-deactivated"]
    assert steps["task:deactivation"]["taskTypes"] == ["clean"]


def test_a_revision_after_a_rejection_names_its_ancestor_the_reason_and_the_node_changes() -> None:
    log = a_workflow()
    log.did(
        WorkflowRejected(revision=1, rejected_by="samir", reason="plutôt sur Telegram", rejected_at=log.now),
        "ev-rejected",
    )
    drafted(log, 2, a_turn(log, suffix="-2"), definition(slack=False))

    first, second = log.document(1), log.document(2)

    check_sbom(second)
    assert first["serialNumber"] != second["serialNumber"]
    assert props(first["metadata"]["component"])["aiwf:rejection:by"] == ["samir"]
    assert props(first["metadata"]["component"])["aiwf:rejection:reason"] == ["plutôt sur Telegram"]
    pedigree = second["metadata"]["component"]["pedigree"]
    [ancestor] = pedigree["ancestors"]
    assert (ancestor["bom-ref"], ancestor["version"]) == ("workflow@1", "1")
    assert "rejected by samir: plutôt sur Telegram" in pedigree["notes"]
    assert "added Send to Telegram" in pedigree["notes"]
    assert "removed Post to Slack" in pedigree["notes"]
    assert not {t for t in tasks(first) if t.endswith("m-2")}  # revision 1 never read turn 2
    assert {t for t in tasks(second) if t.startswith("task:orchestrator")} == {"task:orchestrator:m-2"}


# --- reproducible ------------------------------------------------------------------------------------


def test_the_same_events_give_the_same_bytes_twice() -> None:
    one, two = a_workflow(sales=CLOUD), a_workflow(sales=CLOUD)
    deployed(one)
    deployed(two)

    assert one.sbom() == one.sbom() == two.sbom()
    assert one.sbom().endswith(b"\n")
    text = one.sbom().decode()
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_the_sources_of_other_conversations_or_turns_do_not_change_the_bytes() -> None:
    log = a_workflow()
    subject = log.subject()
    record = subject.revision(1)
    assert record is not None
    later = Log(clock=log.clock)
    a_turn(later, sales=CLOUD, suffix="-later")  # a later turn: not named by revision 1's draft

    alone = build_sbom(subject, record, log.sources(), CATALOG, GENERATOR)
    with_more = build_sbom(subject, record, [*log.sources(), *later.sources()], CATALOG, GENERATOR)

    assert alone == with_more


def test_sources_are_complete_only_when_every_decision_the_draft_names_is_in() -> None:
    log = a_workflow()
    record = log.subject().revision(1)
    assert record is not None
    sources = log.sources()
    designer = [s for s in sources if not (isinstance(s, InferenceSource) and s.purpose == "designer")]

    assert sources_complete(record, sources)
    assert not sources_complete(record, designer)
    assert not sources_complete(record, [])
    assert sources_complete(
        msgspec.structs.replace(record, draft=msgspec.structs.replace(record.draft, inference_ids=())), []
    )


# --- an invalid document is refused, never returned --------------------------------------------------


def problem_paths(error: SbomInvalid) -> str:
    return "\n".join(error.problems)


def test_a_document_with_a_wrong_enum_is_refused_naming_its_path() -> None:
    document = a_workflow(sales=CLOUD).document()
    document["components"][0]["type"] = "spaceship"

    with pytest.raises(SbomInvalid) as refused:
        check_sbom(document)

    assert re.search(r"^components/0/type: ", problem_paths(refused.value), re.M), refused.value.problems
    assert "components/0/type" in str(refused.value)


def test_a_document_with_a_bad_date_time_is_refused_naming_its_path() -> None:
    document = a_workflow().document()
    document["metadata"]["timestamp"] = "yesterday at noon"

    with pytest.raises(SbomInvalid) as refused:
        check_sbom(document)

    assert any(p.startswith("metadata/timestamp: ") for p in refused.value.problems), refused.value.problems


def test_a_document_missing_a_required_field_is_refused() -> None:
    document = a_workflow().document()
    del document["specVersion"]

    with pytest.raises(SbomInvalid) as refused:
        check_sbom(document)

    assert any("specVersion" in p for p in refused.value.problems), refused.value.problems
    assert any(p.startswith("(root): ") for p in refused.value.problems)


def test_a_trust_boundary_or_a_model_card_of_the_wrong_shape_is_refused_naming_each_path() -> None:
    document = a_workflow(sales=CLOUD).document()
    document["services"][0]["x-trust-boundary"] = "yes"
    [model] = [c for c in document["components"] if c["type"] == "machine-learning-model"][:1]
    model["modelCard"]["considerations"]["technicalLimitations"] = "one string, not a list"

    with pytest.raises(SbomInvalid) as refused:
        check_sbom(document)

    paths = problem_paths(refused.value)
    assert "services/0/x-trust-boundary: " in paths
    assert "/modelCard/considerations/technicalLimitations: " in paths


def test_build_sbom_raises_rather_than_returns_when_a_part_it_adds_is_invalid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = a_workflow()
    monkeypatch.setattr(sbom_parts, "model_card", lambda calls: {"modelParameters": {"task": 42}})

    with pytest.raises(SbomInvalid) as refused:
        log.sbom()

    assert any("/modelCard/modelParameters/task: " in p for p in refused.value.problems), (
        refused.value.problems
    )


def test_build_sbom_raises_when_the_formulation_it_adds_breaks_the_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = a_workflow()
    real = sbom_parts._time

    monkeypatch.setattr(sbom_parts, "_time", lambda at: real(at).replace("T", " at "))

    with pytest.raises(SbomInvalid) as refused:
        log.sbom()

    assert any(re.match(r"formulation/0/workflows/0/.*time(Start|End): ", p) for p in refused.value.problems)


def test_a_valid_document_passes_the_check_unchanged() -> None:
    raw = a_workflow(sales=CLOUD, designer=LOCAL).sbom()
    document = json.loads(raw)

    check_sbom(document)

    assert json.loads(raw) == document

"""The CycloneDX 1.6 SBOM of one revision of a workflow: a pure function of the events behind it.

What it lists: the workflow (`metadata.component`, with the SHA-256 of its n8n JSON and what happened to
it as properties), each n8n node it is made of, each model that took part and each prompt template they
used, the services the data went to (the Anthropic API, the vLLM sidecar, the n8n instance) with their
trust zone and the data classification that flowed there, the dependencies between them, and the
formulation: the steps that produced it, each with the ids of the events that record it.

cyclonedx-python-lib builds what it models; model cards, service trust zones and the formulation are
added to the JSON it writes (projections/sbom_parts.py); the whole document is then checked against the
1.6 schema. Serial number, version and timestamp derive from the events, and the JSON is written with
sorted keys, so the same events give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec
from cyclonedx.model import DataClassification, DataFlow, HashAlgorithm, HashType, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.service import Service
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from domain.n8n.catalog import NodeCatalog
from domain.n8n.outline import outline
from domain.workflow_events import DraftedNode
from projections import sbom_parts
from projections.sbom_inputs import (
    AnySource,
    InferenceSource,
    RevisionRecord,
    SbomSubject,
)
from projections.sbom_parts import Provenance, prop
from projections.sbom_schema import check_sbom

MEDIA_TYPE: Final = "application/vnd.cyclonedx+json; version=1.6"
_SERIALS: Final = uuid.UUID("5b1c5e0e-8f7a-4c1e-9d51-6a1f0c9e2b7d")  # our namespace for uuid5 serials
WORKFLOW_REF: Final = "workflow"
_SUPPLIERS: Final = {"anthropic": "Anthropic", "vllm": "vLLM (served by the operator)"}


def serial_number(tenant: str, workflow_id: str, revision: int) -> uuid.UUID:
    """One BOM per revision: its versions (one per event about the revision) share this serial."""
    return uuid.uuid5(_SERIALS, f"{tenant}/{workflow_id}/{revision}")


def sources_complete(record: RevisionRecord, sources: Iterable[AnySource]) -> bool:
    """Every model decision the draft names is in: the conversation's stream is read up to them (the
    sources of a conversation arrive in its stream's order, and the draft names its own decision last)."""
    known = {s.inference_id for s in sources if isinstance(s, InferenceSource)}
    return all(i in known for i in record.draft.inference_ids)


def build_sbom(
    subject: SbomSubject,
    record: RevisionRecord,
    sources: Sequence[AnySource],
    catalog: NodeCatalog,
    generator: str,
) -> bytes:
    """The document's bytes. `generator` is our version (named as the tool that wrote it).
    Raises SbomInvalid when the document breaks the schema."""
    provenance = Provenance.of(record, sources)
    bom = _bom(subject, record, provenance, catalog, generator)
    document: dict[str, Any] = msgspec.json.decode(JsonV1Dot6(bom).output_as_string())
    sbom_parts.complete(document, record, provenance)
    check_sbom(document)
    # The bytes `json.dumps(indent=2, sort_keys=True, ensure_ascii=False)` wrote, 25x faster: they differ
    # only for floats in exponent form, and a document has none (events refuse floats).
    return msgspec.json.format(msgspec.json.encode(document, order="sorted"), indent=2) + b"\n"


def _bom(
    subject: SbomSubject,
    record: RevisionRecord,
    provenance: Provenance,
    catalog: NodeCatalog,
    generator: str,
) -> Bom:
    workflow = _workflow_component(subject, record, provenance)
    bom = Bom(
        serial_number=serial_number(subject.tenant, subject.workflow_id, record.revision),
        version=record.events,
        metadata=BomMetaData(component=workflow, timestamp=record.updated_at),
    )
    bom.metadata.tools.components.add(
        Component(
            type=ComponentType.APPLICATION, name="aiwf", version=generator, group="ai-workflow-platform"
        )
    )
    nodes = _node_components(record, _n8n_version(record, catalog), catalog)
    prompts = {key: _prompt_component(calls) for key, calls in provenance.by_prompt().items()}
    services = {key: _model_service(calls) for key, calls in provenance.by_endpoint().items()}
    by_model = provenance.by_model()
    models = {key: _model_component(calls) for key, calls in by_model.items()}
    bom.components.update([*nodes, *prompts.values(), *models.values()])
    bom.services.update(services.values())
    if (n8n := _n8n_service(record, provenance)) is not None:
        bom.services.add(n8n)
    bom.register_dependency(workflow, [*nodes, *models.values()])
    for key, model in models.items():
        calls = by_model[key]
        used = [prompts[sbom_parts.prompt_key(c)] for c in calls]
        reached = [services[e] for c in calls if (e := sbom_parts.endpoint_key(c)) in services]
        bom.register_dependency(model, [*used, *reached])
    return bom


def _workflow_component(subject: SbomSubject, record: RevisionRecord, provenance: Provenance) -> Component:
    draft = record.draft
    digest = hashlib.sha256(draft.definition.encode()).hexdigest()
    pedigree = None
    if record.revision > 1:
        ancestor = Component(
            type=ComponentType.APPLICATION,
            name=draft.name,
            version=str(record.revision - 1),
            bom_ref=f"{WORKFLOW_REF}@{record.revision - 1}",
            description=f"revision {record.revision - 1} of this workflow (its own SBOM has the rest)",
        )
        pedigree = Pedigree(ancestors=[ancestor], notes=sbom_parts.revision_note(record))
    return Component(
        type=ComponentType.APPLICATION,
        name=draft.name,
        version=str(record.revision),
        bom_ref=WORKFLOW_REF,
        description="An n8n workflow drafted by the AI Workflow Platform's agents from a conversation",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)],
        properties=sbom_parts.workflow_properties(subject, record, provenance),
        pedigree=pedigree,
    )


def _n8n_version(record: RevisionRecord, catalog: NodeCatalog) -> str:
    """The n8n the nodes run in: the instance's, once deployed; else the one the validator read."""
    deployed = [a.n8n_version for a in record.attempts if a.n8n_version]
    if deployed:
        return deployed[-1]
    if record.verdict is not None and record.verdict.n8n_version:
        return record.verdict.n8n_version
    return catalog.n8n_version


def nodes_of(record: RevisionRecord, catalog: NodeCatalog) -> tuple[DraftedNode, ...]:
    """The revision's nodes: from its n8n JSON, or, sealed, from the outline its draft recorded (the
    same entries: domain/n8n/outline.py); no key is needed to list them."""
    draft = record.draft
    return draft.nodes if draft.sealed else outline(json.loads(draft.definition), catalog)


def _node_components(record: RevisionRecord, n8n_version: str, catalog: NodeCatalog) -> list[Component]:
    components = []
    for node in nodes_of(record, catalog):
        package, _, short = node.node_type.rpartition(".")
        # The catalogue knows its package's version for the n8n it was read from, not for others.
        version = (
            catalog.package_version
            if package == catalog.package and n8n_version == catalog.n8n_version
            else None
        )
        properties = [
            prop("n8n:node-name", node.name),
            prop("n8n:type-version", node.type_version),
            prop("n8n:version", n8n_version),
            *(prop("n8n:credential-type", t) for t in node.credential_types),
        ]
        if node.disabled:
            properties.append(prop("n8n:disabled", "true"))
        if catalog.get(node.node_type) is None:
            properties.append(prop("n8n:catalogued", "false"))
        components.append(
            Component(
                type=ComponentType.LIBRARY,
                name=node.node_type,
                group=package or None,
                version=version,
                bom_ref=f"node:{node.name}",
                description=f"n8n node {node.name!r} ({short or node.node_type})",
                purl=_purl(package, version) if package else None,
                properties=properties,
            )
        )
    return components


def _purl(package: str, version: str | None) -> PackageURL:
    namespace, _, name = package.rpartition("/")
    return PackageURL(type="npm", namespace=namespace or None, name=name, version=version)


def _prompt_component(calls: Sequence[InferenceSource]) -> Component:
    first = calls[0]
    return Component(
        type=ComponentType.DATA,
        name=first.template_id,
        version=str(first.template_version),
        bom_ref=sbom_parts.prompt_key(first),
        description=f"prompt template of the {first.purpose} role",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=first.template_sha256)],
        properties=[prop("prompt:role", r) for r in sorted({c.purpose for c in calls})],
    )


def _model_component(calls: Sequence[InferenceSource]) -> Component:
    first = calls[0]
    supplier = _SUPPLIERS.get(first.provider)
    properties = [
        prop("inference:provider", first.provider),
        *(prop("inference:role", r) for r in sorted({c.purpose for c in calls})),
        prop("inference:calls", str(len(calls))),
        prop("inference:input-tokens", str(sum(c.input_tokens for c in calls))),
        prop("inference:output-tokens", str(sum(c.output_tokens for c in calls))),
        prop("inference:cost-micro-usd", str(sum(c.cost_micro_usd for c in calls))),
    ]
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=first.model,
        group=first.provider,
        bom_ref=sbom_parts.model_key(first),
        description=sbom_parts.model_description(first),
        supplier=OrganizationalEntity(name=supplier) if supplier else None,
        properties=properties,
    )


def _model_service(calls: Sequence[InferenceSource]) -> Service:
    first = calls[0]
    cloud = sbom_parts.locality_of(first) == "cloud"
    return Service(
        name=sbom_parts.SERVICE_NAMES.get(first.provider, f"{first.provider} model server"),
        bom_ref=sbom_parts.endpoint_key(first),
        provider=OrganizationalEntity(name=_SUPPLIERS[first.provider])
        if first.provider in _SUPPLIERS
        else None,
        endpoints=[XsUri(first.endpoint)] if first.endpoint else None,
        authenticated=first.authenticated,
        x_trust_boundary=cloud,
        data=_flows(c.sensitivity for c in calls),
        properties=[prop("inference:provider", first.provider)],
    )


def _n8n_service(record: RevisionRecord, provenance: Provenance) -> Service | None:
    if not record.attempts:
        return None
    last = record.attempts[-1]
    return Service(
        name="n8n",
        version=last.n8n_version,
        bom_ref="service:n8n",
        endpoints=[XsUri(last.target)],
        authenticated=True,  # n8n's public API takes an API key on every call
        x_trust_boundary=not sbom_parts.is_local_url(last.target),
        data=_flows([provenance.workflow_sensitivity()], inbound=False),
        properties=[p for p in (prop("n8n:workflow-id", last.n8n_workflow_id),) if p.value],
    )


def _flows(sensitivities: Iterable[str], *, inbound: bool = True) -> list[DataClassification]:
    """What was sent (outbound) and came back (inbound): answers are classified as what they answer."""
    flows = [DataFlow.OUTBOUND, DataFlow.INBOUND] if inbound else [DataFlow.OUTBOUND]
    return [DataClassification(flow=f, classification=s) for s in sorted(set(sensitivities)) for f in flows]

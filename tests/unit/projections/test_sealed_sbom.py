"""The SBOM of a sealed revision, built with no key: its nodes from the draft's public outline (the same
components its plaintext gives), its hash over the definition as stored, and a sealed field it would
quote (a person's reason) as `[sealed]`, never as ciphertext."""

from __future__ import annotations

import hashlib
import json

from domain.n8n.outline import outline
from domain.sealed_fields import map_paths, sealed_paths, with_digests
from domain.types import Sensitivity
from domain.workflow_events import WorkflowDrafted, WorkflowRejected, WorkflowValidated
from projections.sbom_inputs import SEALED
from projections.sbom_schema import check_sbom
from tests.unit.projections.test_sbom import (
    CATALOG,
    CONVERSATION,
    WORKFLOW,
    Log,
    a_turn,
    components,
    definition,
    props,
)

RIP = "00799999002345678165"
CIPHERTEXT = "aiwf:enc:1:"


def as_stored(data: WorkflowDrafted | WorkflowRejected) -> WorkflowDrafted | WorkflowRejected:
    """What the store's seal makes of it: each sealed path a ciphertext, the digest over it."""
    sealed = with_digests(
        map_paths(
            data, sealed_paths(data), lambda path, v: CIPHERTEXT + hashlib.sha256(v.encode()).hexdigest()
        )
    )
    assert isinstance(sealed, WorkflowDrafted | WorkflowRejected)
    return sealed


def draft(log: Log, revision: int, text: str, level: Sensitivity) -> WorkflowDrafted:
    written = WorkflowDrafted(
        workflow_id=WORKFLOW,
        conversation_id=CONVERSATION,
        revision=revision,
        name="Rapport Shopify",
        definition=text,
        definition_sha256=hashlib.sha256(text.encode()).hexdigest(),
        inference_ids=a_turn(log, sensitive=level != Sensitivity.PUBLIC, suffix=f"-{revision}"),
        sensitivity=level,
        nodes=outline(json.loads(text), CATALOG),
        drafted_at=log.now,
    )
    stored = as_stored(written)
    assert isinstance(stored, WorkflowDrafted)
    log.did(stored, f"ev-drafted-{revision}")
    log.did(
        WorkflowValidated(revision=revision, checks=("schema",), n8n_version="2.8.4", validated_at=log.now),
        f"ev-validated-{revision}",
    )
    return stored


def test_a_sealed_revision_lists_its_plaintext_s_nodes_from_its_outline_and_hashes_what_is_stored() -> None:
    text = definition(
        extra={"name": "Note", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "disabled": True}
    )
    plain, sealed = Log(), Log()
    draft(plain, 1, text, Sensitivity.PUBLIC)
    stored = draft(sealed, 1, text.replace("total", f"total du RIP {RIP}"), Sensitivity.SENSITIVE)

    raw = sealed.sbom().decode()
    document = json.loads(raw)

    check_sbom(document)
    assert stored.definition.startswith(CIPHERTEXT)
    assert components(document, "library") == components(plain.document(), "library")
    [digest] = document["metadata"]["component"]["hashes"]
    assert (
        digest["content"]
        == hashlib.sha256(stored.definition.encode()).hexdigest()
        == stored.definition_sha256
    )
    assert CIPHERTEXT not in raw
    assert RIP not in raw


def test_a_sealed_reason_reads_sealed_in_both_revisions_and_sealed_parameters_are_said_not_compared() -> None:
    log = Log()
    draft(log, 1, definition(), Sensitivity.SENSITIVE)
    rejected = WorkflowRejected(
        revision=1,
        rejected_by="samir",
        reason=f"plutôt sur Telegram, paiement sur le RIP {RIP}",
        sensitivity=Sensitivity.SENSITIVE,
        rejected_at=log.now,
    )
    log.did(as_stored(rejected), "ev-rejected")
    draft(log, 2, definition(slack=False), Sensitivity.SENSITIVE)

    first, second = log.sbom(1).decode(), log.sbom(2).decode()

    for raw in (first, second):
        check_sbom(json.loads(raw))
        assert CIPHERTEXT not in raw
        assert RIP not in raw
    assert props(json.loads(first)["metadata"]["component"])["aiwf:rejection:reason"] == [SEALED]
    notes = json.loads(second)["metadata"]["component"]["pedigree"]["notes"]
    assert f"rejected by samir: {SEALED}" in notes
    assert "added Send to Telegram" in notes
    assert "removed Post to Slack" in notes
    assert "parameters are sealed and were not compared" in notes


def test_a_public_reason_and_public_revisions_read_as_before() -> None:
    log = Log()
    draft(log, 1, definition(), Sensitivity.PUBLIC)
    log.did(
        WorkflowRejected(revision=1, rejected_by="samir", reason="plutôt sur Telegram", rejected_at=log.now),
        "ev-rejected",
    )
    draft(log, 2, definition(slack=False), Sensitivity.PUBLIC)

    notes = log.document(2)["metadata"]["component"]["pedigree"]["notes"]

    assert props(log.document(1)["metadata"]["component"])["aiwf:rejection:reason"] == ["plutôt sur Telegram"]
    assert "rejected by samir: plutôt sur Telegram" in notes
    assert "sealed" not in notes

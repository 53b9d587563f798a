"""The operator's commands: a privacy scan as JSON, one inference through the gateway."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from domain.conversation_events import InferenceDecided
from domain.types import AgentRole
from inference.config import build_gateway, gateway_config_from_env
from inference.operator import infer_once, privacy_scan
from inference.schemas import OrchestratorPlan

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_a_privacy_scan_lists_every_finding_with_its_span_and_reason() -> None:
    text = "Mon RIP 00799999001234567845 et mon tel 0555 12 34 56"

    report = msgspec.json.decode(privacy_scan(text))

    assert report["sensitivity"] == "sensitive"
    assert [(f["kind"], f["text"]) for f in report["findings"]] == [
        ("rip", "00799999001234567845"),
        ("phone", "0555 12 34 56"),
    ]
    for finding in report["findings"]:
        start, end = finding["span"]
        assert text[start:end] == finding["text"]
        assert finding["reason"]
        assert "checksum_valid" in finding


def test_a_public_text_scans_clean() -> None:
    assert msgspec.json.decode(privacy_scan("Bonjour")) == {"sensitivity": "public", "findings": []}


async def test_infer_once_goes_through_the_gateway_and_returns_the_event() -> None:
    gateway = build_gateway(gateway_config_from_env({}))

    outcome = await infer_once(
        gateway, AgentRole.ORCHESTRATOR, "Chaque matin, le total des commandes sur Slack", NOW, "inf-1"
    )

    assert isinstance(outcome.event, InferenceDecided)
    assert (outcome.event.inference_id, outcome.event.decided_at, outcome.event.provider) == (
        "inf-1",
        NOW,
        "offline",
    )
    assert outcome.output is not None
    assert msgspec.json.decode(outcome.output, type=OrchestratorPlan).tasks[0].agent == "sales"

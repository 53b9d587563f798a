"""What a model answered becomes `ok` only when our stores can hold it and it is the role's contract."""

from __future__ import annotations

import msgspec
import pytest

from domain.types import AgentRole
from inference.provider import InferenceResult, Usage
from inference.recording import validated

FINDING = {
    "summary": "orders of yesterday",
    "facts": [{"key": "source", "value": "Shopify"}],
    "n8n_nodes": [],
}


def answered(document: object) -> InferenceResult:
    return InferenceResult(
        provider="vllm",
        model="m",
        output=msgspec.Raw(msgspec.json.encode(document)),
        usage=Usage(input_tokens=1, output_tokens=1),
        latency_ms=1,
        cost_micro_usd=0,
        attempts=1,
    )


def test_an_answer_of_the_contract_is_ok_and_stored_complete() -> None:
    attempt = validated(AgentRole.SALES, answered(FINDING), {})

    assert attempt.outcome == "ok"
    assert msgspec.json.decode(attempt.output)["summary"] == "orders of yesterday"


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({**FINDING, "summary": "a NUL \x00 inside"}, "U+0000"),
        ({**FINDING, "summary": ""}, "length"),
        ({"summary": "no facts"}, "facts"),
        ({**FINDING, "extra": 1}, "extra"),
    ],
    ids=["nul", "empty-summary", "missing-field", "unknown-field"],
)
def test_an_answer_no_store_can_hold_or_off_contract_is_invalid_output_with_a_reason(
    document: object, why: str
) -> None:
    attempt = validated(AgentRole.SALES, answered(document), {})

    assert attempt.outcome == "invalid_output"
    assert attempt.output == b""
    assert why in attempt.note

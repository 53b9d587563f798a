"""What the operator's CLI commands call: `aiwf privacy scan` and `aiwf infer`.

Thin and pure-ish: the CLI parses arguments, calls these, prints the bytes or the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

from domain.types import AgentRole, Sensitivity
from inference.gateway import Gateway, GatewayCall, GatewayOutcome
from inference.privacy import classify
from inference.provider import ChatMessage

# Designers write whole workflows: they need room that a plan or a finding does not.
MAX_TOKENS: Final = {role: 4096 if role == AgentRole.DESIGNER else 1024 for role in AgentRole}
DEADLINE_S: Final = 60.0


class ScanFinding(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    span: tuple[int, int]  # [start, end) in characters of the scanned text
    text: str
    checksum_valid: bool | None
    confidence: str
    reason: str


class ScanReport(msgspec.Struct, frozen=True, kw_only=True):
    sensitivity: Sensitivity
    findings: tuple[ScanFinding, ...]


def privacy_scan(text: str) -> bytes:
    """The classification of `text` and every finding, as JSON (the operator sees the values)."""
    found = classify(text)
    findings = tuple(
        ScanFinding(
            kind=f.kind,
            span=(f.start, f.end),
            text=f.text,
            checksum_valid=f.checksum_valid,
            confidence=f.confidence,
            reason=f.reason,
        )
        for f in found.findings
    )
    report = ScanReport(sensitivity=Sensitivity(found.sensitivity.value), findings=findings)
    return msgspec.json.encode(report)


async def infer_once(
    gateway: Gateway, purpose: AgentRole, text: str, now: datetime, inference_id: str
) -> GatewayOutcome:
    """One user message through the gateway, as the agents would send it."""
    call = GatewayCall(
        inference_id=inference_id,
        purpose=purpose,
        messages=(ChatMessage(role="user", content=text),),
        max_tokens=MAX_TOKENS[purpose],
        deadline_s=DEADLINE_S,
        now=now,
    )
    return await gateway.infer(call)

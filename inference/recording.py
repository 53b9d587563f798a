"""How one gateway call is recorded: its request and outcome types, and the events that say what
happened (`InferenceDecided` with the answer itself, or `InferenceRefused`).

Pure functions: the gateway decides and calls, this module only writes down.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import msgspec

from domain.conversation_events import InferenceDecided, InferenceRefused
from domain.text import json_holds_nul
from domain.types import AgentRole, Sensitivity
from inference.outbound import pseudonymise_all, restore_json
from inference.provider import ChatMessage, InferenceResult, Usage
from inference.schemas import decode_output
from inference.templates import PromptTemplate

_NO_USAGE = Usage(input_tokens=0, output_tokens=0)


class GatewayCall(msgspec.Struct, frozen=True, kw_only=True):
    inference_id: str
    purpose: AgentRole
    messages: tuple[ChatMessage, ...]
    # Tool arguments, tool results, agent findings: sent with the messages, so classified with them.
    extra_texts: tuple[str, ...] = ()
    max_tokens: int = 1024
    deadline_s: float = 30.0  # the whole call, fallbacks included
    # What the texts derive from, whatever they say themselves: a finding drawn from a sensitive
    # message is routed as sensitive even when it repeats none of its values.
    derived_from: Sensitivity = Sensitivity.PUBLIC
    now: datetime  # decided_at / refused_at: time arrives with the call, the gateway reads no clock for it


class GatewayOutcome(msgspec.Struct, frozen=True, kw_only=True):
    event: InferenceDecided | InferenceRefused
    output: msgspec.Raw | None = None  # the validated answer (also in event.output) when outcome is ok


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One provider's answer, restored and validated: what InferenceDecided records."""

    result: InferenceResult | None  # None when the provider raised instead of answering
    outcome: Literal["ok", "invalid_output", "error"]
    output: bytes = b""  # empty unless ok
    note: str = ""  # what was wrong with it


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """Who answered a call, and why the call went there."""

    template: PromptTemplate
    provider: str
    model: str  # used when the provider failed before naming the model that answered
    reason: str
    latency_ms: int
    locality: Literal["local", "cloud"]
    endpoint: str | None
    authenticated: bool


def validated(role: AgentRole, result: InferenceResult, mapping: Mapping[str, str]) -> Attempt:
    """Originals restored, then decoded into the role's Struct and re-encoded: the stored answer is
    always the complete contract shape (defaults filled in), whichever provider wrote it."""
    try:
        answer = decode_output(role, restore_json(bytes(result.output), mapping))
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        return Attempt(result=result, outcome="invalid_output", note=safe_detail(str(err)))
    output = msgspec.json.encode(answer)
    if json_holds_nul(output):  # no store of ours can hold it (domain/text.py)
        return Attempt(result=result, outcome="invalid_output", note="the answer holds U+0000")
    return Attempt(result=result, outcome="ok", output=output)


def decided(call: GatewayCall, sensitivity: Sensitivity, attempt: Attempt, answer: Answer) -> GatewayOutcome:
    result = attempt.result
    usage = result.usage if result is not None else _NO_USAGE
    event = InferenceDecided(
        inference_id=call.inference_id,
        purpose=call.purpose,
        provider=answer.provider,
        model=result.model if result is not None else answer.model,
        route_reason=answer.reason,
        sensitivity=sensitivity,
        template_id=answer.template.id,
        template_version=answer.template.version,
        template_sha256=answer.template.sha256,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        latency_ms=answer.latency_ms,
        cost_micro_usd=result.cost_micro_usd if result is not None else 0,
        outcome=attempt.outcome,
        output=attempt.output.decode(),
        locality=answer.locality,
        endpoint=answer.endpoint,
        authenticated=answer.authenticated,
        decided_at=call.now,
    )
    output = msgspec.Raw(attempt.output) if attempt.outcome == "ok" else None
    return GatewayOutcome(event=event, output=output)


def refused(call: GatewayCall, sensitivity: Sensitivity, reason: str) -> GatewayOutcome:
    event = InferenceRefused(
        inference_id=call.inference_id,
        purpose=call.purpose,
        sensitivity=sensitivity,
        reason=reason,
        refused_at=call.now,
    )
    return GatewayOutcome(event=event)


def answered_by(name: str, *, pseudonymised: bool, attempt: Attempt) -> str:
    how = " with placeholders" if pseudonymised else ""
    if attempt.outcome == "ok":
        return f"answered by {name}{how}"
    return f"{name}{how} answered with {attempt.outcome}: {attempt.note}"


def safe_detail(detail: str) -> str:
    """An error text fit for an event: short, and with any entity the classifier sees masked (a
    server may echo the request, and an echo of sensitive data must not reach the route reason)."""
    try:
        masked = pseudonymise_all([detail])[0][0]
    except Exception:  # the classifier failed on it: say nothing rather than risk the value
        return "(details withheld)"
    return masked[:160]

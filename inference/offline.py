"""The offline provider: a deterministic, in-process planner behind the same Provider contract.

No network and no model weights: multilingual keyword rules read the conversation (`offline_lexicon`),
then per role it answers what the role's schema asks for: a plan, a specialist's finding, or a
complete n8n workflow. It is what the embedded default runs when no model is configured, and the
last fallback for data that may not leave the machine anyway. Every event it produces names
provider "offline" and model "aiwf-offline-planner-1", so nobody mistakes it for a language model.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator, Sequence
from typing import Final, Literal

import msgspec

from domain.types import AgentRole
from inference.offline_lexicon import language_of_turn, read_request
from inference.offline_plans import finding, plan
from inference.offline_workflow import design_workflow
from inference.provider import (
    ChatMessage,
    Clock,
    InferenceRequest,
    InferenceResult,
    ProviderRequestRejected,
    Usage,
    check_output,
)
from inference.schemas import RoleOutput

NAME: Final = "offline"
MODEL: Final = "aiwf-offline-planner-1"
_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Words and punctuation marks: close enough to a tokenizer's count to budget and compare."""
    return len(_TOKEN.findall(text))


@functools.lru_cache(maxsize=32)
def _prompt_tokens(system: str) -> int:
    """A prompt template is counted once: it is the same long text on every call of its role."""
    return count_tokens(system)


def conversation_text(messages: Sequence[ChatMessage]) -> str:
    """What the planner reads: every turn (assistant turns too: "Sur quel canal ?" / "Slack" only
    makes sense together), with JSON documents (findings, tool results) reduced to their values."""
    return "\n".join(_readable(message.content) for message in messages)


def _readable(content: str) -> str:
    """JSON keys ("summary", "facts", "total_price" ...) are vocabulary of the format, not of the
    request: read as words they would turn every finding into a request for a total."""
    parts = []
    for chunk in content.split("\n---\n"):
        try:
            document = msgspec.json.decode(chunk.strip()) if chunk.lstrip()[:1] in ("{", "[") else None
        except msgspec.DecodeError:
            document = None
        parts.append(chunk if document is None else " ".join(_strings(document)))
    return "\n".join(parts)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        if value.get("key") == "assumption":
            return  # what a specialist guessed is not what the user asked: do not read it back
        for item in value.values():
            yield from _strings(item)


def answer(role: AgentRole, conversation: str, latest: str | None = None) -> RoleOutput:
    """What the offline planner answers `role` for a conversation (user text and findings); `latest`,
    the message the turn answers, decides the language of the answer when it says enough."""
    reading = read_request(conversation)
    if latest is not None and latest != conversation:  # else the reading's language is the turn's
        reading = msgspec.structs.replace(reading, language=language_of_turn(latest, reading.language))
    match role:
        case AgentRole.ORCHESTRATOR:
            return plan(reading)
        case AgentRole.DESIGNER:
            return design_workflow(reading, conversation)
        case AgentRole.SALES:
            return finding("sales", reading)
        case AgentRole.LOGISTICS:
            return finding("logistics", reading)
        case AgentRole.FINANCE:
            return finding("finance", reading)


class OfflineProvider:
    name: str = NAME
    locality: Literal["local", "cloud"] = "local"
    endpoint: str | None = None
    authenticated: bool = False
    model: str = MODEL

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock

    async def complete(self, request: InferenceRequest) -> InferenceResult:
        started = self._clock()
        try:
            role = AgentRole(request.purpose)
        except ValueError:
            raise ProviderRequestRejected(
                NAME, f"no offline planner for purpose {request.purpose!r}"
            ) from None
        conversation = conversation_text(request.messages)
        latest = next((_readable(m.content) for m in reversed(request.messages) if m.role == "user"), None)
        document = msgspec.json.encode(answer(role, conversation, latest))
        output = check_output(NAME, document, request.output_schema)
        usage = Usage(
            input_tokens=_prompt_tokens(request.system) + count_tokens(conversation),
            output_tokens=count_tokens(document.decode()),
        )
        return InferenceResult(
            provider=NAME,
            model=MODEL,
            output=output,
            usage=usage,
            latency_ms=round((self._clock() - started) * 1000),
            cost_micro_usd=0,
            attempts=1,
        )

    async def healthy(self) -> bool:
        return True

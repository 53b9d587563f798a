"""Anthropic Messages API provider: official SDK for transport, our own retries, msgspec decoding.

The SDK's retries are off (max_retries=0) so that attempts are counted and bounded by the
request deadline here, and the response body is read raw and decoded with msgspec Structs so
the tool input reaches the caller as the exact JSON bytes the API sent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Final, Literal

import anthropic
import msgspec
from anthropic.types import (
    AssistantMessageParam,
    MessageParam,
    OutputConfigParam,
    TextBlockParam,
    ToolChoiceToolParam,
    ToolParam,
    UserMessageParam,
)

from inference.prices import PriceTable, cost_micro_usd
from inference.provider import (
    ChatMessage,
    Clock,
    InferenceRequest,
    InferenceResult,
    ProviderError,
    ProviderOutputInvalid,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderUnavailable,
    RetryPolicy,
    RetryRunner,
    Sleep,
    Usage,
    check_output,
    public_endpoint,
    retry_after_seconds,
)

NAME: Final = "anthropic"
# The current Sonnet in anthropic 2.13's `Model` literal and on the models overview page.
DEFAULT_MODEL: Final = "claude-sonnet-5-5"
HEALTH_TIMEOUT_S: Final = 5.0

OutputMode = Literal["forced_tool", "json_schema"]

# Documented to answer a forced tool_choice ({"type": "tool"} / {"type": "any"}) with HTTP 400
# ("What's new" pages of Sonnet 5.5 and Opus 5.5, Fable 5.1 / Mythos 5.1 migration guide; the
# 5.2 models are assumed to keep that rule). These get native structured outputs instead.
FORCED_TOOL_REJECTED: Final = frozenset(
    {
        "claude-sonnet-5-5",
        "claude-opus-5-5",
        "claude-fable-5-1",
        "claude-mythos-5-1",
        "claude-fable-5-2",
        "claude-mythos-5-2",
    }
)


class AnthropicConfig(msgspec.Struct, frozen=True, kw_only=True):
    api_key: str
    base_url: str | None = None  # None: the SDK default (which itself reads ANTHROPIC_BASE_URL)
    model: str = DEFAULT_MODEL
    timeout_s: float = 60.0  # cap per HTTP call; the request's remaining deadline caps it further
    max_retries: int = 3  # ours, on 429 / 529 / 5xx / connection errors; the SDK's are off
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    # None: forced tool call, except on models that reject forcing (json_schema output there).
    output_mode: OutputMode | None = None

    def __repr__(self) -> str:
        return f"AnthropicConfig(model={self.model!r}, base_url={self.base_url!r}, api_key=<redacted>)"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries, base_delay_s=self.backoff_base_s, max_delay_s=self.backoff_max_s
        )

    def resolved_output_mode(self) -> OutputMode:
        if self.output_mode is not None:
            return self.output_mode
        return "json_schema" if self.model in FORCED_TOOL_REJECTED else "forced_tool"


def anthropic_config_from_env(environ: Mapping[str, str]) -> AnthropicConfig:
    """ANTHROPIC_API_KEY (required) and ANTHROPIC_BASE_URL, passed on explicitly."""
    return AnthropicConfig(api_key=environ["ANTHROPIC_API_KEY"], base_url=environ.get("ANTHROPIC_BASE_URL"))


class _Block(msgspec.Struct, frozen=True, kw_only=True):
    type: str  # text | tool_use | thinking | ...: unknown kinds are kept, then ignored
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()
    text: str | None = None


class _Usage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _Message(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    content: tuple[_Block, ...]
    usage: _Usage
    stop_reason: str | None = None


class AnthropicProvider:
    name: str = NAME
    locality: Literal["local", "cloud"] = "cloud"

    def __init__(
        self,
        config: AnthropicConfig,
        prices: PriceTable,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._prices = prices
        self._clock = clock
        self._mode = config.resolved_output_mode()
        self._retry = RetryRunner(NAME, config.retry_policy(), clock=clock, sleep=sleep, rand=rand)
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key, base_url=config.base_url, max_retries=0, timeout=config.timeout_s
        )
        self.endpoint: str | None = public_endpoint(str(self._client.base_url))
        self.authenticated = True

    async def complete(self, request: InferenceRequest) -> InferenceResult:
        started = self._clock()
        schema = _schema_object(request.output_schema)
        message, attempts = await self._retry.run(
            lambda remaining: self._attempt(request, schema, remaining), request.deadline_s
        )
        try:
            output = check_output(NAME, _output_document(message, request, self._mode), request.output_schema)
        except ProviderOutputInvalid as err:
            err.attempts = attempts
            raise
        usage = _usage(message.usage)
        cost = cost_micro_usd(self._prices, message.model, usage)
        return InferenceResult(
            provider=NAME,
            model=message.model,
            output=output,
            usage=usage,
            latency_ms=round((self._clock() - started) * 1000),
            cost_micro_usd=cost.micro_usd,
            attempts=attempts,
            priced=cost.priced,
        )

    async def healthy(self) -> bool:
        """One cheap authenticated call: listing a single model."""
        try:
            await self._client.models.list(limit=1, timeout=min(self._config.timeout_s, HEALTH_TIMEOUT_S))
        except anthropic.AnthropicError:
            return False
        return True

    async def aclose(self) -> None:
        await self._client.close()

    async def _attempt(
        self, request: InferenceRequest, schema: dict[str, object], remaining: float
    ) -> _Message:
        structured = _structured_output_params(request.output_name, schema, self._mode)
        try:
            raw = await self._client.messages.with_raw_response.create(
                model=self._config.model,
                max_tokens=request.max_tokens,
                system=_system_blocks(request.system),
                messages=_message_params(request),
                tools=structured.tools,
                tool_choice=structured.tool_choice,
                output_config=structured.output_config,
                timeout=min(self._config.timeout_s, remaining),
            )
            body = await raw.read()
        except anthropic.APIError as err:
            raise _classify(err) from err
        try:
            return msgspec.json.decode(body, type=_Message)
        except msgspec.DecodeError as err:
            raise ProviderOutputInvalid(NAME, f"malformed Messages API response: {err}") from err


class _StructuredOutput(msgspec.Struct, frozen=True, kw_only=True):
    """The SDK arguments that ask for the structured output; omit = leave the field out."""

    tools: list[ToolParam] | anthropic.Omit = anthropic.omit
    tool_choice: ToolChoiceToolParam | anthropic.Omit = anthropic.omit
    output_config: OutputConfigParam | anthropic.Omit = anthropic.omit


def _structured_output_params(name: str, schema: dict[str, object], mode: OutputMode) -> _StructuredOutput:
    if mode == "json_schema":
        return _StructuredOutput(output_config={"format": {"type": "json_schema", "schema": schema}})
    tool: ToolParam = {
        "name": name,
        "description": f"Record the {name} answer. Call it exactly once with the complete answer.",
        "input_schema": schema,
    }
    return _StructuredOutput(
        tools=[tool], tool_choice={"type": "tool", "name": name, "disable_parallel_tool_use": True}
    )


def _system_blocks(system: str) -> list[TextBlockParam]:
    # The system prompt is long and stable per purpose: marking it caches tools + system.
    return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]


def _message_params(request: InferenceRequest) -> list[MessageParam]:
    return [_message_param(message) for message in request.messages]


def _message_param(message: ChatMessage) -> MessageParam:
    if message.role == "user":
        return UserMessageParam(role="user", content=message.content)
    return AssistantMessageParam(role="assistant", content=message.content)


def _schema_object(schema: msgspec.Raw) -> dict[str, object]:
    try:
        return msgspec.json.decode(schema, type=dict[str, object])
    except msgspec.DecodeError as err:
        raise ProviderRequestRejected(NAME, f"output_schema is not a JSON object: {err}", attempts=0) from err


def _output_document(message: _Message, request: InferenceRequest, mode: OutputMode) -> bytes:
    if mode == "json_schema":
        texts = [block.text for block in message.content if block.type == "text" and block.text]
        if texts:
            return "".join(texts).encode()
    else:
        for block in message.content:
            if block.type == "tool_use" and block.name == request.output_name:
                return bytes(block.input)
    raise ProviderOutputInvalid(NAME, f"no {mode} output in the answer (stop_reason={message.stop_reason})")


def _usage(usage: _Usage) -> Usage:
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
    )


def _classify(err: anthropic.APIError) -> ProviderError:
    if isinstance(err, anthropic.APIStatusError):
        return _classify_status(err)
    if isinstance(err, anthropic.APITimeoutError):
        return ProviderUnavailable(NAME, "timeout")
    if isinstance(err, anthropic.APIConnectionError):
        return ProviderUnavailable(NAME, f"connection error: {err.message}")
    return ProviderOutputInvalid(NAME, f"unexpected response: {err.message}")


def _classify_status(err: anthropic.APIStatusError) -> ProviderError:
    """429 is ours to slow down; 408/409/5xx/529 (overloaded_error) are theirs; other 4xx are final."""
    status = err.status_code
    reason = f"HTTP {status} {err.type or 'error'}: {err.api_message or ''}".strip()
    retry_after = retry_after_seconds(err.response.headers)
    if status == 429:
        return ProviderRateLimited(NAME, reason, retry_after_s=retry_after)
    if status in (408, 409) or status >= 500:
        return ProviderUnavailable(NAME, reason, retry_after_s=retry_after)
    return ProviderRequestRejected(NAME, reason, status_code=status)

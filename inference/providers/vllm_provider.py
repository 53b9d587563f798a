"""vLLM provider over its OpenAI-compatible HTTP API (plain httpx: no vllm or openai import).

Structured output uses `response_format={"type": "json_schema", ...}`: the guided_json family
of extra parameters was removed in vLLM 0.12 and is silently ignored by current servers.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Final, Literal

import httpx
import msgspec

from inference.prices import PriceTable, cost_micro_usd
from inference.provider import (
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

NAME: Final = "vllm"
HEALTH_TIMEOUT_S: Final = 5.0


class VllmConfig(msgspec.Struct, frozen=True, kw_only=True):
    base_url: str  # e.g. http://127.0.0.1:8000 (without /v1)
    api_key: str | None = None  # sent as Bearer when the server was started with --api-key
    model: str | None = None  # None: the first id served at GET /v1/models
    # The operator's word that plain HTTP to a non-loopback base_url is a private path (AIWF_VLLM_TRUSTED):
    # without it, or https, or loopback, the gateway sends it no sensitive data (inference/routing.py).
    trusted: bool = False
    timeout_s: float = 120.0  # cap per HTTP call; the request's remaining deadline caps it further
    max_retries: int = 2
    backoff_base_s: float = 0.2
    backoff_max_s: float = 2.0

    def __repr__(self) -> str:
        key = "<redacted>" if self.api_key else None
        return (
            f"VllmConfig(base_url={self.base_url!r}, model={self.model!r}, api_key={key}, "
            f"trusted={self.trusted!r})"
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries, base_delay_s=self.backoff_base_s, max_delay_s=self.backoff_max_s
        )


class _OutMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["system", "user", "assistant"]
    content: str


class _JsonSchema(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    schema: msgspec.Raw
    strict: bool = True


class _ResponseFormat(msgspec.Struct, frozen=True, kw_only=True):
    json_schema: _JsonSchema
    type: Literal["json_schema"] = "json_schema"


class _ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    messages: tuple[_OutMessage, ...]
    max_completion_tokens: int
    response_format: _ResponseFormat


class _AnswerMessage(msgspec.Struct, frozen=True, kw_only=True):
    content: str | None = None


class _Choice(msgspec.Struct, frozen=True, kw_only=True):
    message: _AnswerMessage
    finish_reason: str | None = None


class _PromptDetails(msgspec.Struct, frozen=True, kw_only=True):
    cached_tokens: int | None = None


class _ChatUsage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None


class _ChatResponse(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    choices: tuple[_Choice, ...]
    usage: _ChatUsage | None = None


class _ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    id: str


class _ModelList(msgspec.Struct, frozen=True, kw_only=True):
    data: tuple[_ModelCard, ...]


class VllmProvider:
    name: str = NAME
    locality: Literal["local", "cloud"] = "local"

    def __init__(
        self,
        config: VllmConfig,
        prices: PriceTable,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._prices = prices
        self._clock = clock
        self._model = config.model
        self._retry = RetryRunner(NAME, config.retry_policy(), clock=clock, sleep=sleep, rand=rand)
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.AsyncClient(base_url=config.base_url, headers=headers, timeout=config.timeout_s)
        self.endpoint: str | None = public_endpoint(config.base_url)
        self.authenticated = config.api_key is not None

    async def complete(self, request: InferenceRequest) -> InferenceResult:
        started = self._clock()
        answer, attempts = await self._retry.run(
            lambda remaining: self._attempt(request, remaining), request.deadline_s
        )
        try:
            output = check_output(NAME, _content(answer), request.output_schema)
        except ProviderOutputInvalid as err:
            err.attempts = attempts
            raise
        usage = _usage(answer.usage)
        cost = cost_micro_usd(self._prices, answer.model, usage)
        return InferenceResult(
            provider=NAME,
            model=answer.model,
            output=output,
            usage=usage,
            latency_ms=round((self._clock() - started) * 1000),
            cost_micro_usd=cost.micro_usd,  # a local model absent from the table costs 0, known
            attempts=attempts,
        )

    async def healthy(self) -> bool:
        """GET /health (vLLM's own probe); servers without it get GET /v1/models instead."""
        timeout = min(self._config.timeout_s, HEALTH_TIMEOUT_S)
        try:
            response = await self._http.get("/health", timeout=timeout)
            if response.status_code == 404:
                response = await self._http.get("/v1/models", timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _attempt(self, request: InferenceRequest, remaining: float) -> _ChatResponse:
        model = self._model or await self._discover_model(remaining)
        body = msgspec.json.encode(_chat_request(request, model))
        response = await self._send("POST", "/v1/chat/completions", remaining, content=body)
        try:
            return msgspec.json.decode(response.content, type=_ChatResponse)
        except msgspec.DecodeError as err:
            raise ProviderOutputInvalid(NAME, f"malformed chat completion: {err}") from err

    async def _discover_model(self, remaining: float) -> str:
        response = await self._send("GET", "/v1/models", remaining)
        try:
            models = msgspec.json.decode(response.content, type=_ModelList).data
        except msgspec.DecodeError as err:
            raise ProviderUnavailable(NAME, f"malformed /v1/models answer: {err}") from err
        if not models:
            raise ProviderUnavailable(NAME, "the server serves no model")
        self._model = models[0].id
        return self._model

    async def _send(self, method: str, path: str, remaining: float, content: bytes = b"") -> httpx.Response:
        timeout = min(self._config.timeout_s, remaining)
        headers = {"Content-Type": "application/json"} if content else None
        try:
            response = await self._http.request(
                method, path, content=content, headers=headers, timeout=timeout
            )
        except httpx.TimeoutException as err:
            raise ProviderUnavailable(NAME, f"timeout on {path}") from err
        except httpx.HTTPError as err:
            raise ProviderUnavailable(NAME, f"{type(err).__name__} on {path}: {err}") from err
        if response.status_code != 200:
            raise _classify_status(response, path)
        return response


def _chat_request(request: InferenceRequest, model: str) -> _ChatRequest:
    system = _OutMessage(role="system", content=request.system)
    turns = tuple(_OutMessage(role=message.role, content=message.content) for message in request.messages)
    schema = _JsonSchema(name=request.output_name, schema=request.output_schema)
    return _ChatRequest(
        model=model,
        messages=(system, *turns),
        max_completion_tokens=request.max_tokens,
        response_format=_ResponseFormat(json_schema=schema),
    )


def _content(answer: _ChatResponse) -> bytes:
    if not answer.choices or not answer.choices[0].message.content:
        finish = answer.choices[0].finish_reason if answer.choices else None
        raise ProviderOutputInvalid(NAME, f"empty answer (finish_reason={finish})")
    return answer.choices[0].message.content.encode()


def _usage(usage: _ChatUsage | None) -> Usage:
    """OpenAI counts cached prompt tokens inside prompt_tokens; ours are kept apart."""
    if usage is None:
        return Usage(input_tokens=0, output_tokens=0)
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    return Usage(
        input_tokens=usage.prompt_tokens - cached,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=cached,
    )


def _classify_status(response: httpx.Response, path: str) -> ProviderError:
    status = response.status_code
    reason = f"HTTP {status} on {path}: {response.text[:200]}"
    retry_after = retry_after_seconds(response.headers)
    if status == 429:
        return ProviderRateLimited(NAME, reason, retry_after_s=retry_after)
    if status in (408, 409) or status >= 500:
        return ProviderUnavailable(NAME, reason, retry_after_s=retry_after)
    return ProviderRequestRejected(NAME, reason, status_code=status)

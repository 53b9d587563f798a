"""The one contract every inference provider honours: request, result, errors, retry policy.

Everything a provider returns ends up in an event, so every type here is a frozen msgspec
Struct and money is an integer (micro-USD), never a float.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["user", "assistant"]
    content: str


class InferenceRequest(msgspec.Struct, frozen=True, kw_only=True):
    purpose: str  # orchestrator | sales | logistics | finance | designer | ...
    system: str  # long, stable system prompt (cacheable)
    messages: tuple[ChatMessage, ...]
    output_name: str  # name of the structured output (tool name / json_schema name)
    output_schema: msgspec.Raw  # JSON Schema (bytes) of the structured output the caller wants
    max_tokens: int = 1024
    deadline_s: float = 30.0  # whole-call deadline including retries


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int  # uncached input tokens only (Anthropic's meaning), never the grand total
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class InferenceResult(msgspec.Struct, frozen=True, kw_only=True):
    provider: str  # "anthropic" | "vllm" | "offline"
    model: str  # exact model id that answered
    output: msgspec.Raw  # JSON document that validated against output_schema
    usage: Usage
    latency_ms: int
    cost_micro_usd: int  # integer micro-USD: no floats in anything that ends in an event
    attempts: int
    # False when the model had no price-table entry: cost_micro_usd is then 0 but unknown,
    # and a budget projection must not read it as "free".
    priced: bool = True


class Provider(Protocol):
    name: str
    locality: Literal["local", "cloud"]
    endpoint: str | None  # where its requests go (no credentials in it); None: in this process
    authenticated: bool  # its requests carry a credential

    async def complete(self, request: InferenceRequest) -> InferenceResult: ...

    async def healthy(self) -> bool: ...


class ProviderError(Exception):
    """Base of every provider failure; `attempts` is how many HTTP calls were spent on it."""

    def __init__(self, provider: str, reason: str, *, attempts: int = 1) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.attempts = attempts


class ProviderUnavailable(ProviderError):
    """Down, refused, overloaded, 5xx, circuit open or deadline exceeded: try elsewhere."""

    def __init__(
        self, provider: str, reason: str, *, attempts: int = 1, retry_after_s: float | None = None
    ) -> None:
        super().__init__(provider, reason, attempts=attempts)
        self.retry_after_s = retry_after_s


class ProviderRateLimited(ProviderError):
    """HTTP 429: our quota, not their health; the server may say when to come back."""

    def __init__(
        self, provider: str, reason: str, *, attempts: int = 1, retry_after_s: float | None = None
    ) -> None:
        super().__init__(provider, reason, attempts=attempts)
        self.retry_after_s = retry_after_s


class ProviderOutputInvalid(ProviderError):
    """The provider answered, but not with a JSON object matching the requested schema."""


class ProviderRequestRejected(ProviderError):
    """A 4xx other than 408/409/429 (bad request, auth, unknown model): retrying cannot help,
    and the provider is healthy, so this must not trip a circuit breaker either."""

    def __init__(
        self, provider: str, reason: str, *, status_code: int | None = None, attempts: int = 1
    ) -> None:
        super().__init__(provider, reason, attempts=attempts)
        self.status_code = status_code


TRANSIENT_ERRORS = (ProviderUnavailable, ProviderRateLimited)


class _SchemaHead(msgspec.Struct, frozen=True, kw_only=True):
    required: tuple[str, ...] = ()


def check_output(provider: str, document: bytes, schema: msgspec.Raw) -> msgspec.Raw:
    """Cheap structural check: a JSON object carrying the schema's required top-level keys.

    Full JSON Schema validation is deliberately not done here: both providers constrain
    decoding to the schema already, this only catches truncation, refusals and misfires.
    """
    try:
        fields = msgspec.json.decode(document, type=dict[str, msgspec.Raw])
    except msgspec.DecodeError as err:
        raise ProviderOutputInvalid(provider, f"output is not a JSON object: {err}") from err
    try:
        required = msgspec.json.decode(schema, type=_SchemaHead).required
    except msgspec.DecodeError:
        required = ()
    missing = [key for key in required if key not in fields]
    if missing:
        raise ProviderOutputInvalid(provider, f"output lacks required keys {missing}")
    return msgspec.Raw(document)


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long the server asked us to wait: retry-after-ms, retry-after seconds, or an HTTP date."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        seconds: float | None
        try:
            seconds = float(value) * scale
        except ValueError:
            seconds = _seconds_until(value, now or datetime.now(UTC))
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # "-0000" dates parse naive; HTTP dates are GMT anyway
    return max(0.0, (when - now).total_seconds())


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0


def backoff_delay(policy: RetryPolicy, retry: int, retry_after_s: float | None, rand: float) -> float:
    """Exponential backoff with equal jitter; a server's retry-after is a floor, never shortened."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (retry - 1))
    return max(ceiling * (0.5 + rand / 2), retry_after_s or 0.0)


class RetryRunner:
    """Runs one provider call with bounded retries on transient errors, all inside a deadline.

    Each attempt gets the remaining time so the HTTP timeout can be set to it, and is also
    cut by asyncio.timeout so nothing outlives the deadline even if a client ignores it.
    """

    def __init__(
        self,
        provider: str,
        policy: RetryPolicy,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._provider = provider
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._rand = rand

    async def run(self, attempt: Callable[[float], Awaitable[T]], deadline_s: float) -> tuple[T, int]:
        expires_at = self._clock() + deadline_s
        attempts = 0
        while True:
            attempts += 1
            remaining = expires_at - self._clock()
            try:
                async with asyncio.timeout(remaining):
                    return await attempt(remaining), attempts
            except TimeoutError:
                raise ProviderUnavailable(self._provider, "deadline exceeded", attempts=attempts) from None
            except TRANSIENT_ERRORS as err:
                err.attempts = attempts
                await self._wait_before_retry(err, attempts, expires_at)
            except ProviderError as err:
                err.attempts = attempts
                raise

    async def _wait_before_retry(
        self, err: ProviderUnavailable | ProviderRateLimited, attempts: int, expires_at: float
    ) -> None:
        """Sleep before the next attempt, or re-raise when retries or time have run out."""
        if attempts > self._policy.max_retries:
            raise err
        delay = backoff_delay(self._policy, attempts, err.retry_after_s, self._rand())
        if self._clock() + delay >= expires_at:
            raise err  # waiting would already break the deadline: fail now, let the caller route
        await self._sleep(delay)


def public_endpoint(url: str) -> str:
    """A base URL fit for an event: scheme, host, port and path, never a password or a query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

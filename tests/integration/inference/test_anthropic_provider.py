"""AnthropicProvider against a real HTTP server speaking the Messages API (no SDK mocks)."""

from __future__ import annotations

import asyncio
import time
import typing
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import msgspec
import pytest

from inference.prices import load_prices
from inference.provider import (
    ChatMessage,
    InferenceRequest,
    ProviderOutputInvalid,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderUnavailable,
)
from inference.providers.anthropic_provider import (
    DEFAULT_MODEL,
    FORCED_TOOL_REJECTED,
    AnthropicConfig,
    AnthropicProvider,
    anthropic_config_from_env,
)
from tests.integration.inference.servers import (
    AnthropicMessage,
    AnthropicServer,
    AnthropicUsage,
    TextBlock,
    ThinkingBlock,
)

PRICES = load_prices()
FORCED_MODEL = "claude-sonnet-5"  # current enough, and still accepts a forced tool_choice
SCHEMA = msgspec.Raw(
    b'{"type":"object","properties":{"intent":{"type":"string"},"pallets":{"type":"integer"}},'
    b'"required":["intent","pallets"]}'
)
ANSWER = {"intent": "quote", "pallets": 3}


def make_request(**changes: Any) -> InferenceRequest:
    request = InferenceRequest(
        purpose="sales",
        system="You are the sales agent of a pallet wholesaler. " * 40,
        messages=(
            ChatMessage(role="user", content="I need 3 pallets"),
            ChatMessage(role="assistant", content="Which size?"),
            ChatMessage(role="user", content="Euro pallets"),
        ),
        output_name="sales_reply",
        output_schema=SCHEMA,
    )
    return msgspec.structs.replace(request, **changes)


class RecordedSleeps:
    """Stands in for asyncio.sleep so retry tests are instant yet the waits can be checked."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


MakeProvider = Callable[..., AnthropicProvider]


@pytest.fixture
async def make_provider(anthropic_server: AnthropicServer) -> AsyncIterator[MakeProvider]:
    made: list[AnthropicProvider] = []

    def make(*, sleep: Any = asyncio.sleep, base_url: str | None = None, **config: Any) -> AnthropicProvider:
        settings: dict[str, Any] = {"backoff_base_s": 0.001, "backoff_max_s": 0.005, **config}
        url = base_url or anthropic_server.url
        provider = AnthropicProvider(
            AnthropicConfig(api_key="test-key", base_url=url, **settings), PRICES, sleep=sleep
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


def test_the_default_model_is_the_current_sonnet_known_to_the_installed_sdk() -> None:
    assert DEFAULT_MODEL == "claude-sonnet-5-5"
    assert DEFAULT_MODEL in typing.get_args(typing.get_args(anthropic.types.Model)[0])
    assert DEFAULT_MODEL in PRICES.models


def test_config_from_env_passes_the_base_url_on_and_hides_the_key() -> None:
    config = anthropic_config_from_env({"ANTHROPIC_API_KEY": "sk-secret", "ANTHROPIC_BASE_URL": "http://gw"})
    assert (config.api_key, config.base_url, config.model) == ("sk-secret", "http://gw", DEFAULT_MODEL)
    assert "sk-secret" not in repr(config)


async def test_a_tool_use_answer_becomes_the_output_with_usage_and_cost(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    usage = AnthropicUsage(
        input_tokens=120, output_tokens=40, cache_creation_input_tokens=1000, cache_read_input_tokens=5000
    )
    anthropic_server.reply_tool_use("sales_reply", ANSWER, model=FORCED_MODEL, usage=usage)

    result = await make_provider(model=FORCED_MODEL).complete(make_request())

    assert msgspec.json.decode(result.output) == ANSWER
    assert (result.provider, result.model, result.attempts, result.priced) == (
        "anthropic",
        FORCED_MODEL,
        1,
        True,
    )
    assert (result.usage.input_tokens, result.usage.output_tokens) == (120, 40)
    assert (result.usage.cache_write_tokens, result.usage.cache_read_tokens) == (1000, 5000)
    # $2 in, $10 out, $2.50 cache write, $0.20 cache read per MTok:
    assert result.cost_micro_usd == 120 * 2 + 40 * 10 + 1000 * 2.5 + 5000 * 0.2
    assert result.latency_ms >= 0


async def test_the_request_forces_the_output_tool_and_caches_the_system_prompt(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_tool_use("sales_reply", ANSWER, model=FORCED_MODEL)
    request = make_request(max_tokens=777)

    await make_provider(model=FORCED_MODEL).complete(request)

    (sent,) = anthropic_server.messages_received()
    body = sent.json()
    assert "Bearer test-key" in {f"Bearer {sent.header('x-api-key')}", sent.header("authorization")}
    assert body["model"] == FORCED_MODEL
    assert body["max_tokens"] == 777
    assert body["tool_choice"]["type"] == "tool"
    assert body["tool_choice"]["name"] == "sales_reply"
    assert [tool["name"] for tool in body["tools"]] == ["sales_reply"]
    assert body["tools"][0]["input_schema"] == msgspec.json.decode(SCHEMA)
    assert body["system"] == [
        {"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in request.messages]
    assert "output_config" not in body


async def test_models_that_reject_forced_tools_get_native_json_schema_output(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    thinking = ThinkingBlock()
    answer = TextBlock(text=msgspec.json.encode(ANSWER).decode())
    anthropic_server.reply_message(
        AnthropicMessage(model=DEFAULT_MODEL, content=(thinking, answer), stop_reason="end_turn")
    )

    result = await make_provider().complete(make_request())

    body = anthropic_server.messages_received()[0].json()
    assert DEFAULT_MODEL in FORCED_TOOL_REJECTED
    assert body["model"] == DEFAULT_MODEL
    assert "tool_choice" not in body
    assert "tools" not in body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": msgspec.json.decode(SCHEMA)}}
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert msgspec.json.decode(result.output) == ANSWER


async def test_a_429_with_retry_after_is_waited_out_and_retried(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_error(429, "rate_limit_error", retry_after="2")
    anthropic_server.reply_tool_use("sales_reply", ANSWER, model=FORCED_MODEL)
    sleeps = RecordedSleeps()

    result = await make_provider(model=FORCED_MODEL, sleep=sleeps).complete(make_request())

    assert result.attempts == 2
    assert len(anthropic_server.messages_received()) == 2
    assert sleeps.delays == [2.0]


async def test_an_overloaded_529_is_retried_then_succeeds(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_error(529, "overloaded_error")
    anthropic_server.reply_tool_use("sales_reply", ANSWER, model=FORCED_MODEL)

    result = await make_provider(model=FORCED_MODEL).complete(make_request())

    assert result.attempts == 2
    assert msgspec.json.decode(result.output) == ANSWER


async def test_persistent_overload_gives_up_after_the_bounded_retries(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    for _ in range(5):
        anthropic_server.reply_error(529, "overloaded_error")
    sleeps = RecordedSleeps()

    with pytest.raises(ProviderUnavailable) as raised:
        await make_provider(model=FORCED_MODEL, max_retries=2, sleep=sleeps).complete(make_request())

    assert raised.value.attempts == 3
    assert "overloaded_error" in raised.value.reason
    assert len(anthropic_server.messages_received()) == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[0] <= sleeps.delays[1]  # exponential, jitter stays within each step


async def test_persistent_rate_limiting_is_reported_as_rate_limited(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    for _ in range(3):
        anthropic_server.reply_error(429, "rate_limit_error")

    with pytest.raises(ProviderRateLimited) as raised:
        await make_provider(model=FORCED_MODEL, max_retries=1).complete(make_request())

    assert raised.value.attempts == 2


async def test_a_retry_after_beyond_the_deadline_fails_at_once(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_error(429, "rate_limit_error", retry_after="60")
    sleeps = RecordedSleeps()

    with pytest.raises(ProviderRateLimited) as raised:
        await make_provider(sleep=sleeps).complete(make_request(deadline_s=5.0))

    assert (raised.value.attempts, raised.value.retry_after_s, sleeps.delays) == (1, 60.0, [])


async def test_a_server_slower_than_the_deadline_is_unavailable_within_the_deadline(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    slow = AnthropicMessage(model=FORCED_MODEL, content=(TextBlock(text="{}"),))
    for _ in range(3):
        anthropic_server.reply_message(slow, delay_s=5.0)
    provider = make_provider(model=FORCED_MODEL)  # building the SDK client (TLS context) is not the call
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable) as raised:
        await provider.complete(make_request(deadline_s=0.5))

    # Without the deadline the call would wait for the server's 5 s; how late past 0.5 s a loaded
    # machine schedules the timeout is not what this test is about.
    assert time.monotonic() - started < 2.5
    assert "deadline exceeded" in str(raised.value)


async def test_an_answer_without_the_tool_call_is_invalid_output(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    prose = AnthropicMessage(model=FORCED_MODEL, content=(TextBlock(text="Sure!"),), stop_reason="end_turn")
    anthropic_server.reply_message(prose)

    with pytest.raises(ProviderOutputInvalid, match="end_turn"):
        await make_provider(model=FORCED_MODEL).complete(make_request())


async def test_tool_input_missing_a_required_key_is_invalid_output(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_tool_use("sales_reply", {"intent": "quote"}, model=FORCED_MODEL)

    with pytest.raises(ProviderOutputInvalid, match="pallets"):
        await make_provider(model=FORCED_MODEL).complete(make_request())


async def test_a_json_schema_answer_that_is_not_json_is_invalid_output(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_message(AnthropicMessage(model=DEFAULT_MODEL, content=(TextBlock(text="{oops"),)))

    with pytest.raises(ProviderOutputInvalid):
        await make_provider().complete(make_request())


async def test_a_bad_request_is_rejected_without_retrying(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_error(400, "invalid_request_error")

    with pytest.raises(ProviderRequestRejected) as raised:
        await make_provider(model=FORCED_MODEL).complete(make_request())

    assert (raised.value.status_code, raised.value.attempts) == (400, 1)
    assert len(anthropic_server.messages_received()) == 1


async def test_a_refused_connection_is_unavailable(make_provider: MakeProvider, closed_port_url: str) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        await make_provider(base_url=closed_port_url, max_retries=1).complete(make_request())

    assert raised.value.attempts == 2


async def test_an_unknown_model_is_reported_unpriced(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.reply_tool_use("sales_reply", ANSWER, model="claude-from-the-future")

    result = await make_provider(model=FORCED_MODEL).complete(make_request())

    assert (result.model, result.cost_micro_usd, result.priced) == ("claude-from-the-future", 0, False)


async def test_a_fraction_of_a_micro_dollar_is_rounded_up(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    usage = AnthropicUsage(input_tokens=1, output_tokens=0)
    anthropic_server.reply_tool_use("sales_reply", ANSWER, model="claude-haiku-5-5", usage=usage)

    result = await make_provider(model="claude-haiku-5-5", output_mode="forced_tool").complete(make_request())

    assert result.cost_micro_usd == 1  # 1 token at $0.10 / MTok is 0.1 micro-USD


async def test_healthy_when_the_api_lists_models(
    anthropic_server: AnthropicServer, make_provider: MakeProvider
) -> None:
    anthropic_server.serve_models(DEFAULT_MODEL)

    assert await make_provider().healthy() is True
    assert len(anthropic_server.received("/v1/models")) == 1


async def test_unhealthy_when_the_api_is_unreachable(
    make_provider: MakeProvider, closed_port_url: str
) -> None:
    assert await make_provider(base_url=closed_port_url).healthy() is False

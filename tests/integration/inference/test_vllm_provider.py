"""VllmProvider against a real HTTP server speaking OpenAI chat completions (vLLM's dialect)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from inference.prices import PriceTable, load_prices, prices_path_from_env
from inference.provider import (
    ChatMessage,
    InferenceRequest,
    ProviderOutputInvalid,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderUnavailable,
)
from inference.providers.vllm_provider import VllmConfig, VllmProvider
from tests.integration.inference.servers import ChatUsage, OpenAIServer, PromptTokensDetails, Reply

MODEL = "Qwen/Qwen3-8B"
SCHEMA = msgspec.Raw(
    b'{"type":"object","properties":{"carrier":{"type":"string"},"days":{"type":"integer"}},'
    b'"required":["carrier","days"]}'
)
ANSWER = '{"carrier": "DHL", "days": 2}'


def make_request(**changes: Any) -> InferenceRequest:
    request = InferenceRequest(
        purpose="logistics",
        system="You plan shipments.",
        messages=(ChatMessage(role="user", content="Ship 3 pallets to Lyon"),),
        output_name="shipping_plan",
        output_schema=SCHEMA,
    )
    return msgspec.structs.replace(request, **changes)


MakeProvider = Callable[..., VllmProvider]


@pytest.fixture
async def make_provider(openai_server: OpenAIServer) -> AsyncIterator[MakeProvider]:
    made: list[VllmProvider] = []

    def make(*, prices: PriceTable | None = None, **config: Any) -> VllmProvider:
        settings: dict[str, Any] = {
            "base_url": openai_server.url,
            "model": MODEL,
            "backoff_base_s": 0.001,
            "backoff_max_s": 0.005,
            **config,
        }
        provider = VllmProvider(VllmConfig(**settings), prices or load_prices())
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def test_a_json_schema_answer_becomes_the_output(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    usage = ChatUsage(
        prompt_tokens=300, completion_tokens=25, prompt_tokens_details=PromptTokensDetails(cached_tokens=200)
    )
    openai_server.reply_content(ANSWER, model=MODEL, usage=usage)

    result = await make_provider().complete(make_request())

    assert msgspec.json.decode(result.output) == {"carrier": "DHL", "days": 2}
    assert (result.provider, result.model, result.attempts) == ("vllm", MODEL, 1)
    assert (result.usage.input_tokens, result.usage.cache_read_tokens, result.usage.output_tokens) == (
        100,
        200,
        25,
    )
    assert (result.cost_micro_usd, result.priced) == (0, True)  # local and not in the table: free


async def test_the_request_uses_response_format_json_schema_not_guided_json(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_content(ANSWER, model=MODEL)
    request = make_request(max_tokens=321)

    await make_provider(api_key="local-secret").complete(request)

    (sent,) = openai_server.chats_received()
    body = sent.json()
    assert b"guided_json" not in sent.body
    assert b"guided_" not in sent.body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "shipping_plan", "schema": msgspec.json.decode(SCHEMA), "strict": True},
    }
    assert body["model"] == MODEL
    assert body["max_completion_tokens"] == 321
    assert body["messages"] == [
        {"role": "system", "content": "You plan shipments."},
        {"role": "user", "content": "Ship 3 pallets to Lyon"},
    ]
    assert sent.header("authorization") == "Bearer local-secret"


async def test_content_that_is_not_json_is_invalid_output(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_content("Sure! DHL, two days.", model=MODEL)

    with pytest.raises(ProviderOutputInvalid) as raised:
        await make_provider().complete(make_request())

    assert raised.value.attempts == 1


async def test_content_missing_a_required_key_is_invalid_output(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_content('{"carrier": "DHL"}', model=MODEL)

    with pytest.raises(ProviderOutputInvalid, match="days"):
        await make_provider().complete(make_request())


async def test_an_empty_answer_is_invalid_output(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_content(None, model=MODEL)

    with pytest.raises(ProviderOutputInvalid, match="empty"):
        await make_provider().complete(make_request())


async def test_a_server_that_is_down_is_unavailable(
    make_provider: MakeProvider, closed_port_url: str
) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        await make_provider(base_url=closed_port_url, max_retries=1).complete(make_request())

    assert raised.value.attempts == 2


async def test_a_server_slower_than_the_deadline_is_unavailable(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.enqueue("POST", OpenAIServer.CHAT, Reply(body=b"{}", delay_s=5.0))

    with pytest.raises(ProviderUnavailable):
        await asyncio.wait_for(make_provider().complete(make_request(deadline_s=0.3)), timeout=1.0)


async def test_a_503_is_retried_then_succeeds(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_status(503)
    openai_server.reply_content(ANSWER, model=MODEL)

    result = await make_provider().complete(make_request())

    assert result.attempts == 2


async def test_a_429_is_rate_limited_once_retries_run_out(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_status(429, retry_after="0")
    openai_server.reply_status(429, retry_after="0")

    with pytest.raises(ProviderRateLimited):
        await make_provider(max_retries=1).complete(make_request())


async def test_a_bad_request_is_rejected_without_retrying(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.reply_status(400)

    with pytest.raises(ProviderRequestRejected):
        await make_provider().complete(make_request())

    assert len(openai_server.chats_received()) == 1


async def test_the_model_is_discovered_once_from_v1_models(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.serve_models("meta-llama/Llama-3.1-8B-Instruct", "other")
    openai_server.reply_content(ANSWER, model="meta-llama/Llama-3.1-8B-Instruct")
    openai_server.reply_content(ANSWER, model="meta-llama/Llama-3.1-8B-Instruct")
    provider = make_provider(model=None)

    await provider.complete(make_request())
    await provider.complete(make_request())

    assert [chat.json()["model"] for chat in openai_server.chats_received()] == [
        "meta-llama/Llama-3.1-8B-Instruct"
    ] * 2
    assert len(openai_server.received("/v1/models")) == 1


async def test_a_price_table_entry_makes_a_local_model_cost(
    openai_server: OpenAIServer, make_provider: MakeProvider, tmp_path: Path
) -> None:
    table = tmp_path / "prices.toml"
    table.write_text(
        f'[models."{MODEL}"]\ninput = 100_000\noutput = 1_000_000\ncache_write = 0\ncache_read = 10_000\n'
    )
    prices = load_prices(prices_path_from_env({"AIWF_PRICES_FILE": str(table)}))
    usage = ChatUsage(
        prompt_tokens=300, completion_tokens=25, prompt_tokens_details=PromptTokensDetails(cached_tokens=200)
    )
    openai_server.reply_content(ANSWER, model=MODEL, usage=usage)

    result = await make_provider(prices=prices).complete(make_request())

    # 100 * 0.1 + 25 * 1 + 200 * 0.01 = 37 micro-USD
    assert (result.cost_micro_usd, result.priced) == (37, True)


async def test_healthy_when_health_answers_200(make_provider: MakeProvider) -> None:
    assert await make_provider().healthy() is True


async def test_healthy_falls_back_to_v1_models(
    openai_server: OpenAIServer, make_provider: MakeProvider
) -> None:
    openai_server.serve_always("GET", "/health", Reply(status=404))
    openai_server.serve_models(MODEL)

    assert await make_provider().healthy() is True
    assert len(openai_server.received("/v1/models")) == 1


async def test_unhealthy_when_health_fails(openai_server: OpenAIServer, make_provider: MakeProvider) -> None:
    openai_server.serve_always("GET", "/health", Reply(status=503))

    assert await make_provider().healthy() is False


async def test_unhealthy_when_the_server_is_down(make_provider: MakeProvider, closed_port_url: str) -> None:
    assert await make_provider(base_url=closed_port_url).healthy() is False

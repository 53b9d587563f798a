"""The gateway against real HTTP servers speaking the Anthropic and vLLM APIs (fake, recording).

The privacy promise is asserted on the raw bytes the cloud server received: over a corpus of more
than a hundred messages in four languages, no sensitive value reaches it, in any digit form.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from domain.conversation_events import InferenceDecided, InferenceRefused
from domain.types import AgentRole, Sensitivity
from inference import outbound
from inference.circuit import CircuitBreaker, CircuitBreakerProvider, CircuitConfig, Open
from inference.gateway import Gateway, GatewayCall, GatewayOutcome
from inference.offline import OfflineProvider
from inference.prices import cost_micro_usd, load_prices
from inference.privacy.digits import only_digits, to_ascii
from inference.provider import ChatMessage, Usage
from inference.providers import AnthropicConfig, AnthropicProvider, VllmConfig, VllmProvider
from inference.routing import RoutingPolicy
from inference.schemas import OrchestratorPlan
from inference.templates import load_templates
from tests.integration.inference.servers import (
    AnthropicMessage,
    AnthropicServer,
    AnthropicUsage,
    ChatAnswer,
    ChatChoice,
    ChatCompletion,
    ChatUsage,
    OpenAIServer,
    ReceivedRequest,
    Reply,
    ToolUseBlock,
)

CLOUD_MODEL = "claude-haiku-4-5"  # answers with a forced tool call
LOCAL_MODEL = "Qwen/Qwen3-8B"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CORPUS: list[dict[str, Any]] = json.loads(
    Path(__file__).with_name("gateway_corpus.json").read_text(encoding="utf-8")
)
PLAN = {
    "intents": [{"name": "daily_sales_report", "confidence": 90, "agents": ["sales"]}],
    "summary": "Every day at 08:00: the total of yesterday's orders to Slack.",
    "tasks": [{"agent": "sales", "task": "Read yesterday's Shopify orders and sum them."}],
}
CLOUD_USAGE = AnthropicUsage(input_tokens=120, output_tokens=40, cache_read_input_tokens=900)
LOCAL_USAGE = ChatUsage(prompt_tokens=300, completion_tokens=25)


def cloud_reply(tool_input: object, name: str = "orchestrator_plan") -> Reply:
    block = ToolUseBlock(name=name, input=msgspec.Raw(msgspec.json.encode(tool_input)))
    message = AnthropicMessage(model=CLOUD_MODEL, content=(block,), usage=CLOUD_USAGE)
    return Reply(body=msgspec.json.encode(message))


def local_reply(content: object) -> Reply:
    choice = ChatChoice(message=ChatAnswer(content=msgspec.json.encode(content).decode()))
    return Reply(
        body=msgspec.json.encode(ChatCompletion(model=LOCAL_MODEL, choices=(choice,), usage=LOCAL_USAGE))
    )


@pytest.fixture
def cloud(anthropic_server: AnthropicServer) -> AnthropicServer:
    anthropic_server.serve_always("POST", AnthropicServer.MESSAGES, cloud_reply(PLAN))
    return anthropic_server


@pytest.fixture
def local(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.serve_always("POST", OpenAIServer.CHAT, local_reply(PLAN))
    return openai_server


MakeGateway = Callable[..., Gateway]


def cloud_provider(url: str) -> AnthropicProvider:
    config = AnthropicConfig(
        api_key="sk-test",
        base_url=url,
        model=CLOUD_MODEL,
        max_retries=1,
        backoff_base_s=0.001,
        backoff_max_s=0.005,
    )
    return AnthropicProvider(config, load_prices())


def local_provider(url: str) -> VllmProvider:
    config = VllmConfig(
        base_url=url, model=LOCAL_MODEL, max_retries=1, backoff_base_s=0.001, backoff_max_s=0.005
    )
    return VllmProvider(config, load_prices())


@pytest.fixture
async def make_gateway(cloud: AnthropicServer, local: OpenAIServer) -> AsyncIterator[MakeGateway]:
    made: list[Gateway] = []

    def make(
        *,
        cloud_url: str | None = "",
        local_url: str | None = "",
        policy: RoutingPolicy | None = None,
        local_breaker: CircuitBreaker | None = None,
    ) -> Gateway:
        """A URL of "" means the fake server, None means not configured."""
        remote = cloud_provider(cloud_url or cloud.url) if cloud_url is not None else None
        on_site: VllmProvider | CircuitBreakerProvider | None = None
        if local_url is not None:
            on_site = local_provider(local_url or local.url)
            if local_breaker is not None:
                on_site = CircuitBreakerProvider(on_site, local_breaker)
        gateway = Gateway(
            on_site,
            remote,
            OfflineProvider(),
            load_templates(),
            policy or RoutingPolicy(),
            model_ids={"cloud": CLOUD_MODEL, "local": LOCAL_MODEL},
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


def call(
    text: str, *extra: str, purpose: AgentRole = AgentRole.ORCHESTRATOR, deadline_s: float = 10.0
) -> GatewayCall:
    return GatewayCall(
        inference_id="inf-1",
        purpose=purpose,
        messages=(ChatMessage(role="user", content=text),),
        extra_texts=extra,
        deadline_s=deadline_s,
        now=NOW,
    )


def decided(outcome: GatewayOutcome) -> InferenceDecided:
    assert isinstance(outcome.event, InferenceDecided), outcome.event
    event = outcome.event
    assert msgspec.json.decode(msgspec.json.encode(event), type=InferenceDecided) == event  # valid event
    return event


def refused(outcome: GatewayOutcome) -> InferenceRefused:
    assert isinstance(outcome.event, InferenceRefused), outcome.event
    assert outcome.output is None
    return outcome.event


# --- what a server saw ------------------------------------------------------------------------------


def seen_text(requests: list[ReceivedRequest]) -> str:
    """Everything the server received, as text: raw bodies, and bodies decoded from JSON escapes."""
    parts = []
    for request in requests:
        parts.append(request.body.decode("utf-8", errors="replace"))
        if request.body:
            parts.append(json.dumps(request.json(), ensure_ascii=False))
    return "\n".join(parts)


def collapsed_digits(text: str) -> str:
    """Western digits, with the spaces, dots and dashes between digits removed: "0555 12-34" -> "05551234"."""
    return re.sub(r"(?<=[0-9])[ .\-/]+(?=[0-9])", "", to_ascii(text))


def leaks(secret: str, text: str, digits: str) -> bool:
    if secret.lower() in text.lower() or to_ascii(secret) in to_ascii(text):
        return True
    secret_digits = only_digits(secret)
    return len(secret_digits) >= 5 and secret_digits in digits


def assert_never_seen(server_requests: list[ReceivedRequest], secrets: list[str]) -> None:
    text = seen_text(server_requests)
    digits = collapsed_digits(text)
    leaked = [secret for secret in secrets if leaks(secret, text, digits)]
    assert leaked == []


# --- the corpus -------------------------------------------------------------------------------------


async def test_zero_sensitive_values_reach_the_cloud_over_the_whole_corpus(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    gateway = make_gateway()
    assert len(CORPUS) >= 100

    events = [decided(await gateway.infer(call(entry["text"], *entry["extra_texts"]))) for entry in CORPUS]

    for entry, event in zip(CORPUS, events, strict=True):
        assert (event.sensitivity, event.outcome) == (entry["expected"], "ok"), entry["text"]
        expected_provider = "vllm" if entry["expected"] == "sensitive" else "anthropic"
        assert event.provider == expected_provider, entry["text"]
        if entry["expected"] == "internal":
            assert "answered by anthropic with placeholders" in event.route_reason
    secrets = [secret for entry in CORPUS for secret in entry["secrets"]]
    assert_never_seen(cloud.messages_received(), secrets)
    sensitive = [entry for entry in CORPUS if entry["expected"] == "sensitive"]
    assert len(local.chats_received()) == len(sensitive)
    assert len(cloud.messages_received()) == len(CORPUS) - len(sensitive)
    # The check above can see a leak: the same values are plainly visible on the local server.
    local_text = seen_text(local.chats_received())
    assert all(
        leaks(secret, local_text, collapsed_digits(local_text)) for e in sensitive for secret in e["secrets"]
    )


async def test_sensitive_data_goes_to_the_local_model_and_the_event_says_so(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    outcome = await make_gateway().infer(
        call("Merci de virer sur mon RIP 00799999001234567845 avant vendredi.")
    )

    event = decided(outcome)
    template = load_templates()[AgentRole.ORCHESTRATOR]
    assert (event.provider, event.model, event.sensitivity) == ("vllm", LOCAL_MODEL, Sensitivity.SENSITIVE)
    assert event.route_reason == "sensitive (rip): local model only; answered by vllm"
    assert (event.locality, event.endpoint, event.authenticated) == ("local", local.url.rstrip("/"), False)
    assert (event.template_id, event.template_version, event.template_sha256) == (
        template.id,
        template.version,
        template.sha256,
    )
    assert (event.input_tokens, event.output_tokens, event.cost_micro_usd) == (300, 25, 0)
    assert msgspec.json.decode(event.output, type=OrchestratorPlan) == msgspec.convert(PLAN, OrchestratorPlan)
    assert outcome.output is not None
    assert bytes(outcome.output) == event.output.encode()
    assert cloud.requests == []
    sent = local.chats_received()[0].json()
    assert sent["messages"][0] == {"role": "system", "content": template.text}


async def test_sensitive_data_in_tool_arguments_alone_keeps_the_call_local(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    outcome = await make_gateway().infer(
        call("Prépare le paiement du fournisseur.", '{"rip": "00799999001234567845"}')
    )

    event = decided(outcome)
    assert (event.provider, event.sensitivity) == ("vllm", Sensitivity.SENSITIVE)
    assert cloud.requests == []
    user_turn = local.chats_received()[0].json()["messages"][-1]["content"]
    assert user_turn.startswith("Prépare le paiement du fournisseur.\n\nContext")
    assert '{"rip": "00799999001234567845"}' in user_turn


# --- fail closed ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "extra"),
    [
        ("Mon compte CCP 2345671 clé 21, envoie le paiement dessus.", ()),
        ("Fais le point avec les agents.", ("Agent finding (finance): pay RIP 00799999003456781203.",)),
    ],
)
async def test_local_down_and_sensitive_is_refused_and_nothing_reaches_any_server(
    *,
    make_gateway: MakeGateway,
    cloud: AnthropicServer,
    local: OpenAIServer,
    closed_port_url: str,
    text: str,
    extra: tuple[str, ...],
) -> None:
    outcome = await make_gateway(local_url=closed_port_url).infer(call(text, *extra))

    event = refused(outcome)
    assert event.sensitivity == Sensitivity.SENSITIVE
    assert "vllm unavailable" in event.reason
    assert "never goes to the cloud" in event.reason
    assert cloud.requests == []
    assert local.requests == []


async def test_no_local_model_configured_and_sensitive_is_refused_before_any_call(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    outcome = await make_gateway(local_url=None).infer(call("NIF 000216001234598 de la société"))

    event = refused(outcome)
    assert event.reason == (
        "sensitive (nif): no local model is configured, and sensitive data never goes to the cloud"
    )
    assert cloud.requests == []
    assert local.requests == []


async def test_an_open_local_circuit_refuses_sensitive_data_without_calling(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    breaker = CircuitBreaker(CircuitConfig(cooldown_s=3600), clock=lambda: 1000.0)
    breaker.state = Open(opened_at=1000.0)

    outcome = await make_gateway(local_breaker=breaker).infer(call("Rip dyali 00799999004567812335"))

    assert "circuit is open" in refused(outcome).reason
    assert cloud.requests == []
    assert local.requests == []


async def test_a_classifier_failure_is_treated_as_sensitive(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(outbound, "classify", broken)

    event = decided(await make_gateway().infer(call("Bonjour, le total des commandes d'hier ?")))

    assert (event.provider, event.sensitivity) == ("vllm", Sensitivity.SENSITIVE)
    assert event.route_reason.startswith("classifier failed (RuntimeError), treated as sensitive")
    assert cloud.requests == []


# --- internal: placeholders out, values back --------------------------------------------------------


class EchoingAnthropicServer(AnthropicServer):
    """Answers with a plan whose summary repeats every placeholder the request carried."""

    def take_reply(self, request: ReceivedRequest) -> Reply:
        super().take_reply(request)
        sent = json.dumps(request.json(), ensure_ascii=False)
        placeholders = sorted({match.group() for match in outbound.PLACEHOLDER.finditer(sent)})
        plan = {**PLAN, "summary": f"Call {' and '.join(placeholders)} before delivery."}
        return cloud_reply(plan)


@pytest.fixture
def echoing_cloud() -> Any:
    server = EchoingAnthropicServer()
    server.start()
    yield server
    server.stop()


async def test_internal_data_goes_to_the_cloud_as_placeholders_and_comes_back_restored(
    make_gateway: MakeGateway, echoing_cloud: EchoingAnthropicServer, local: OpenAIServer
) -> None:
    gateway = make_gateway(cloud_url=echoing_cloud.url)

    outcome = await gateway.infer(
        call("Appelle le livreur au 0555 21 43 65 ou écris à karim@boutique.dz", '{"phone": "0555 21 43 65"}')
    )

    event = decided(outcome)
    assert (event.provider, event.sensitivity) == ("anthropic", Sensitivity.INTERNAL)
    assert event.route_reason == (
        "internal (email, phone): cloud with placeholders preferred; answered by anthropic with placeholders"
    )
    sent = seen_text(echoing_cloud.messages_received())
    assert "⟦PHONE_1⟧" in sent
    assert "⟦EMAIL_1⟧" in sent
    assert "⟦PHONE_2⟧" not in sent
    assert_never_seen(echoing_cloud.messages_received(), ["0555 21 43 65", "karim@boutique.dz"])
    summary = msgspec.json.decode(event.output, type=OrchestratorPlan).summary
    assert summary == "Call karim@boutique.dz and 0555 21 43 65 before delivery."
    assert outcome.output is not None
    assert bytes(outcome.output) == event.output.encode()
    assert local.requests == []


async def test_internal_data_kept_local_by_policy_never_reaches_the_cloud(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    gateway = make_gateway(policy=RoutingPolicy(internal_route="local"))

    event = decided(await gateway.infer(call("Appelle le livreur au 0555 21 43 65")))

    assert (event.provider, event.route_reason) == (
        "vllm",
        "internal (phone): kept local by policy; answered by vllm",
    )
    assert cloud.requests == []
    assert "0555 21 43 65" in local.chats_received()[0].json()["messages"][-1]["content"]


# --- public: cloud first, then fall back ------------------------------------------------------------


async def test_public_text_goes_to_the_cloud_with_tokens_and_cost_from_the_provider(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    event = decided(
        await make_gateway().infer(call("Chaque matin, le total des commandes Shopify sur Slack"))
    )

    usage = Usage(input_tokens=120, output_tokens=40, cache_read_tokens=900)
    assert (event.provider, event.model, event.sensitivity) == ("anthropic", CLOUD_MODEL, Sensitivity.PUBLIC)
    assert event.route_reason == "public: cloud preferred; answered by anthropic"
    assert (event.locality, event.endpoint, event.authenticated) == ("cloud", cloud.url.rstrip("/"), True)
    assert (event.input_tokens, event.output_tokens, event.cache_read_tokens) == (120, 40, 900)
    assert event.cost_micro_usd == cost_micro_usd(load_prices(), CLOUD_MODEL, usage).micro_usd > 0
    assert event.template_id == "aiwf.orchestrator"
    assert local.requests == []
    body = cloud.messages_received()[0].json()
    assert body["tool_choice"]["name"] == "orchestrator_plan"
    assert body["tools"][0]["input_schema"]["type"] == "object"


async def test_cloud_down_falls_back_to_local_and_says_so(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    cloud.serve_always(
        "POST",
        AnthropicServer.MESSAGES,
        Reply(status=503, body=b'{"type":"error","error":{"type":"overloaded_error","message":"x"}}'),
    )

    event = decided(await make_gateway().infer(call("Le total des commandes d'hier sur Slack")))

    assert event.provider == "vllm"
    assert event.route_reason.startswith("public: cloud preferred; anthropic unavailable (HTTP 503")
    assert event.route_reason.endswith("; answered by vllm")
    assert len(cloud.messages_received()) == 2  # the first try and its one retry


async def test_cloud_and_local_down_fall_back_to_the_offline_planner(
    make_gateway: MakeGateway, closed_port_url: str
) -> None:
    gateway = make_gateway(cloud_url=closed_port_url, local_url=closed_port_url)

    outcome = await gateway.infer(
        call("Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack")
    )

    event = decided(outcome)
    assert (event.provider, event.model, event.cost_micro_usd) == ("offline", "aiwf-offline-planner-1", 0)
    assert (event.locality, event.endpoint, event.authenticated) == ("local", None, False)
    assert re.fullmatch(
        r"public: cloud preferred; anthropic unavailable \(connection error.*\); "
        r"vllm unavailable \(.*\); answered by offline",
        event.route_reason,
    )
    assert event.input_tokens > 0
    assert event.output_tokens > 0
    assert msgspec.json.decode(event.output, type=OrchestratorPlan).tasks[0].agent == "sales"


async def test_a_slow_cloud_is_cut_at_the_deadline_and_the_offline_planner_answers(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    cloud.serve_always("POST", AnthropicServer.MESSAGES, Reply(body=cloud_reply(PLAN).body, delay_s=5))

    event = decided(await make_gateway().infer(call("Le total des commandes d'hier", deadline_s=0.5)))

    assert event.provider == "offline"
    assert "anthropic unavailable" in event.route_reason
    assert "local skipped: deadline spent" in event.route_reason
    assert event.latency_ms < 2000
    assert local.requests == []


async def test_an_open_cloud_circuit_is_skipped_without_a_call(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    cloud.serve_always("POST", AnthropicServer.MESSAGES, Reply(status=503, body=b"{}"))
    gateway = make_gateway()
    for _ in range(5):  # CircuitConfig().failure_threshold consecutive failures open it
        decided(await gateway.infer(call("Le total des commandes d'hier")))
    sent = len(cloud.messages_received())

    event = decided(await gateway.infer(call("Le total des commandes d'hier")))

    assert event.route_reason.startswith("public: cloud preferred; cloud circuit open; answered by vllm")
    assert len(cloud.messages_received()) == sent


# --- answers that are not what was asked ------------------------------------------------------------


async def test_an_answer_that_breaks_the_schema_is_recorded_as_invalid_output(
    make_gateway: MakeGateway, cloud: AnthropicServer
) -> None:
    cloud.serve_always("POST", AnthropicServer.MESSAGES, cloud_reply({**PLAN, "intents": [{"name": "x"}]}))

    outcome = await make_gateway().infer(call("Le total des commandes d'hier"))

    event = decided(outcome)
    assert (event.provider, event.outcome, event.output, outcome.output) == (
        "anthropic",
        "invalid_output",
        "",
        None,
    )
    assert (event.input_tokens, event.output_tokens) == (120, 40)  # the call was made and paid for
    assert "answered with invalid_output" in event.route_reason


async def test_a_rejected_request_is_recorded_as_an_error(
    make_gateway: MakeGateway, cloud: AnthropicServer
) -> None:
    body = b'{"type":"error","error":{"type":"invalid_request_error","message":"bad schema"}}'
    cloud.serve_always("POST", AnthropicServer.MESSAGES, Reply(status=400, body=body))

    event = decided(await make_gateway().infer(call("Le total des commandes d'hier")))

    assert (event.provider, event.model, event.outcome, event.output) == (
        "anthropic",
        CLOUD_MODEL,
        "error",
        "",
    )
    assert "HTTP 400" in event.route_reason


async def test_every_role_uses_its_own_template_and_output_name(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    finding = {"summary": "Read orders.", "facts": [{"key": "source", "value": "Shopify"}], "n8n_nodes": []}
    cloud.serve_always("POST", AnthropicServer.MESSAGES, cloud_reply(finding, name="agent_finding"))

    event = decided(await make_gateway().infer(call("Read yesterday's orders", purpose=AgentRole.SALES)))

    assert (event.purpose, event.template_id, event.outcome) == (AgentRole.SALES, "aiwf.sales", "ok")
    body = cloud.messages_received()[0].json()
    assert body["system"][0]["text"] == load_templates()[AgentRole.SALES].text
    assert body["tool_choice"]["name"] == "agent_finding"


async def test_an_error_text_echoing_a_sensitive_value_is_masked_in_the_event(
    make_gateway: MakeGateway, local: OpenAIServer
) -> None:
    echo = b'{"object":"error","message":"cannot parse RIP 00799999001234567845","code":400}'
    local.serve_always("POST", OpenAIServer.CHAT, Reply(status=400, body=echo))

    event = decided(await make_gateway().infer(call("Mon RIP 00799999001234567845")))

    assert (event.provider, event.outcome) == ("vllm", "error")
    assert "00799999001234567845" not in event.route_reason
    assert "⟦RIP_1⟧" in event.route_reason


# --- health probes ----------------------------------------------------------------------------------


async def test_health_probes_never_touch_the_cloud_about_sensitive_data(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer, closed_port_url: str
) -> None:
    gateway = make_gateway(local_url=closed_port_url, policy=RoutingPolicy(probe_health=True))

    outcome = await gateway.infer(call("Rip dyali 00799999004567812335"))

    assert "the local model is unhealthy" in refused(outcome).reason
    assert cloud.requests == []


async def test_with_health_probes_an_unhealthy_cloud_is_passed_over(
    make_gateway: MakeGateway, cloud: AnthropicServer, local: OpenAIServer
) -> None:
    gateway = make_gateway(policy=RoutingPolicy(probe_health=True))  # GET /v1/models is not served: 404

    event = decided(await gateway.infer(call("Le total des commandes d'hier")))

    assert event.route_reason == "public: cloud preferred; cloud unhealthy; answered by vllm"
    assert cloud.messages_received() == []
    assert [request.path for request in local.requests] == ["/health", "/v1/chat/completions"]


class _BrokenProvider:
    name = "vllm"
    locality = "local"
    endpoint = "http://127.0.0.1:9"
    authenticated = False

    async def complete(self, request: object) -> object:
        raise KeyError("bug")

    async def healthy(self) -> bool:
        return True


async def test_a_provider_bug_still_ends_as_an_event() -> None:
    gateway = Gateway(_BrokenProvider(), None, OfflineProvider(), load_templates(), RoutingPolicy())  # type: ignore[arg-type]

    event = decided(await gateway.infer(call("Mon RIP 00799999001234567845")))

    assert (event.provider, event.model, event.outcome) == ("vllm", "unknown", "error")
    assert event.route_reason.endswith("vllm answered with error: unexpected KeyError")

"""The process managers under redelivery, crashes, concurrent messages, bad model answers and privacy."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import msgspec
import pytest

from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import AssistantReplied, InferenceDecided, InferenceRefused
from domain.envelope import EventOrigin, NewEvent, Position
from domain.workflow_events import WorkflowDrafted
from handlers.managers import designer, orchestrator, specialists
from handlers.managers.runner import group_of
from inference.gateway import Gateway, GatewayCall, GatewayOutcome
from inference.offline import OfflineProvider
from inference.routing import RoutingPolicy
from inference.templates import load_templates
from infra.event_store import RedisEventStore
from projections.catalog import PROJECTORS
from tests.integration.handlers.conftest import FAST, runtime_for
from tests.integration.inference.servers import (
    AnthropicMessage,
    AnthropicServer,
    ChatAnswer,
    ChatChoice,
    ChatCompletion,
    OpenAIServer,
    Reply,
    TextBlock,
)
from tests.integration.inference.test_gateway import CLOUD_MODEL, cloud_provider, local_provider
from tests.integration.managers.conftest import MainJob, deps_for, offline_gateway
from tests.integration.managers.test_main_job import DEMO, kinds

SENSITIVE = (
    "Chaque matin envoie le total des commandes Shopify sur Slack, paiement sur mon CCP 2345671 clé 21"
)


class Counting:
    """Counts the gateway's calls per purpose: a redelivered step must pay for nothing."""

    def __init__(self, gateway: Gateway) -> None:
        self.calls: Counter[str] = Counter()
        self._infer = gateway.infer
        gateway.infer = self.infer  # type: ignore[method-assign]

    async def infer(self, call: GatewayCall) -> GatewayOutcome:
        self.calls[str(call.purpose)] += 1
        return await self._infer(call)


@pytest.fixture
async def counted_job(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> AsyncIterator[tuple[MainJob, Counting]]:
    gateway = offline_gateway()
    counting = Counting(gateway)
    runtime = runtime_for(standalone_store, redis_url)
    runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
    runtime.add_managers(deps_for(standalone_store, gateway), **FAST)
    await runtime.start()
    yield MainJob(store=standalone_store, runtime=runtime), counting
    await runtime.stop()
    await gateway.aclose()


async def test_every_event_delivered_again_changes_nothing_and_pays_for_nothing(
    counted_job: tuple[MainJob, Counting],
) -> None:
    job, counting = counted_job
    cid = await job.conversation()
    await job.say(cid, DEMO)
    [reply] = await job.replies(cid)
    before = [(e.envelope.version, e.envelope.id) for e in await job.events(cid)]
    calls = dict(counting.calls)

    for keys in job.store.keys.all_partitions():  # every manager reads the whole log again
        for name in ("orchestrator", "specialists", "designer"):
            await job.store.redis.client.xgroup_destroy(keys.log, group_of(name))
    await asyncio.sleep(0.3)  # the workers notice, recreate their groups from the start
    assert await job.runtime.wait_caught_up(timeout_s=20)

    assert [(e.envelope.version, e.envelope.id) for e in await job.events(cid)] == before
    assert dict(counting.calls) == calls == {"orchestrator": 1, "sales": 1, "logistics": 1, "designer": 1}
    workflow = await job.store.read_stream(workflow_stream(reply.envelope.data.workflow_id))
    assert len(workflow) == 2


class CrashOnce:
    """The real store, dying once on the append that follows the model's recorded decision."""

    def __init__(self, store: RedisEventStore) -> None:
        self._store, self.crashed = store, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int, origin: EventOrigin, **kw: Any
    ) -> list[Position]:
        if not self.crashed and not isinstance(events[0].data, InferenceDecided):
            self.crashed = True
            raise ConnectionError("killed between the model call and its consequences")
        return await self._store.append(stream, events, expected_version, origin, **kw)


async def test_a_step_killed_after_its_model_call_reuses_the_recorded_decision(
    standalone_store: RedisEventStore,
) -> None:
    job = MainJob(store=standalone_store, runtime=None)  # type: ignore[arg-type]
    cid = await job.conversation()
    await job.say(cid, DEMO)
    [message] = [
        e.envelope for e in await job.events(cid) if e.envelope.type.endswith("user_message_received.v1")
    ]
    gateway = offline_gateway()
    counting = Counting(gateway)
    crashing = CrashOnce(standalone_store)

    with pytest.raises(ConnectionError):
        await orchestrator.on_user_message(deps_for(crashing, gateway), message)  # type: ignore[arg-type]
    await orchestrator.on_user_message(deps_for(standalone_store, gateway), message)
    await orchestrator.on_user_message(deps_for(standalone_store, gateway), message)  # redelivered again

    assert crashing.crashed
    assert counting.calls == {"orchestrator": 1}
    assert kinds(await job.events(cid)) == Counter(
        {
            "started": 1,
            "user_message_received": 1,
            "inference_decided": 1,
            "intent_classified": 1,
            "agent_delegated": 2,
        }
    )
    await gateway.aclose()


async def test_specialists_and_the_designer_killed_after_their_model_calls_pay_once_too(
    standalone_store: RedisEventStore,
) -> None:
    job = MainJob(store=standalone_store, runtime=None)  # type: ignore[arg-type]
    cid = await job.conversation()
    await job.say(cid, DEMO)
    gateway = offline_gateway()
    counting = Counting(gateway)
    healthy = deps_for(standalone_store, gateway)

    async def of_type(suffix: str) -> list[Any]:
        return [e.envelope for e in await job.events(cid) if e.envelope.type.endswith(suffix)]

    [message] = await of_type("user_message_received.v1")
    await orchestrator.on_user_message(healthy, message)
    for delegation in await of_type("agent_delegated.v1"):
        crashing = CrashOnce(standalone_store)
        with pytest.raises(ConnectionError):
            await specialists.on_delegated(deps_for(crashing, gateway), delegation)  # type: ignore[arg-type]
        await specialists.on_delegated(healthy, delegation)
    last_finding = (await of_type("agent_finding_recorded.v1"))[-1]
    crashing = CrashOnce(standalone_store)
    with pytest.raises(ConnectionError):
        await designer.on_event(deps_for(crashing, gateway), last_finding)  # type: ignore[arg-type]
    await designer.on_event(healthy, last_finding)
    await designer.on_event(healthy, last_finding)  # redelivered again

    assert counting.calls == {"orchestrator": 1, "sales": 1, "logistics": 1, "designer": 1}
    assert kinds(await job.events(cid))["agent_finding_recorded"] == 2
    [reply] = await of_type("assistant_replied.v1")
    workflow = await standalone_store.read_stream(workflow_stream(reply.data.workflow_id))
    assert [e.envelope.data.revision for e in workflow] == [1, 1]  # one draft, one verdict
    await gateway.aclose()


async def test_two_messages_at_once_on_one_conversation_make_two_revisions_of_its_workflow(
    main_job: MainJob,
) -> None:
    cid = await main_job.conversation()
    await asyncio.gather(
        main_job.say(cid, "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack"),
        main_job.say(cid, "Préviens le livreur Yalidine pour chaque commande payée"),
    )

    replies = await main_job.replies(cid, count=2)

    texts = [r.envelope.data.text for r in replies]
    assert all(r.envelope.data.kind == "workflow" for r in replies), texts
    [workflow_id] = {r.envelope.data.workflow_id for r in replies}
    drafts = [e.envelope.data for e in await main_job.store.read_stream(workflow_stream(workflow_id))]
    assert [d.revision for d in drafts if isinstance(d, WorkflowDrafted)] == [1, 2]
    ids = [e.envelope.id for e in await main_job.events(cid)]
    assert len(ids) == len(set(ids))


async def run_with(
    store: RedisEventStore, gateway: Gateway, pg_pool: asyncpg.Pool, redis_url: str
) -> MainJob:
    runtime = runtime_for(store, redis_url)
    runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
    runtime.add_managers(deps_for(store, gateway), **FAST)
    await runtime.start()
    return MainJob(store=store, runtime=runtime)


async def one_conversation(
    store: RedisEventStore, gateway: Gateway, pg_pool: asyncpg.Pool, redis_url: str, text: str
) -> tuple[MainJob, str, Any]:
    """One message through the main job on `gateway`; the job (stopped), the conversation, its reply."""
    job = await run_with(store, gateway, pg_pool, redis_url)
    try:
        cid = await job.conversation()
        await job.say(cid, text)
        [reply] = await job.replies(cid)
    finally:
        await job.runtime.stop()
        await gateway.aclose()
    return job, cid, reply


def plain_gateway(*, local: Any = None, cloud: Any = None) -> Gateway:
    return Gateway(local, cloud, OfflineProvider(), load_templates(), RoutingPolicy())


async def answered_after_two_bad_answers(
    store: RedisEventStore, gateway: Gateway, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    job, cid, reply = await one_conversation(store, gateway, pg_pool, redis_url, DEMO)

    decisions = [
        e.envelope.data for e in await job.events(cid) if isinstance(e.envelope.data, InferenceDecided)
    ]
    assert [d.outcome for d in decisions] == ["invalid_output", "invalid_output"]
    assert isinstance(reply.envelope.data, AssistantReplied)
    assert reply.envelope.data.kind == "failure"
    assert "reformuler" in reply.envelope.data.text
    assert sum(w.dead_lettered for w in job.runtime.workers) == 0  # a model's bad day is not poison


async def test_a_bad_local_answer_is_recorded_asked_once_more_then_answered_with_what_went_wrong(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str, openai_server: OpenAIServer
) -> None:
    bad = ChatCompletion(model="m", choices=(ChatChoice(message=ChatAnswer(content="not json at all")),))
    openai_server.serve_always("POST", OpenAIServer.CHAT, Reply(body=msgspec.json.encode(bad)))
    gateway = plain_gateway(local=local_provider(openai_server.url))
    await answered_after_two_bad_answers(standalone_store, gateway, pg_pool, redis_url)


async def test_a_bad_cloud_answer_is_recorded_asked_once_more_then_answered_with_what_went_wrong(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
) -> None:
    bad = AnthropicMessage(model=CLOUD_MODEL, content=(TextBlock(text="no tool call, just words"),))
    anthropic_server.serve_always("POST", AnthropicServer.MESSAGES, Reply(body=msgspec.json.encode(bad)))
    gateway = plain_gateway(cloud=cloud_provider(anthropic_server.url))
    await answered_after_two_bad_answers(standalone_store, gateway, pg_pool, redis_url)


async def test_sensitive_data_with_only_a_cloud_model_is_refused_and_nothing_is_sent(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
) -> None:
    gateway = plain_gateway(cloud=cloud_provider(anthropic_server.url))
    job, cid, reply = await one_conversation(standalone_store, gateway, pg_pool, redis_url, SENSITIVE)

    refused = [
        e.envelope.data for e in await job.events(cid) if isinstance(e.envelope.data, InferenceRefused)
    ]
    assert [r.purpose for r in refused] == ["orchestrator"]
    assert "ccp" in refused[0].reason
    assert reply.envelope.data.kind == "refusal"
    assert "sensibles" in reply.envelope.data.text
    assert "2345671" not in reply.envelope.data.text
    assert anthropic_server.messages_received() == []


async def test_a_finding_drawn_from_a_sensitive_message_stays_local_even_when_it_repeats_no_value(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
    openai_server: OpenAIServer,
) -> None:
    """With a local model and a cloud, every step of a sensitive turn is answered locally."""
    from domain.types import AgentRole
    from inference.offline import answer
    from tests.integration.inference.test_gateway import local_reply

    def scripted(role: AgentRole) -> Reply:
        return local_reply(msgspec.to_builtins(answer(role, SENSITIVE)))

    for role in (AgentRole.ORCHESTRATOR, AgentRole.SALES, AgentRole.FINANCE, AgentRole.DESIGNER):
        openai_server.enqueue("POST", OpenAIServer.CHAT, scripted(role))
    gateway = plain_gateway(
        local=local_provider(openai_server.url), cloud=cloud_provider(anthropic_server.url)
    )
    job, cid, _ = await one_conversation(standalone_store, gateway, pg_pool, redis_url, SENSITIVE)

    decisions = [
        e.envelope.data for e in await job.events(cid) if isinstance(e.envelope.data, InferenceDecided)
    ]
    assert decisions
    assert {d.sensitivity for d in decisions} == {"sensitive"}
    assert anthropic_server.messages_received() == []


async def test_a_missing_detail_is_asked_and_the_answer_continues_the_same_request(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str, openai_server: OpenAIServer
) -> None:
    from domain.types import AgentRole
    from inference.offline import answer
    from inference.schemas import OrchestratorPlan
    from tests.integration.inference.test_gateway import local_reply

    request, detail = "Chaque matin, envoie-moi le total des commandes Shopify d'hier", "Sur Slack"
    question = OrchestratorPlan(
        intents=(),
        summary="the channel is missing",
        tasks=(),
        language="fr",
        reply="Sur quel canal voulez-vous recevoir le total ?",
        question=True,
    )
    combined = f"{request}\n{detail}"
    for scripted in (
        question,
        answer(AgentRole.ORCHESTRATOR, combined),
        answer(AgentRole.SALES, combined),
        answer(AgentRole.DESIGNER, combined),
    ):
        openai_server.enqueue("POST", OpenAIServer.CHAT, local_reply(msgspec.to_builtins(scripted)))
    gateway = plain_gateway(local=local_provider(openai_server.url))
    job = await run_with(standalone_store, gateway, pg_pool, redis_url)
    try:
        cid = await job.conversation()
        await job.say(cid, request)
        [asked] = await job.replies(cid)
        await job.say(cid, detail)
        [_, done] = await job.replies(cid, count=2)
    finally:
        await job.runtime.stop()
        await gateway.aclose()

    assert (asked.envelope.data.kind, asked.envelope.data.text) == ("question", question.reply)
    assert done.envelope.data.kind == "workflow"
    second_plan = openai_server.chats_received()[1].json()["messages"]
    assert [m["role"] for m in second_plan[1:]] == ["user", "assistant", "user"]  # after the system prompt
    assert [m["content"] for m in second_plan[1:]][:2] == [request, question.reply]
    assert second_plan[-1]["content"].startswith(detail)


def broken(design: Any) -> Any:
    """The offline design with its last connection pointing at a node that does not exist."""
    document = msgspec.to_builtins(design)
    source = next(iter(document["connections"]))
    document["connections"][source]["main"][0][0]["node"] = "A Node That Is Not There"
    return document


@pytest.mark.parametrize("bad_drafts", [1, 4], ids=["repaired", "never-valid"])
async def test_a_draft_the_validator_refuses_is_repaired_with_its_messages_at_most_three_times(
    bad_drafts: int,
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    openai_server: OpenAIServer,
) -> None:
    from domain.types import AgentRole
    from inference.offline import answer
    from tests.integration.inference.test_gateway import local_reply

    request = "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack"
    design = answer(AgentRole.DESIGNER, request)
    scripted = [answer(AgentRole.ORCHESTRATOR, request), answer(AgentRole.SALES, request)]
    scripted += [broken(design)] * bad_drafts + ([design] if bad_drafts < 4 else [])
    for reply in scripted:
        openai_server.enqueue("POST", OpenAIServer.CHAT, local_reply(msgspec.to_builtins(reply)))
    gateway = plain_gateway(local=local_provider(openai_server.url))
    _, _, reply = await one_conversation(standalone_store, gateway, pg_pool, redis_url, request)

    verdicts = [
        type(e.envelope.data).__name__
        for e in await standalone_store.read_stream(workflow_stream(reply.envelope.data.workflow_id))
        if not isinstance(e.envelope.data, WorkflowDrafted)
    ]
    designer_calls = openai_server.chats_received()[2:]
    second = designer_calls[1].json()["messages"][-1]["content"]
    assert "The validator refused the previous draft" in second
    assert "connection_to_missing_node" in second
    if bad_drafts == 1:
        assert verdicts == ["WorkflowValidationFailed", "WorkflowValidated"]
        assert (reply.envelope.data.kind, reply.envelope.data.workflow_revision) == ("workflow", 2)
    else:
        assert verdicts == ["WorkflowValidationFailed"] * 4  # the first draft and three repairs
        assert reply.envelope.data.kind == "failure"
        assert "après 3 corrections" in reply.envelope.data.text

"""The main job's metrics on real Redis and PostgreSQL: a message moves each counter once, whatever the
redeliveries (counted where the facts are appended, docs/adr/0036-main-job-metrics.md)."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec

from domain.conversation_events import InferenceDecided
from handlers.managers.runner import group_of
from infra.event_store import RedisEventStore
from infra.observability import REGISTRY
from tests.integration.inference.servers import AnthropicMessage, AnthropicServer, Reply, TextBlock
from tests.integration.inference.test_gateway import CLOUD_MODEL, cloud_provider
from tests.integration.managers.conftest import MainJob
from tests.integration.managers.test_main_job import DEMO
from tests.integration.managers.test_process_managers import SENSITIVE, one_conversation, plain_gateway
from tests.support.events import ORIGIN, batch

Labels = dict[str, str]
MANAGERS = ("orchestrator", "specialists", "designer")


def snapshot() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every aiwf sample of this process's registry (what `/metrics` serves when not under `aiwf run`)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in REGISTRY.collect()
        if family.name.startswith("aiwf_")
        for s in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def counters(sample: dict) -> dict:
    """The counters of facts: what redelivery must leave alone (latency histograms measure work done)."""
    return {k: v for k, v in sample.items() if k[0].endswith("_total") and "_seconds" not in k[0]}


async def test_a_message_through_the_main_job_moves_each_counter_once_and_times_each_manager(
    main_job: MainJob,
) -> None:
    cid = await main_job.conversation()
    before = snapshot()
    await main_job.say(cid, DEMO)
    await main_job.replies(cid)
    after = snapshot()

    decided = [e.envelope.data for e in await main_job.events(cid)]
    calls = [d for d in decided if isinstance(d, InferenceDecided)]
    model = {"provider": "offline", "model": calls[0].model}
    assert moved(before, after, "aiwf_messages_received_total", sensitivity="public") == 1
    assert moved(before, after, "aiwf_intents_classified_total") == 1
    assert [
        moved(before, after, "aiwf_agent_delegations_total", agent=a) for a in ("sales", "logistics")
    ] == [1, 1]
    assert [moved(before, after, "aiwf_agent_findings_total", agent=a) for a in ("sales", "logistics")] == [
        1,
        1,
    ]
    assert moved(before, after, "aiwf_workflows_drafted_total") == 1
    assert moved(before, after, "aiwf_workflow_validations_total", verdict="valid") == 1
    assert moved(before, after, "aiwf_workflow_validations_total", verdict="invalid") == 0
    assert moved(before, after, "aiwf_assistant_replies_total", kind="workflow") == 1
    for purpose in ("orchestrator", "sales", "logistics", "designer"):
        assert moved(before, after, "aiwf_model_calls_total", **model, purpose=purpose, outcome="ok") == 1
    assert moved(before, after, "aiwf_model_tokens_total", **model, kind="input") == sum(
        c.input_tokens for c in calls
    )
    assert moved(before, after, "aiwf_model_tokens_total", **model, kind="input") > 0
    assert moved(before, after, "aiwf_model_call_seconds_count", provider="offline", outcome="ok") == 4
    for manager in MANAGERS:
        assert moved(before, after, "aiwf_manager_step_seconds_count", manager=manager, outcome="ok") >= 1
    assert moved(before, after, "aiwf_projector_batch_seconds_count", projection="conversation_views") >= 1


async def test_every_step_delivered_again_counts_no_fact_twice(main_job: MainJob) -> None:
    cid = await main_job.conversation()
    await main_job.say(cid, DEMO)
    await main_job.replies(cid)
    before = snapshot()

    for keys in main_job.store.keys.all_partitions():  # every manager reads the whole log again
        for name in MANAGERS:
            await main_job.store.redis.client.xgroup_destroy(keys.log, group_of(name))
    # The workers notice, recreate their groups from the start and run every step again, each finding
    # its work done: their time is measured, their facts are not. Waited for, not slept on: on a loaded
    # machine a lease may change hands meanwhile.
    async with asyncio.timeout(20):
        while not all(ran_again(before, snapshot(), m) for m in MANAGERS):  # noqa: ASYNC110 - metrics, no event
            await asyncio.sleep(0.05)
    assert await main_job.runtime.wait_caught_up(timeout_s=20)
    after = snapshot()

    assert counters(after) == counters(before)
    assert all(ran_again(before, after, manager) for manager in MANAGERS)


def ran_again(before: dict, after: dict, manager: str) -> bool:
    return moved(before, after, "aiwf_manager_step_seconds_count", manager=manager, outcome="ok") >= 1


async def test_a_stored_batch_sent_again_counts_nothing(standalone_store: RedisEventStore) -> None:
    events = batch(3)
    before = snapshot()
    await standalone_store.append("conversation-metrics-1", events, 0, ORIGIN)
    once = snapshot()
    await standalone_store.append("conversation-metrics-1", events, 0, ORIGIN)  # a retry after a lost answer
    again = snapshot()

    assert moved(before, once, "aiwf_messages_received_total", sensitivity="public") == 3
    assert counters(again) == counters(once)


async def test_sensitive_data_with_only_a_cloud_model_counts_a_refusal_by_category_and_no_model_call(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
) -> None:
    gateway = plain_gateway(cloud=cloud_provider(anthropic_server.url))
    before = snapshot()
    await one_conversation(standalone_store, gateway, pg_pool, redis_url, SENSITIVE)
    after = snapshot()

    refused = moved(
        before, after, "aiwf_inferences_refused_total", purpose="orchestrator", category="no_local_model"
    )
    assert refused == 1
    assert moved(before, after, "aiwf_assistant_replies_total", kind="refusal") == 1
    assert not [k for k in after if k[0] == "aiwf_model_calls_total" and after[k] != before.get(k, 0.0)]
    assert not [k for k in after for name, v in k[1] if "2345671" in v]  # no label carries what was refused


async def test_bad_cloud_answers_count_as_model_calls_with_their_outcome(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
) -> None:
    bad = AnthropicMessage(model=CLOUD_MODEL, content=(TextBlock(text="no tool call, just words"),))
    anthropic_server.serve_always("POST", AnthropicServer.MESSAGES, Reply(body=msgspec.json.encode(bad)))
    gateway = plain_gateway(cloud=cloud_provider(anthropic_server.url))
    before = snapshot()
    await one_conversation(standalone_store, gateway, pg_pool, redis_url, DEMO)
    after = snapshot()

    invalid = {
        dict(labels)["provider"]: after[(name, labels)] - before.get((name, labels), 0.0)
        for name, labels in after
        if name == "aiwf_model_calls_total" and dict(labels)["outcome"] == "invalid_output"
    }
    assert sum(invalid.values()) == 2
    assert moved(before, after, "aiwf_assistant_replies_total", kind="failure") == 1
    assert moved(before, after, "aiwf_agent_delegations_total", agent="sales") == 0

"""The SBOM projector on the main job, real Redis and PostgreSQL: one schema-valid CycloneDX document per
revision of every workflow, naming the models, services and n8n nodes that made it, rebuilt byte for
byte from the log whatever order its partitions are folded in."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest

from commands.context import CommandContext
from commands.conversations import start_conversation
from commands.conversations import stream_of as conversation_stream
from commands.workflows import reject_workflow
from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import AssistantReplied, InferenceDecided
from domain.ids import uuid7
from domain.n8n.catalog import default_catalog
from domain.types import AgentRole
from domain.workflow_events import WorkflowDeployed, WorkflowDrafted, WorkflowRejected
from handlers.managers.designer import workflow_of
from handlers.rebuild import replay
from inference.gateway import Gateway
from inference.offline import answer
from inference.schemas import OrchestratorPlan, output_name
from infra.cli.eval import TENANT as EVAL_TENANT
from infra.cli.eval import evaluate, load_corpus
from infra.crypto.fields import PREFIX
from infra.event_store import RedisEventStore
from infra.keys import partition_of
from projections import queries, sbom_parts
from projections.catalog import SBOMS, projector_named
from projections.events import ProjectedEvent
from projections.read_model import Conn
from projections.sbom import build_sbom, serial_number
from projections.sbom_inputs import SbomSubject, decode_source, evolve_subject, source_rows
from projections.sbom_schema import SbomInvalid, check_sbom
from tests.integration.inference.servers import AnthropicServer, OpenAIServer
from tests.integration.inference.test_gateway import (
    CLOUD_MODEL,
    LOCAL_MODEL,
    cloud_provider,
    cloud_reply,
    local_provider,
    local_reply,
)
from tests.integration.managers.conftest import MainJob
from tests.integration.managers.test_deployer import Deploying, deploying, fake
from tests.integration.managers.test_main_job import DEMO
from tests.integration.managers.test_process_managers import SENSITIVE, plain_gateway, run_with

__all__ = ["deploying", "fake"]  # the deployer's fixtures, shared

REQUEST = "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack"
REASON = "plutôt sur Telegram"
SPEC = projector_named("sbom")
COLUMNS = "workflow_id, revision, tenant, document, etag, bom_version, built_at"


class StoredSbom(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    revision: int
    tenant: str
    document: str
    etag: str
    bom_version: int
    built_at: datetime

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.document)
        return loaded


async def all_sboms(pool: asyncpg.Pool, table: str = "sboms") -> list[StoredSbom]:
    records = await pool.fetch(f"SELECT {COLUMNS} FROM {table} ORDER BY workflow_id, revision")
    return [StoredSbom(**dict(r)) for r in records]


async def expected_versions(store: RedisEventStore, workflow_id: str) -> dict[int, int]:
    """Per revision, how many events of the workflow's stream are about it: its SBOM's version."""
    events = await store.read_stream(workflow_stream(workflow_id))
    return dict(
        Counter(r for e in events if isinstance(r := getattr(e.envelope.data, "revision", None), int))
    )


async def settled(
    store: RedisEventStore, pool: asyncpg.Pool, workflow_ids: Iterable[str], timeout_s: float = 30.0
) -> dict[tuple[str, int], StoredSbom]:
    """Waits until every revision of these workflows has its SBOM, at the version its events make."""
    wanted = set(workflow_ids)
    async with asyncio.timeout(timeout_s):
        while True:
            expected = {(w, r): n for w in wanted for r, n in (await expected_versions(store, w)).items()}
            found = {(s.workflow_id, s.revision): s for s in await all_sboms(pool) if s.workflow_id in wanted}
            every = {w for w, _ in expected} == wanted
            if every and all(k in found and found[k].bom_version == n for k, n in expected.items()):
                return found
            await asyncio.sleep(0.05)


def props(item: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in item.get("properties", []):
        found.setdefault(p["name"], []).append(p["value"])
    return found


def models_of(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (c["group"], c["name"])
        for c in document.get("components", [])
        if c["type"] == "machine-learning-model"
    }


def model_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The model servers of a document by provider (n8n left out)."""
    return {
        props(s)["aiwf:inference:provider"][0]: s
        for s in document.get("services", [])
        if "aiwf:inference:provider" in props(s)
    }


def classifications(item: dict[str, Any]) -> set[str]:
    return {d["classification"] for d in item.get("data", [])}


async def drafts(store: RedisEventStore, workflow_id: str) -> dict[int, WorkflowDrafted]:
    """Each revision's draft as the log stores it (its definition sealed when sensitive): what its SBOM
    hashes and reads, with no key."""
    events = await logged(store, workflow_stream(workflow_id))
    return {d.revision: d for e in events if isinstance(d := e.envelope.data, WorkflowDrafted)}


async def decisions(store: RedisEventStore, conversation_id: str) -> dict[str, InferenceDecided]:
    events = await store.read_stream(conversation_stream(conversation_id))
    return {d.inference_id: d for e in events if isinstance(d := e.envelope.data, InferenceDecided)}


async def named_models(store: RedisEventStore, draft: WorkflowDrafted) -> set[tuple[str, str]]:
    """The (provider, model) of every model decision the draft names, read from the conversation."""
    found = await decisions(store, draft.conversation_id)
    assert set(draft.inference_ids) <= found.keys()
    return {(found[i].provider, found[i].model) for i in draft.inference_ids}


def assert_well_formed(sbom: StoredSbom, draft: WorkflowDrafted) -> dict[str, Any]:
    document = sbom.json
    check_sbom(document)
    assert document["specVersion"] == "1.6"
    assert document["serialNumber"] == serial_number(sbom.tenant, sbom.workflow_id, sbom.revision).urn
    assert document["version"] == sbom.bom_version
    assert datetime.fromisoformat(document["metadata"]["timestamp"]) == sbom.built_at
    assert sbom.etag == hashlib.sha256(sbom.document.encode()).hexdigest()
    [digest] = document["metadata"]["component"]["hashes"]
    assert digest == {"alg": "SHA-256", "content": hashlib.sha256(draft.definition.encode()).hexdigest()}
    assert digest["content"] == draft.definition_sha256
    assert PREFIX not in sbom.document  # a sealed field is never quoted, not even as ciphertext
    nodes = [c for c in document.get("components", []) if c["type"] == "library"]
    assert {c["bom-ref"] for c in nodes} == {f"node:{n.name}" for n in draft.nodes}  # the outline's
    return document


# --- every language and domain of the corpus ---------------------------------------------------------

CASES = load_corpus()


@pytest.mark.timeout(600)
async def test_every_workflow_of_the_corpus_has_a_valid_sbom_per_revision_naming_the_models_it_came_from(
    main_job: MainJob, pg_pool: asyncpg.Pool
) -> None:
    wanted = [case for case in CASES if case.wants_workflow]
    report = await evaluate(main_job.store, wanted)
    titles = {
        r["title"]: r["conversation_id"]
        for r in await pg_pool.fetch(
            "SELECT conversation_id, title FROM conversations WHERE tenant = $1", EVAL_TENANT
        )
    }
    drafted = [v for v in report.verdicts if v.outcome.drafts]
    workflows = {v.case.id: workflow_of(titles[v.case.id]) for v in drafted}
    sboms = await settled(main_job.store, pg_pool, workflows.values(), timeout_s=120)

    checked: list[tuple[str, int]] = []
    for verdict in drafted:
        workflow_id = workflows[verdict.case.id]
        doc = await queries.get_workflow(pg_pool, EVAL_TENANT, workflow_id)
        assert doc is not None
        for revision, draft in (await drafts(main_job.store, workflow_id)).items():
            sbom = sboms[(workflow_id, revision)]
            document = assert_well_formed(sbom, draft)
            [read_model] = [r for r in doc.revisions if r.revision == revision]
            assert document["metadata"]["component"]["hashes"][0]["content"] == read_model.definition_sha256
            assert models_of(document) == await named_models(main_job.store, draft), verdict.case.id
            assert len(draft.inference_ids) >= 3  # the orchestrator's, a specialist's, the designer's
            checked.append((workflow_id, revision))

    assert len(drafted) == len(wanted)  # every request that asks for a workflow got one
    assert len(checked) == len(sboms) >= len(wanted)
    covered = [v.case for v in drafted]
    assert {c.language for c in covered} == {c.language for c in CASES}
    assert {s for c in covered for s in c.specialists} == {s for c in CASES for s in c.specialists}
    assert {c.trigger for c in covered} == {c.trigger for c in CASES} - {"none"}
    assert sum(c.sensitive for c in covered) == sum(c.sensitive for c in wanted) > 0


# --- the cloud, the local sidecar, and sensitive data -------------------------------------------------


def scripted(text: str) -> list[tuple[AgentRole, Any]]:
    """What the offline planner answers, step by step, for a message: what the test servers will say."""
    plan = answer(AgentRole.ORCHESTRATOR, text)
    assert isinstance(plan, OrchestratorPlan)
    roles = [AgentRole.ORCHESTRATOR, *(AgentRole(t.agent) for t in plan.tasks), AgentRole.DESIGNER]
    return [(role, msgspec.to_builtins(answer(role, text))) for role in roles]


def script_cloud(server: AnthropicServer, text: str) -> None:
    for role, said in scripted(text):
        server.enqueue("POST", AnthropicServer.MESSAGES, cloud_reply(said, output_name(role)))


def script_local(server: OpenAIServer, text: str) -> None:
    for _, said in scripted(text):
        server.enqueue("POST", OpenAIServer.CHAT, local_reply(said))


@asynccontextmanager
async def running(
    store: RedisEventStore, gateway: Gateway, pool: asyncpg.Pool, redis_url: str
) -> AsyncIterator[MainJob]:
    job = await run_with(store, gateway, pool, redis_url)
    try:
        yield job
    finally:
        await job.runtime.stop()
        await gateway.aclose()


async def one_workflow(job: MainJob, *texts: str) -> tuple[str, str]:
    """Each text as a turn of one conversation, answered; the conversation and its workflow."""
    cid = await job.conversation()
    for count, text in enumerate(texts, start=1):
        await job.say(cid, text)
        replies = await job.replies(cid, count=count)
        assert isinstance(replies[-1].envelope.data, AssistantReplied)
        assert replies[-1].envelope.data.kind == "workflow", replies[-1].envelope.data.text
    return cid, workflow_of(cid)


async def test_a_workflow_drafted_with_the_cloud_names_the_anthropic_model_and_its_service(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
) -> None:
    script_cloud(anthropic_server, REQUEST)
    gateway = plain_gateway(cloud=cloud_provider(anthropic_server.url))
    async with running(standalone_store, gateway, pg_pool, redis_url) as job:
        cid, workflow_id = await one_workflow(job, REQUEST)
        sboms = await settled(job.store, pg_pool, [workflow_id])

    [draft] = (await drafts(job.store, workflow_id)).values()
    document = assert_well_formed(sboms[(workflow_id, 1)], draft)
    made = list((await decisions(job.store, cid)).values())
    assert {(d.provider, d.locality, d.endpoint, d.authenticated) for d in made} == {
        ("anthropic", "cloud", anthropic_server.url, True)
    }
    assert models_of(document) == {("anthropic", CLOUD_MODEL)}
    [anthropic] = model_services(document).values()
    assert anthropic["endpoints"] == [anthropic_server.url]
    assert anthropic["authenticated"] is True
    assert (anthropic["trustZone"], anthropic["x-trust-boundary"]) == ("cloud", True)
    assert classifications(anthropic) == {"public"}
    assert len(anthropic_server.received(AnthropicServer.MESSAGES)) == 3  # orchestrator, sales, designer


async def test_a_workflow_drafted_with_the_local_sidecar_names_the_vllm_model_and_its_service(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str, openai_server: OpenAIServer
) -> None:
    script_local(openai_server, SENSITIVE)
    gateway = plain_gateway(local=local_provider(openai_server.url))
    async with running(standalone_store, gateway, pg_pool, redis_url) as job:
        cid, workflow_id = await one_workflow(job, SENSITIVE)
        sboms = await settled(job.store, pg_pool, [workflow_id])

    [draft] = (await drafts(job.store, workflow_id)).values()
    document = assert_well_formed(sboms[(workflow_id, 1)], draft)
    made = list((await decisions(job.store, cid)).values())
    assert {(d.provider, d.locality, d.endpoint, d.authenticated) for d in made} == {
        ("vllm", "local", openai_server.url, False)
    }
    assert models_of(document) == {("vllm", LOCAL_MODEL)}
    [vllm] = model_services(document).values()
    assert vllm["endpoints"] == [openai_server.url]
    assert vllm["authenticated"] is False
    assert (vllm["trustZone"], vllm["x-trust-boundary"]) == ("local", False)
    assert classifications(vllm) == {"sensitive"}
    assert props(document["metadata"]["component"])["aiwf:data:classification"] == ["sensitive"]
    assert "2345671" not in sboms[(workflow_id, 1)].document  # the CCP number itself is nobody's business
    assert draft.definition.startswith(PREFIX)  # drawn from a sensitive turn: its nodes from the outline
    assert draft.nodes


async def test_with_both_models_sensitive_data_shows_on_the_local_service_and_never_on_the_cloud(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    anthropic_server: AnthropicServer,
    openai_server: OpenAIServer,
) -> None:
    """A public turn is answered in the cloud; a second turn with a CCP number, and the revision that
    reads both, locally. Revision 2's SBOM holds both services, each with what really went there."""
    script_cloud(anthropic_server, REQUEST)
    script_local(openai_server, SENSITIVE)
    gateway = plain_gateway(
        local=local_provider(openai_server.url), cloud=cloud_provider(anthropic_server.url)
    )
    async with running(standalone_store, gateway, pg_pool, redis_url) as job:
        _, workflow_id = await one_workflow(job, REQUEST, SENSITIVE)
        sboms = await settled(job.store, pg_pool, [workflow_id])

    by_revision = await drafts(job.store, workflow_id)
    first = assert_well_formed(sboms[(workflow_id, 1)], by_revision[1])
    second = assert_well_formed(sboms[(workflow_id, 2)], by_revision[2])
    assert models_of(first) == {("anthropic", CLOUD_MODEL)}
    assert models_of(second) == {("anthropic", CLOUD_MODEL), ("vllm", LOCAL_MODEL)}
    assert models_of(second) == await named_models(job.store, by_revision[2])
    services = model_services(second)
    assert services["anthropic"]["endpoints"] == [anthropic_server.url]
    assert services["vllm"]["endpoints"] == [openai_server.url]
    assert (services["anthropic"]["trustZone"], services["vllm"]["trustZone"]) == ("cloud", "local")
    assert "sensitive" in classifications(services["vllm"])
    for document in (first, second):
        cloud = model_services(document)["anthropic"]
        assert "sensitive" not in classifications(cloud)
    assert props(second["metadata"]["component"])["aiwf:data:classification"] == ["sensitive"]


# --- a revision after a rejection ---------------------------------------------------------------------


def node_names(definition: str) -> set[str]:
    return {n["name"] for n in json.loads(definition)["nodes"]}


async def sources_of(store: RedisEventStore, conversation_id: str) -> list[Any]:
    events = await logged(store, conversation_stream(conversation_id))
    return [decode_source(row.document) for e in events for row in source_rows(e)]


def fold_subject(events: Sequence[ProjectedEvent]) -> SbomSubject:
    subject: SbomSubject | None = None
    for event in events:
        subject = evolve_subject(subject, event)
    assert subject is not None
    return subject


async def test_a_revision_after_a_rejection_has_its_own_sbom_and_the_rejected_one_keeps_its_own(
    main_job: MainJob, pg_pool: asyncpg.Pool
) -> None:
    cid, workflow_id = await one_workflow(main_job, REQUEST)
    before = await settled(main_job.store, pg_pool, [workflow_id])
    ctx = CommandContext(tenant="acme", actor="k1", now=datetime.now(UTC))

    await reject_workflow(main_job.store, ctx, workflow_id, 1, REASON)
    await main_job.replies(cid, count=2)
    sboms = await settled(main_job.store, pg_pool, [workflow_id])

    by_revision = await drafts(main_job.store, workflow_id)
    first = assert_well_formed(sboms[(workflow_id, 1)], by_revision[1])
    second = assert_well_formed(sboms[(workflow_id, 2)], by_revision[2])
    assert first["serialNumber"] != second["serialNumber"]
    assert sboms[(workflow_id, 1)].bom_version == before[(workflow_id, 1)].bom_version + 1 == 3
    rejected = props(first["metadata"]["component"])
    assert (rejected["aiwf:rejection:by"], rejected["aiwf:rejection:reason"]) == (["k1"], [REASON])
    assert rejected["aiwf:workflow:status"] == ["rejected"]
    assert "task:rejection" in {t["bom-ref"] for t in first["formulation"][0]["workflows"][0]["tasks"]}
    assert "pedigree" not in first["metadata"]["component"]

    pedigree = second["metadata"]["component"]["pedigree"]
    [ancestor] = pedigree["ancestors"]
    assert (ancestor["bom-ref"], ancestor["version"]) == ("workflow@1", "1")
    assert f"rejected by k1: {REASON}" in pedigree["notes"]
    old, new = node_names(by_revision[1].definition), node_names(by_revision[2].definition)
    assert new != old
    for name in (new - old) | (old - new):
        assert name in pedigree["notes"]
    assert "added " in pedigree["notes"]
    assert props(second["metadata"]["component"])["aiwf:workflow:status"] == ["valid"]

    # Revision 1's SBOM is what its own events make, as they stood at the rejection: drafting
    # revision 2 changed nothing of it.
    workflow = await logged(main_job.store, workflow_stream(workflow_id))
    upto = next(i for i, e in enumerate(workflow) if isinstance(e.envelope.data, WorkflowRejected)) + 1
    subject = fold_subject(workflow[:upto])
    record = subject.revision(1)
    assert record is not None
    sources = await sources_of(main_job.store, cid)
    rebuilt = build_sbom(subject, record, sources, default_catalog(), SBOMS.generator)
    assert rebuilt.decode() == sboms[(workflow_id, 1)].document


# --- rebuilt from the log, byte for byte --------------------------------------------------------------


async def logged(store: RedisEventStore, stream: str) -> list[ProjectedEvent]:
    """The events of one stream as its partition's projector receives them, in log order."""
    partition = store.keys.for_stream(stream).partition
    out = []
    for entry in await store.read_log(partition):
        envelope = store.registry.decode(entry.raw or b"")
        if envelope.stream == stream:
            out.append(
                ProjectedEvent(
                    partition=partition, log_id=entry.log_id, raw=entry.raw or b"", envelope=envelope
                )
            )
    return out


def partitions(store: RedisEventStore, conversation_id: str) -> tuple[int, int]:
    """(the workflow's partition, the conversation's)."""
    count = store.keys.partitions
    return (
        partition_of(workflow_stream(workflow_of(conversation_id)), count),
        partition_of(conversation_stream(conversation_id), count),
    )


def conversation_id_where(store: RedisEventStore, *, workflow_first: bool) -> str:
    """A conversation id whose workflow hashes to a lower partition than it (or a higher one)."""
    while True:
        cid = uuid7()
        workflow, conversation = partitions(store, cid)
        if (workflow < conversation) if workflow_first else (workflow > conversation):
            return cid


async def conversation_with_id(job: MainJob, cid: str, text: str) -> str:
    ctx = CommandContext(tenant="acme", actor="k1", now=datetime.now(UTC))
    await start_conversation(job.store, ctx, title=None, language=None, conversation_id=cid)
    await job.say(cid, text)
    [reply] = await job.replies(cid)
    assert isinstance(reply.envelope.data, AssistantReplied)
    assert reply.envelope.data.workflow_id == workflow_of(cid)
    return workflow_of(cid)


@pytest.mark.timeout(120)
async def test_a_rebuild_of_the_sbom_projector_reproduces_every_document_byte_for_byte(
    main_job: MainJob, pg_pool: asyncpg.Pool
) -> None:
    early = await conversation_with_id(
        main_job, conversation_id_where(main_job.store, workflow_first=True), DEMO
    )
    late = await conversation_with_id(
        main_job, conversation_id_where(main_job.store, workflow_first=False), REQUEST
    )
    cid, rejected = await one_workflow(main_job, REQUEST)
    ctx = CommandContext(tenant="acme", actor="k1", now=datetime.now(UTC))
    await reject_workflow(main_job.store, ctx, rejected, 1, REASON)
    await main_job.replies(cid, count=2)
    live = await settled(main_job.store, pg_pool, [early, late, rejected])
    assert len(live) == 4
    assert len(await all_sboms(pg_pool)) == 4

    report = await replay(pg_pool, main_job.store, SPEC, "rebuild")

    assert report.swapped
    assert await all_sboms(pg_pool) == list(live.values())  # documents, etags, versions, times
    assert (await replay(pg_pool, main_job.store, SPEC, "verify")).differences == []


async def probe_tables(pool: asyncpg.Pool, name: str) -> dict[str, str]:
    """Empty copies of the projector's tables, for folding by hand."""
    names = {table: f"{table}__{name}" for table in SPEC.tables}
    async with pool.acquire() as conn:
        for table, copy in names.items():
            await conn.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)")
    return names


async def apply_all(conn: Conn, names: dict[str, str], events: Sequence[ProjectedEvent]) -> None:
    """What the projector does with a batch, its models in order (the caller holds the transaction)."""
    for model in SPEC.models:
        await model.apply(conn, events, names)


async def fold(pool: asyncpg.Pool, names: dict[str, str], events: Sequence[ProjectedEvent]) -> None:
    """One batch of the projector, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await apply_all(conn, names, events)


@pytest.mark.timeout(120)
async def test_a_workflow_folded_before_its_conversation_waits_for_the_decisions_then_has_the_live_bytes(
    main_job: MainJob, pg_pool: asyncpg.Pool
) -> None:
    cid, workflow_id = await one_workflow(main_job, DEMO)
    live = (await settled(main_job.store, pg_pool, [workflow_id]))[(workflow_id, 1)]
    workflow = await logged(main_job.store, workflow_stream(workflow_id))
    conversation = await logged(main_job.store, conversation_stream(cid))
    designer = max(
        i
        for i, e in enumerate(conversation)
        if isinstance(e.envelope.data, InferenceDecided) and e.envelope.data.purpose == AgentRole.DESIGNER
    )
    names = await probe_tables(pg_pool, "workflow_first")

    await fold(pg_pool, names, workflow)
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {names['sbom_workflows']}") == 1
    assert await all_sboms(pg_pool, names["sboms"]) == []  # no decision of its conversation is in yet
    await fold(pg_pool, names, conversation[:designer])
    assert await all_sboms(pg_pool, names["sboms"]) == []  # the designer's decision is still missing
    await fold(pg_pool, names, conversation[designer:])

    assert await all_sboms(pg_pool, names["sboms"]) == [live]

    # The other order, one event per batch, gives the same bytes too.
    others = await probe_tables(pg_pool, "conversation_first")
    for event in [*conversation, *workflow]:
        await fold(pg_pool, others, [event])
    assert await all_sboms(pg_pool, others["sboms"]) == [live]


async def interleaved(
    pool: asyncpg.Pool,
    names: dict[str, str],
    first: Sequence[ProjectedEvent],
    second: Sequence[ProjectedEvent],
) -> None:
    """Two projector batches at once: `first` folded and not yet committed while `second` is folded;
    `first` commits once `second` waits for it (or has finished without waiting), then `second`."""
    async with pool.acquire() as one, pool.acquire() as two:
        pid = await two.fetchval("SELECT pg_backend_pid()")
        async with one.transaction():
            await apply_all(one, names, first)
            tx = two.transaction()
            await tx.start()
            task = asyncio.create_task(apply_all(two, names, second))
            async with asyncio.timeout(10):
                while not task.done():
                    state = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
                    if await pool.fetchval(state, pid) == "Lock":
                        break
                    await asyncio.sleep(0.01)
        await task
        await tx.commit()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workflow_first", [True, False], ids=["workflow-first", "conversation-first"])
async def test_the_two_partitions_folded_at_the_same_time_meet_and_build_the_sbom(
    main_job: MainJob, pg_pool: asyncpg.Pool, workflow_first: bool
) -> None:
    """The workflow's partition and its conversation's as two batches in flight together: whichever
    commits second must see what the other wrote, so the SBOM is built once, with the live bytes."""
    cid, workflow_id = await one_workflow(main_job, DEMO)
    live = (await settled(main_job.store, pg_pool, [workflow_id]))[(workflow_id, 1)]
    workflow = await logged(main_job.store, workflow_stream(workflow_id))
    conversation = await logged(main_job.store, conversation_stream(cid))
    names = await probe_tables(pg_pool, "together")

    if workflow_first:
        await interleaved(pg_pool, names, workflow, conversation)
    else:
        await interleaved(pg_pool, names, conversation, workflow)

    assert await all_sboms(pg_pool, names["sboms"]) == [live]


async def test_a_document_that_breaks_the_schema_fails_its_batch_and_is_never_stored(
    main_job: MainJob, pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, workflow_id = await one_workflow(main_job, REQUEST)
    await settled(main_job.store, pg_pool, [workflow_id])
    events = [
        *await logged(main_job.store, conversation_stream(cid)),
        *await logged(main_job.store, workflow_stream(workflow_id)),
    ]
    names = await probe_tables(pg_pool, "broken")
    monkeypatch.setattr(sbom_parts, "model_card", lambda calls: {"modelParameters": {"task": ["no"]}})

    with pytest.raises(SbomInvalid) as refused:
        await fold(pg_pool, names, events)

    assert any("/modelCard/modelParameters/task: " in p for p in refused.value.problems)
    for table in names.values():  # the whole batch rolled back: nothing half-folded either
        assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 0


# --- deployed ----------------------------------------------------------------------------------------


async def test_a_deployed_workflow_s_sbom_names_the_n8n_instance_the_deployment_and_its_task(
    deploying: Deploying,
) -> None:
    await deploying.connect_all()
    workflow_id = await deploying.approved_workflow()
    [deployed] = await deploying.outcomes(workflow_id)
    assert isinstance(deployed, WorkflowDeployed)

    sboms = await settled(deploying.store, deploying.pool, [workflow_id])

    [draft] = (await drafts(deploying.store, workflow_id)).values()
    sbom = sboms[(workflow_id, 1)]
    document = assert_well_formed(sbom, draft)
    assert sbom.bom_version == 5  # drafted, validated, approved, deployment requested, deployed
    [n8n] = [s for s in document["services"] if s["bom-ref"] == "service:n8n"]
    assert n8n["endpoints"] == [deploying.fake.url]
    assert (n8n["version"], n8n["authenticated"], n8n["trustZone"]) == ("2.8.4", True, "local")
    workflow = props(document["metadata"]["component"])
    assert workflow["aiwf:deployment:n8n-workflow-id"] == [deployed.n8n_workflow_id]
    assert workflow["aiwf:deployment:instance"] == [deploying.fake.url]
    assert workflow["aiwf:deployment:n8n-version"] == ["2.8.4"]
    assert workflow["aiwf:deployment:status"] == ["deployed"]
    assert workflow["aiwf:approval:by"] == ["k1"]
    tasks = document["formulation"][0]["workflows"][0]["tasks"]
    [deploy] = [t for t in tasks if t["taskTypes"] == ["deploy"]]
    events = await deploying.store.read_stream(workflow_stream(workflow_id))
    answered = next(e.envelope.id for e in events if isinstance(e.envelope.data, WorkflowDeployed))
    assert props(deploy)["aiwf:event:workflow_deployed"] == [answered]
    for node in (c for c in document["components"] if c["type"] == "library"):
        assert node["version"] == default_catalog().package_version  # n8n 2.8.4, the catalogue's
    secrets = [c["id"] for c in deploying.fake.credentials.values()]
    assert secrets
    assert not any(secret in sbom.document for secret in secrets)  # credential types, never their ids

"""`make eval` / `aiwf eval`: the corpus of merchants' requests played through the main job and scored.

Every case of `tests/corpus/main_job.json` is sent as a message of its own conversation to the running
main job (orchestrator, specialists, designer); once it is answered, the conversation's and the
workflow's events say what happened. The expectations are what a competent person expects of the
request, not what any planner answers:

- `specialists`: `sales` when the workflow reads or reacts to the store's orders, products or customers
  (Shopify, WooCommerce, a Facebook page's order form); `logistics` for carriers, parcels, deliveries
  and returns; `finance` for payments, collections, invoices, TVA and the G50. Empty: no workflow.
- `trigger`: `schedule`, `webhook`, `app_event` (a store's trigger node), or `none` (no workflow).
- `nodes`: node types the valid workflow must hold; `a|b` accepts either.
- `sensitive`: the text carries data that must stay on a local model (CCP, RIP, NIF, an invoice).

It exits 1 below `MIN_ROUTING` routing accuracy, when any drafted workflow stays invalid after repair,
or when a model call derived from a sensitive case was not classified sensitive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import msgspec

from commands.context import CommandContext
from commands.conversations import send_message, start_conversation
from commands.conversations import stream_of as conversation_stream
from commands.ports import EventStore
from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import AgentDelegated, AssistantReplied, InferenceDecided, InferenceRefused
from domain.envelope import DomainEvent
from domain.n8n.catalog import NodeCatalog, default_catalog
from domain.workflow_events import WorkflowDrafted, WorkflowValidated
from handlers.managers.designer import workflow_of
from infra.cli.serving import open_gateway, open_pool, print_notes, runtime_for
from infra.runtime import open_infrastructure
from infra.settings import Settings

CORPUS: Final = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "main_job.json"
LANGUAGES: Final = ("fr", "ar", "darija", "en")
MIN_ROUTING: Final = 0.95
TENANT: Final = "eval"
WAIT_S: Final = 30.0

Language = Literal["fr", "ar", "darija", "en"]
Specialist = Literal["sales", "logistics", "finance"]
TriggerKind = Literal["schedule", "webhook", "app_event", "none"]


class CorpusCase(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    language: Language
    text: str
    specialists: frozenset[Specialist]
    trigger: TriggerKind
    nodes: tuple[str, ...] = ()
    sensitive: bool = False

    @property
    def wants_workflow(self) -> bool:
        return self.trigger != "none"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What the main job did with one case, as its events tell it."""

    reply_kind: str | None  # None: no reply within the wait
    delegated: frozenset[str]
    drafts: tuple[bool, ...] = ()  # each revision drafted, valid or not, in order
    trigger: str = "none"  # of the last draft: a TriggerKind, or the node type of another trigger
    node_types: frozenset[str] = frozenset()  # of the last draft
    sensitivities: tuple[str, ...] = ()  # of every model call
    refusals: int = 0  # model calls the gateway refused to send anywhere
    models: frozenset[str] = frozenset()  # provider/model of every model call


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    case: CorpusCase
    outcome: Outcome

    @property
    def routed(self) -> bool:
        if self.case.wants_workflow:
            return self.outcome.delegated == self.case.specialists
        return not self.outcome.delegated and self.outcome.reply_kind in ("answer", "question")

    @property
    def trigger_ok(self) -> bool:
        return self.outcome.trigger == self.case.trigger

    @property
    def missing_nodes(self) -> tuple[str, ...]:
        types = self.outcome.node_types
        return tuple(key for key in self.case.nodes if not types & set(key.split("|")))

    @property
    def kept_local(self) -> bool:
        """Every model call of a sensitive case was routed as sensitive (only a local model may take it),
        or refused (with only a cloud model configured: nothing was sent)."""
        found = self.outcome.sensitivities
        return bool(found or self.outcome.refusals) and all(s == "sensitive" for s in found)

    def failures(self) -> list[str]:
        case, got = self.case, self.outcome
        wrong = []
        if got.reply_kind is None:
            wrong.append(f"no reply within {WAIT_S:.0f} s")
        if not self.routed:
            expected = "+".join(sorted(case.specialists)) or "no delegation, an answer"
            wrong.append(
                f"routing: expected {expected}, got {'+'.join(sorted(got.delegated)) or 'no delegation'}"
                f" and a reply of kind {got.reply_kind}"
            )
        if got.drafts and not got.drafts[-1]:
            wrong.append(f"workflow still invalid after {len(got.drafts)} drafts")
        if not self.trigger_ok:
            wrong.append(f"trigger: expected {case.trigger}, got {got.trigger}")
        if case.wants_workflow and self.missing_nodes:
            wrong.append(f"nodes missing: {', '.join(self.missing_nodes)}")
        if case.sensitive and not self.kept_local:
            wrong.append(f"sensitive, but model calls were classified {', '.join(got.sensitivities) or '-'}")
        return wrong


class Row(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    cases: int
    routing: float | None
    workflows: int
    valid_first: float | None
    valid: float | None
    repairs: float | None  # mean repair rounds per drafted workflow
    trigger: float | None
    key_nodes: float | None
    sensitive: tuple[int, int]  # kept local, sensitive cases


def _share(hits: Sequence[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def summarise(label: str, verdicts: Sequence[Verdict]) -> Row:
    drafted = [v.outcome.drafts for v in verdicts if v.outcome.drafts]
    sensitive = [v.kept_local for v in verdicts if v.case.sensitive]
    return Row(
        label=label,
        cases=len(verdicts),
        routing=_share([v.routed for v in verdicts]),
        workflows=len(drafted),
        valid_first=_share([d[0] for d in drafted]),
        valid=_share([d[-1] for d in drafted]),
        repairs=sum(len(d) - 1 for d in drafted) / len(drafted) if drafted else None,
        trigger=_share([v.trigger_ok for v in verdicts]),
        key_nodes=_share([not v.missing_nodes for v in verdicts if v.case.wants_workflow]),
        sensitive=(sum(sensitive), len(sensitive)),
    )


class Report(msgspec.Struct, frozen=True, kw_only=True):
    verdicts: tuple[Verdict, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        groups = [(lang, [v for v in self.verdicts if v.case.language == lang]) for lang in LANGUAGES]
        return (*(summarise(lang, vs) for lang, vs in groups if vs), summarise("all", self.verdicts))

    @property
    def overall(self) -> Row:
        return self.rows[-1]

    def problems(self) -> list[str]:
        """Why the eval fails; empty when it passes."""
        row, found = self.overall, []
        if row.routing is None or row.routing < MIN_ROUTING:
            found.append(f"routing {_pct(row.routing)} < {MIN_ROUTING:.0%}")
        if row.valid is None or row.valid < 1:
            found.append(f"valid workflows {_pct(row.valid)} < 100% (of {row.workflows} drafted)")
        if row.sensitive[0] < row.sensitive[1]:
            found.append(f"sensitive cases kept local {row.sensitive[0]}/{row.sensitive[1]}")
        return found


def load_corpus(path: Path = CORPUS) -> tuple[CorpusCase, ...]:
    return msgspec.json.decode(path.read_bytes(), type=tuple[CorpusCase, ...])


async def evaluate(
    store: EventStore, cases: Sequence[CorpusCase], *, concurrency: int = 8, wait_s: float = WAIT_S
) -> Report:
    """Plays every case on a running main job (projectors optional) and scores what it did; up to
    `concurrency` conversations at once, as many users would."""
    catalog, gate = default_catalog(), asyncio.Semaphore(concurrency)
    plays = (_judged(gate, store, catalog, case, wait_s) for case in cases)
    return Report(verdicts=tuple(await asyncio.gather(*plays)))


async def _judged(
    gate: asyncio.Semaphore, store: EventStore, catalog: NodeCatalog, case: CorpusCase, wait_s: float
) -> Verdict:
    async with gate:
        return Verdict(case=case, outcome=await play(store, catalog, case, wait_s))


async def play(store: EventStore, catalog: NodeCatalog, case: CorpusCase, wait_s: float) -> Outcome:
    ctx = CommandContext(tenant=TENANT, actor="eval", now=datetime.now(UTC), source="aiwf://eval")
    started = await start_conversation(store, ctx, title=case.id, language=None)
    conversation_id = started.stream.removeprefix("conversation-")
    await send_message(store, ctx, conversation_id, case.text)
    data = await _until_replied(store, conversation_id, wait_s)
    replies = [d for d in data if isinstance(d, AssistantReplied)]
    decisions = [d for d in data if isinstance(d, InferenceDecided)]
    outcome = Outcome(
        reply_kind=replies[0].kind if replies else None,
        delegated=frozenset(d.agent.value for d in data if isinstance(d, AgentDelegated)),
        sensitivities=tuple(d.sensitivity.value for d in decisions),
        refusals=sum(isinstance(d, InferenceRefused) for d in data),
        models=frozenset(f"{d.provider}/{d.model}" for d in decisions),
    )
    workflow_id = (replies[0].workflow_id if replies else None) or workflow_of(conversation_id)
    workflow = [e.envelope.data for e in await store.read_stream(workflow_stream(workflow_id))]
    drafts = [d for d in workflow if isinstance(d, WorkflowDrafted)]
    if not drafts:
        return outcome
    valid = {d.revision for d in workflow if isinstance(d, WorkflowValidated)}
    nodes = json.loads(drafts[-1].definition).get("nodes", [])
    types = [str(node.get("type")) for node in nodes if isinstance(node, dict)]
    return msgspec.structs.replace(
        outcome,
        drafts=tuple(d.revision in valid for d in drafts),
        trigger=trigger_kind(types, catalog),
        node_types=frozenset(types),
    )


async def _until_replied(store: EventStore, conversation_id: str, wait_s: float) -> list[DomainEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        data = [e.envelope.data for e in await store.read_stream(conversation_stream(conversation_id))]
        if any(isinstance(d, AssistantReplied) for d in data) or loop.time() > deadline:
            return data
        await asyncio.sleep(0.02)


def trigger_kind(types: Sequence[str], catalog: NodeCatalog) -> str:
    """The kind of a workflow's first trigger node; another trigger is named by its type."""
    for node_type in types:
        spec = catalog.get(node_type)
        if spec is None or not spec.trigger:
            continue
        if node_type == "n8n-nodes-base.scheduleTrigger":
            return "schedule"
        if node_type == "n8n-nodes-base.webhook":
            return "webhook"
        return "app_event" if node_type in APP_EVENTS else node_type
    return "none"


APP_EVENTS: Final = frozenset({"n8n-nodes-base.shopifyTrigger", "n8n-nodes-base.wooCommerceTrigger"})


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def render(report: Report) -> str:
    head = ("language", "cases", "routing", "workflows", "valid 1st", "valid", "repairs", "trigger", "nodes")
    lines = ["{:<9}{:>6}{:>9}{:>10}{:>10}{:>8}{:>8}{:>9}{:>8}  sensitive kept local".format(*head)]
    for row in report.rows:
        repairs = "-" if row.repairs is None else f"{row.repairs:.2f}"
        lines.append(
            f"{row.label:<9}{row.cases:>6}{_pct(row.routing):>9}{row.workflows:>10}"
            f"{_pct(row.valid_first):>10}{_pct(row.valid):>8}{repairs:>8}{_pct(row.trigger):>9}"
            f"{_pct(row.key_nodes):>8}  {row.sensitive[0]}/{row.sensitive[1]}"
        )
    failing = [v for v in report.verdicts if v.failures()]
    if failing:
        lines.append(f"\nfailing: {len(failing)} of {len(report.verdicts)} cases")
    for verdict in failing:
        lines.append(f"  {verdict.case.id}: {verdict.case.text}")
        lines.extend(f"      {why}" for why in verdict.failures())
    return "\n".join(lines)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """`aiwf eval [--corpus PATH]`: the corpus through the main job as `aiwf run` wires it."""
    cases = load_corpus(Path(args.corpus) if args.corpus else CORPUS)
    async with (
        open_infrastructure(settings) as infra,
        open_pool(infra) as pool,
        open_gateway(infra.notes) as gateway,
    ):
        print_notes(infra)
        runtime = runtime_for(infra, pool, gateway, poll_ms=20, auto_approve=False)
        await runtime.start()
        try:
            report = await evaluate(infra.store, cases)
        finally:
            await runtime.stop()
    models = sorted({m for v in report.verdicts for m in v.outcome.models})
    print(f"eval: {len(cases)} cases, answered by {', '.join(models) or 'no model'}")
    print(render(report))
    problems = report.problems()
    print("eval: OK" if not problems else f"eval: FAILED ({'; '.join(problems)})")
    return 0 if not problems else 1

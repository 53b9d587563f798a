"""A command on a long conversation (issue 8, item 7): folding the whole history vs. its snapshot.

    python -m bench.command_bench [--redis-url URL] [--events N] [--commands N]

Builds conversations of `--events` events in turns of ten, as the main job writes them (a user message,
its intent, two delegations, three model decisions with 1.5 kB outputs, two findings, a reply), then
times `--commands` SendMessage commands through the generic command path three ways in the same run:
- *full fold* (the baseline: how every command loaded its aggregate before snapshots),
- *snapshot* (the newest snapshot and the events after it),
- *kept fold* (this process's fold of the stream, checked by reading what came after it: issue 15),
- *short conversation* (a conversation of 2 events: what a command should cost, whatever the length).
Each command reads, decides and appends one event. Prints one table; every key is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Row, render, verdict
from commands.context import CommandContext
from commands.conversations import CONVERSATIONS, stream_of
from commands.execute import Decider, execute
from domain.catalog import REGISTRY
from domain.conversation import SendMessage
from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationStarted,
    Fact,
    InferenceDecided,
    Intent,
    IntentClassified,
    UserMessageReceived,
)
from domain.envelope import DomainEvent, EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import AgentRole, Sensitivity
from infra.embedded import start_valkey
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import connect

ORIGIN = EventOrigin(tenant="acme", source="aiwf://bench")
TEXT = "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack."
OUTPUT = (
    '{"summary": "daily sales report", "facts": [' + '{"key": "source", "value": "shopify"}, ' * 40 + "]}"
)
GOAL_RATIO = 2.0  # a command on the long conversation within 2x of one on a short conversation
# Both without the process's fold cache (issue 15), which would answer all but the first command.
FULL_FOLD = dataclasses.replace(CONVERSATIONS, snapshot_every=10**12, cached=False)
SNAPSHOT = dataclasses.replace(CONVERSATIONS, cached=False)


def turn(n: int, now: datetime) -> list[DomainEvent]:
    mid = f"m{n}"
    decided = [
        InferenceDecided(
            inference_id=f"i{n}-{k}",
            purpose=role,
            provider="offline",
            model="offline-planner",
            route_reason="no provider configured",
            sensitivity=Sensitivity.PUBLIC,
            template_id=f"aiwf.{role.value}",
            template_version=1,
            template_sha256="0" * 64,
            output=OUTPUT,
            decided_at=now,
        )
        for k, role in enumerate((AgentRole.ORCHESTRATOR, AgentRole.SALES, AgentRole.LOGISTICS))
    ]
    agents = (AgentRole.SALES, AgentRole.LOGISTICS)
    return [
        UserMessageReceived(message_id=mid, text=TEXT, sensitivity=Sensitivity.PUBLIC, received_at=now),
        IntentClassified(
            message_id=mid,
            intents=(Intent(name="daily_sales_report", confidence=90),),
            summary="report",
            classified_at=now,
        ),
        *(
            AgentDelegated(
                delegation_id=f"d{n}-{a.value}", agent=a, task="find", message_id=mid, delegated_at=now
            )
            for a in agents
        ),
        *decided,
        *(
            AgentFindingRecorded(
                delegation_id=f"d{n}-{a.value}",
                agent=a,
                summary="found",
                facts=(Fact(key="k", value="v"),),
                recorded_at=now,
            )
            for a in agents
        ),
        AssistantReplied(message_id=f"r{n}", text="Voici le workflow.", in_reply_to=mid, replied_at=now),
    ]


async def conversation(store: RedisEventStore, events: int) -> str:
    cid = uuid7()
    now = datetime.now(UTC)
    history: list[DomainEvent] = [
        ConversationStarted(conversation_id=cid, started_by="bench", started_at=now)
    ]
    n = 0
    while len(history) < events:
        history += turn(n, now)
        n += 1
    pending = [NewEvent(data=data, id=uuid7(), time=now) for data in history[:events]]
    for at in range(0, len(pending), 500):
        await store.append(stream_of(cid), pending[at : at + 500], expected_version=at, origin=ORIGIN)
    return cid


async def timed(
    store: RedisEventStore, decider: Decider[SendMessage, object], cid: str, n: int
) -> list[float]:
    out = []
    for _ in range(n):
        ctx = CommandContext(tenant="acme", actor="bench", now=datetime.now(UTC))
        command = SendMessage(
            message_id=uuid7(), text=TEXT, sensitivity=Sensitivity.PUBLIC, received_at=ctx.now
        )
        began = time.perf_counter()
        await execute(store, decider, stream_of(cid), command, ctx)
        out.append((time.perf_counter() - began) * 1000)
    return out


def ms(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


async def main(url: str, events: int, commands: int) -> None:
    conn = await connect(url)
    keys = KeySpace(prefix=f"bench{uuid.uuid4().hex[:8]}", partitions=8)
    store = RedisEventStore(conn, keys, REGISTRY, wait_fsync_ms=None)
    try:
        long_full, long_snap, short = (
            await conversation(store, events),
            await conversation(store, events),
            await conversation(store, 2),
        )
        await timed(store, CONVERSATIONS, long_snap, 1)  # its first command keeps the first snapshot
        results = {
            "full fold, long": await timed(store, FULL_FOLD, long_full, max(commands // 10, 5)),
            "snapshot, long": await timed(store, SNAPSHOT, long_snap, commands),
            "kept fold, long": await timed(store, CONVERSATIONS, long_snap, commands),
            "short conversation": await timed(store, SNAPSHOT, short, commands),
        }
    finally:
        async for key in conn.client.scan_iter(match=f"{keys.prefix}:*", count=1000):
            await conn.client.delete(key)
        await conn.close()
    report(results, events)


def report(results: dict[str, list[float]], events: int) -> None:
    short = statistics.median(results["short conversation"])
    rows = []
    for name, samples in results.items():
        p50 = statistics.median(samples)
        ratio = p50 / short
        goal = f"<= {GOAL_RATIO:g}x short" if name == "snapshot, long" else ""
        rows.append(
            Row(
                measure=f"command p50 / p99, {name}",
                result=f"{p50:.2f} / {ms(samples, 99):.2f} ms",
                baseline=f"{short:.2f} ms (short)",
                ratio=ratio,
                goal=goal,
                verdict=verdict(ratio <= GOAL_RATIO) if goal else "",
            )
        )
    full, snap = statistics.median(results["full fold, long"]), statistics.median(results["snapshot, long"])
    print(f"conversations of {events} events in turns of 10; {len(results['snapshot, long'])} commands each")
    print(render(rows))
    print(f"snapshot vs full fold on the long conversation: {full / snap:.1f}x faster")


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(main(args.redis_url, args.events, args.commands))
        return
    valkey = start_valkey(Path(tempfile.mkdtemp(prefix="aiwf-bench-")))
    try:
        asyncio.run(main(valkey.url, args.events, args.commands))
    finally:
        valkey.stop()


if __name__ == "__main__":
    cli()

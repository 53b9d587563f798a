"""What must hold after every chaos round, read from the log, the consumer groups, the read models and n8n.

1. every command answered 202 has its events in the log, and no client's message is there twice;
2. per stream, versions contiguous and unique and every hash chain verifies (`verify_store`);
3. every consumer group has read and acknowledged its whole log: processed + dead-lettered = published,
   and what it dead-lettered is exactly the foreign and poison entries injected, nothing healthy;
4. every read model equals a fold of the log (`aiwf projections verify`);
5. no process manager acted twice: one event per cause and step (delegation, finding, model call, draft,
   verdict, approval, deployment), one n8n workflow per workflow of ours."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    InferenceDecided,
    IntentClassified,
    UserMessageReceived,
)
from domain.workflow_events import (
    WorkflowApproved,
    WorkflowDeployed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
    WorkflowValidated,
    WorkflowValidationFailed,
)
from handlers.managers.deployer import marker
from infra.audit import verify_store
from infra.event_store import RedisEventStore, StoredEvent
from tests.chaos.load import Ack

# What makes a step's event the same step: with its cause (causationid), these fields of its data.
STEP_IDENTITY: dict[type[Any], tuple[str, ...]] = {
    IntentClassified: ("message_id",),
    AgentDelegated: ("message_id", "agent"),
    AgentFindingRecorded: ("delegation_id",),
    InferenceDecided: ("purpose", "template_id"),
    AssistantReplied: ("in_reply_to", "kind", "workflow_revision"),
    WorkflowDrafted: ("revision",),
    WorkflowValidated: ("revision",),
    WorkflowValidationFailed: ("revision",),
    WorkflowApproved: ("revision",),
    WorkflowDeploymentRequested: ("revision",),
    WorkflowDeployed: ("revision",),
}


@dataclass
class Findings:
    acknowledged: int = 0  # commands answered 202
    events: int = 0  # events in the log
    lost: list[str] = field(default_factory=list)
    written_twice: list[str] = field(default_factory=list)  # client messages stored more than once
    chain_problems: list[str] = field(default_factory=list)
    foreign: int = 0  # entries the audit found in the logs that are not ours (the injected ones)
    groups: int = 0
    group_problems: list[str] = field(default_factory=list)
    dead_lettered: int = 0
    acted_twice: list[str] = field(default_factory=list)
    n8n_twice: list[str] = field(default_factory=list)
    steps: Counter[str] = field(default_factory=Counter)  # process managers' steps seen, by event type

    @property
    def problems(self) -> list[str]:
        return [
            *(f"lost: {e}" for e in self.lost),
            *(f"written twice: {e}" for e in self.written_twice),
            *self.chain_problems,
            *self.group_problems,
            *(f"acted twice: {e}" for e in self.acted_twice),
            *(f"two n8n workflows: {e}" for e in self.n8n_twice),
        ]


async def all_streams(store: RedisEventStore) -> dict[str, list[StoredEvent]]:
    out: dict[str, list[StoredEvent]] = {}
    for partition in range(store.keys.partitions):
        for stream in await store.streams(partition):
            out[stream] = await store.read_stream(stream)
    return out


def check_acknowledged(
    findings: Findings, acks: Iterable[Ack], streams: dict[str, list[StoredEvent]]
) -> None:
    ids = {stream: [e.envelope.id for e in events] for stream, events in streams.items()}
    for ack in acks:
        findings.acknowledged += 1
        stored = set(ids.get(ack.stream, ()))
        findings.lost += [f"{ack.stream} {event_id}" for event_id in ack.event_ids if event_id not in stored]
    texts = Counter(
        e.envelope.data.text
        for events in streams.values()
        for e in events
        if isinstance(e.envelope.data, UserMessageReceived)
    )
    findings.written_twice += [text for text, n in texts.items() if n > 1]


async def check_chains(
    findings: Findings, store: RedisEventStore, streams: dict[str, list[StoredEvent]]
) -> None:
    report = await verify_store(store)
    findings.chain_problems += [f"{p.kind} at {p.where}: {p.detail}" for p in report.problems]
    findings.foreign = len(report.foreign)
    findings.events = sum(len(events) for events in streams.values())
    for stream, events in streams.items():
        versions = [e.envelope.version for e in events]
        if versions != list(range(1, len(events) + 1)):
            findings.chain_problems.append(f"{stream}: versions {versions[:5]}… not 1..{len(events)}")


async def check_groups(
    findings: Findings,
    store: RedisEventStore,
    client: Redis,
    database_url: str,
    injected: dict[int, set[str]],
) -> None:
    """Every group of every partition log has read it to its end and acknowledged it all; its dead
    letters are the injected entries, each once. Projectors also count what they applied, durably, in
    their checkpoints: applied + dead-lettered must be the whole log."""
    applied: Counter[str] = Counter()
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT projection, sum(events) AS events FROM projection_checkpoints GROUP BY 1"
        )
    finally:
        await connection.close()
    for row in rows:
        applied[f"projection.{row['projection']}"] = int(row["events"])
    published_total = 0
    letters_by_group: dict[str, list[str]] = defaultdict(list)
    reasons: dict[str, str] = {}
    for partition in range(store.keys.partitions):
        keys = store.keys.partition(partition)
        published = int(await client.xlen(keys.log))
        published_total += published
        end = await store.log_end(partition)
        for _id, fields in await client.xrange(keys.dlq):
            letters_by_group[fields["group"]].append(fields["original_id"])
            reasons[fields["original_id"]] = fields["reason"]
        for info in await client.xinfo_groups(keys.log):
            group = info["name"]
            findings.groups += 1
            where = f"{group} p{partition}"
            if int(info["pending"]) != 0:
                findings.group_problems.append(f"{where}: {info['pending']} entries still pending")
            if info["last-delivered-id"] != end:
                findings.group_problems.append(f"{where}: read up to {info['last-delivered-id']} of {end}")
    expected = sorted(entry for entries in injected.values() for entry in entries)
    for group, letters in letters_by_group.items():
        findings.dead_lettered += len(letters)
        if sorted(letters) != expected:
            healthy = sorted(set(letters) - set(expected))
            findings.group_problems.append(
                f"{group}: dead-lettered {len(letters)}, injected {len(expected)}; not injected:"
                f" {[(entry, reasons[entry]) for entry in healthy]}"
            )
    for group, count in applied.items():
        if count + len(letters_by_group.get(group, [])) != published_total:
            findings.group_problems.append(
                f"{group}: applied {count} + dead-lettered {len(letters_by_group.get(group, []))}"
                f" != published {published_total}"
            )


def check_steps(findings: Findings, streams: dict[str, list[StoredEvent]], n8n_names: Iterable[str]) -> None:
    seen: Counter[tuple[Any, ...]] = Counter()
    for stream, events in streams.items():
        for event in events:
            data = event.envelope.data
            identity = STEP_IDENTITY.get(type(data))
            if identity is None:
                continue
            findings.steps[type(data).__name__] += 1
            seen[
                (
                    stream,
                    type(data).__name__,
                    event.envelope.causationid,
                    *(getattr(data, f) for f in identity),
                )
            ] += 1
    findings.acted_twice += [" ".join(map(str, key)) for key, n in seen.items() if n > 1]
    names = list(n8n_names)
    for stream in streams:
        if stream.startswith("workflow-"):
            key = marker(stream.removeprefix("workflow-"))
            copies = [name for name in names if name.endswith(key)]
            if len(copies) > 1:
                findings.n8n_twice.append(f"{stream}: {copies}")

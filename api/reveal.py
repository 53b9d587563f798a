"""Sealed fields opened for the tenant that reads them: read models keep what the log holds (sealed
strings), and the API opens them from the log, where each event's own place authenticates them
(infra/crypto/events.py). A shredded subject's fields read `[shredded]`.

A field of one event (a message's text, a conversation's title) is read from that event; a document
folded from many (an agent state, a workflow) is folded again from the opened stream with the read
model's own fold, up to the version the read model had reached."""

from __future__ import annotations

import msgspec

from api.deps import ApiDeps
from commands.conversations import stream_of as conversation_stream
from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import AssistantReplied, ConversationStarted, UserMessageReceived
from domain.envelope import StoredEvent
from infra.crypto.fields import PREFIX, SHREDDED, is_sealed
from projections.agent_state import AgentStateDoc, agent_state_at
from projections.conversations import ConversationRow, MessageRow
from projections.events import ProjectedEvent
from projections.queries import ArchivedEvent
from projections.workflows import WorkflowDoc, evolve_workflow

_SEALED = PREFIX.encode()


async def messages(deps: ApiDeps, rows: list[MessageRow]) -> list[MessageRow]:
    """Each sealed message's text (the user's or the assistant's), read from its own event."""
    return [
        msgspec.structs.replace(row, text=await _message_text(deps, row)) if is_sealed(row.text) else row
        for row in rows
    ]


async def _message_text(deps: ApiDeps, row: MessageRow) -> str:
    stored = await deps.store.read_stream(conversation_stream(row.conversation_id), row.version, limit=1)
    data = stored[0].envelope.data if stored else None
    return data.text if isinstance(data, UserMessageReceived | AssistantReplied) else SHREDDED


async def conversations(deps: ApiDeps, rows: list[ConversationRow]) -> list[ConversationRow]:
    """Each conversation with its title opened, when sealed."""
    return [await conversation(deps, row) for row in rows]


async def conversation(deps: ApiDeps, row: ConversationRow) -> ConversationRow:
    """The conversation with its title opened, read from its first event (version 1 of its stream)."""
    if row.title is None or not is_sealed(row.title):
        return row
    stored = await deps.store.read_stream(conversation_stream(row.conversation_id), 1, limit=1)
    data = stored[0].envelope.data if stored else None
    title = data.title if isinstance(data, ConversationStarted) else SHREDDED
    return msgspec.structs.replace(row, title=title)


async def workflow(deps: ApiDeps, doc: WorkflowDoc) -> WorkflowDoc:
    """A workflow that holds sealed strings (its n8n JSON, the validator's or n8n's messages, a person's
    reason), folded again from the opened log; its digests then cover the JSON as it reads opened."""
    if _SEALED not in msgspec.json.encode(doc):
        return doc
    stream = workflow_stream(doc.workflow_id)
    stored = await deps.store.read_stream(stream, limit=doc.last_version)
    partition = deps.store.keys.for_stream(stream).partition
    folded: WorkflowDoc | None = None
    for e in stored:
        event = ProjectedEvent(partition=partition, log_id="", raw=e.raw, envelope=e.envelope)
        folded = evolve_workflow(folded, event)
    return folded or doc


async def agent_state(deps: ApiDeps, doc: AgentStateDoc) -> AgentStateDoc:
    """A state that holds sealed findings, folded again from the opened log (the read model's fold)."""
    if _SEALED not in msgspec.json.encode(doc):
        return doc
    stream = conversation_stream(doc.conversation_id)
    stored = await deps.store.read_stream(stream, limit=doc.last_version)
    return folded_agent_state(deps, stream, stored) or doc


def folded_agent_state(deps: ApiDeps, stream: str, stored: list[StoredEvent]) -> AgentStateDoc | None:
    """The read model's own fold over events read (opened) from the log."""
    partition = deps.store.keys.for_stream(stream).partition
    events = (ProjectedEvent(partition=partition, log_id="", raw=e.raw, envelope=e.envelope) for e in stored)
    return agent_state_at(events)


async def archived(deps: ApiDeps, rows: list[ArchivedEvent]) -> list[ArchivedEvent]:
    """The feed keeps each event as stored (its hash verifies) and adds its `data` opened."""
    cipher = deps.store.cipher
    if cipher is None:
        return rows
    out: list[ArchivedEvent] = []
    for row in rows:
        raw = row.event.encode()
        if _SEALED not in raw:
            out.append(row)
            continue
        envelope = await cipher.open(deps.store.registry.decode(raw))
        out.append(msgspec.structs.replace(row, opened=msgspec.json.encode(envelope.data).decode()))
    return out

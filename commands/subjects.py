"""Shredding a subject: the event first (the log says who asked and when), then its data keys destroyed.
Redone after a crash between the two, it finds the event and destroys the keys."""

from __future__ import annotations

from typing import Protocol

from commands.context import CommandContext, CommandResult
from commands.conversations import stream_of as conversation_stream
from commands.execute import Decider, execute
from commands.ports import EventStore
from domain import subject_events
from domain.errors import NotFound
from domain.subject_events import ShredSubject

SUBJECTS = Decider(
    decide=subject_events.decide,
    fold=subject_events.fold,
    initial=False,
    state_type=bool,
    schema="subject.1",
)


class SubjectKeys(Protocol):
    async def shred(self, tenant: str, subject: str) -> list[str]: ...


class OwnedStreams(EventStore, Protocol):
    async def tenant_of(self, stream: str) -> str | None: ...


async def shred_subject(
    store: OwnedStreams, keys: SubjectKeys, ctx: CommandContext, subject_id: str, *, reason: str = ""
) -> CommandResult:
    """A conversation of the tenant's (another's, or none, is a 404)."""
    if await store.tenant_of(conversation_stream(subject_id)) != ctx.tenant:
        raise NotFound(f"no such subject {subject_id}")
    command = ShredSubject(subject_id=subject_id, shredded_by=ctx.actor, reason=reason, at=ctx.now)
    result = await execute(store, SUBJECTS, subject_events.stream_of(subject_id), command, ctx)
    await keys.shred(ctx.tenant, subject_id)
    return result

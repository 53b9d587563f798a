"""Shredding a subject: the event first (the log says who asked and when), then its data keys destroyed.
Redone after a crash between the two, it finds the event and destroys the keys.

A subject is one of the tenant's conversations, or a customer it named when starting conversations
(`customer:<reference>`): shredding the customer destroys the keys of every conversation about it."""

from __future__ import annotations

from typing import Protocol

from commands.context import CommandContext, CommandResult
from commands.conversations import stream_of as conversation_stream
from commands.execute import Decider, execute
from commands.ports import EventStore
from domain import subject_events
from domain.errors import NotFound
from domain.subject_events import ShredSubject, is_customer

SUBJECTS = Decider(
    decide=subject_events.decide,
    fold=subject_events.fold,
    initial=False,
    state_type=bool,
    schema="subject.1",
)


class SubjectKeys(Protocol):
    async def shred(self, tenant: str, subject: str) -> list[str]: ...

    async def is_group(self, tenant: str, subject: str) -> bool: ...


class OwnedStreams(EventStore, Protocol):
    async def tenant_of(self, stream: str) -> str | None: ...


async def shred_subject(
    store: OwnedStreams, keys: SubjectKeys, ctx: CommandContext, subject_id: str, *, reason: str = ""
) -> CommandResult:
    """A conversation or a customer of the tenant's (another's, or none, is a 404)."""
    if not await _is_theirs(store, keys, ctx.tenant, subject_id):
        raise NotFound(f"no such subject {subject_id}")
    command = ShredSubject(subject_id=subject_id, shredded_by=ctx.actor, reason=reason, at=ctx.now)
    stream = subject_events.stream_of(ctx.tenant, subject_id)
    result = await execute(store, SUBJECTS, stream, command, ctx)
    await keys.shred(ctx.tenant, subject_id)
    return result


async def _is_theirs(store: OwnedStreams, keys: SubjectKeys, tenant: str, subject_id: str) -> bool:
    if is_customer(subject_id):
        return await keys.is_group(tenant, subject_id)  # customers are per tenant: their keys say
    return await store.tenant_of(conversation_stream(subject_id)) == tenant

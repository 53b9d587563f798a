"""The Credentials aggregate: one per tenant, the credentials it connected and what workflows await.

Names are unique per type, so a person can say "use the credential *Boutique Alger*" and be understood;
which one a node gets is decided here too (`choose`): the only one of its type, or the one chosen by
name, else the node is reported missing (with the candidates when there are several).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from domain.credential_events import CredentialConnected, CredentialRemoved, CredentialsRequested
from domain.envelope import DomainEvent
from domain.errors import InvalidTransition, NotFound
from domain.types import NonEmptyStr, UtcDatetime
from domain.workflow_events import CredentialChoice, MissingCredential


class ConnectCredential(msgspec.Struct, frozen=True, kw_only=True):
    credential_id: NonEmptyStr  # n8n created it already: the log records what exists
    credential_type: NonEmptyStr
    name: NonEmptyStr
    connected_by: NonEmptyStr
    connected_at: UtcDatetime


class RemoveCredential(msgspec.Struct, frozen=True, kw_only=True):
    credential_id: NonEmptyStr
    removed_by: NonEmptyStr
    removed_at: UtcDatetime


CredentialCommand = ConnectCredential | RemoveCredential


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    credential_id: str
    credential_type: str
    name: str
    connected_at: UtcDatetime


class Awaiting(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    types: frozenset[str]


class Credentials(msgspec.Struct, frozen=True, kw_only=True, tag="credentials"):
    connected: tuple[Credential, ...] = ()
    awaiting: tuple[Awaiting, ...] = ()  # workflows left inactive for want of these types

    def named(self, credential_type: str, name: str) -> Credential | None:
        return next(
            (c for c in self.connected if c.credential_type == credential_type and c.name == name), None
        )

    def by_id(self, credential_id: str) -> Credential | None:
        return next((c for c in self.connected if c.credential_id == credential_id), None)

    def of_type(self, credential_type: str) -> tuple[Credential, ...]:
        return tuple(c for c in self.connected if c.credential_type == credential_type)

    def awaiting_type(self, credential_type: str) -> tuple[str, ...]:
        return tuple(a.workflow_id for a in self.awaiting if credential_type in a.types)


INITIAL = Credentials()


def stream_of(tenant: str) -> str:
    return f"credentials-{tenant}"


def decide(command: CredentialCommand, state: Credentials) -> list[DomainEvent]:
    match command:
        case ConnectCredential():
            if state.by_id(command.credential_id) is not None:
                return []  # recorded already
            if state.named(command.credential_type, command.name) is not None:
                raise InvalidTransition(
                    f"a {command.credential_type} credential named {command.name!r} is connected already: "
                    "choose another name, or remove that one first"
                )
            return [
                CredentialConnected(
                    credential_id=command.credential_id,
                    credential_type=command.credential_type,
                    name=command.name,
                    connected_by=command.connected_by,
                    connected_at=command.connected_at,
                )
            ]
        case RemoveCredential():
            credential = state.by_id(command.credential_id)
            if credential is None:
                raise NotFound("no such credential")
            return [
                CredentialRemoved(
                    credential_id=credential.credential_id,
                    credential_type=credential.credential_type,
                    name=credential.name,
                    removed_by=command.removed_by,
                    removed_at=command.removed_at,
                )
            ]


def evolve(state: Credentials, event: DomainEvent) -> Credentials:
    match event:
        case CredentialConnected():
            credential = Credential(
                credential_id=event.credential_id,
                credential_type=event.credential_type,
                name=event.name,
                connected_at=event.connected_at,
            )
            awaiting = tuple(
                msgspec.structs.replace(a, types=a.types - {event.credential_type}) for a in state.awaiting
            )
            return Credentials(
                connected=(*state.connected, credential), awaiting=tuple(a for a in awaiting if a.types)
            )
        case CredentialRemoved():
            kept = tuple(c for c in state.connected if c.credential_id != event.credential_id)
            return msgspec.structs.replace(state, connected=kept)
        case CredentialsRequested():
            types = frozenset(m.credential_type for m in event.missing)
            others = tuple(a for a in state.awaiting if a.workflow_id != event.workflow_id)
            awaiting = (*others, Awaiting(workflow_id=event.workflow_id, types=types)) if types else others
            return msgspec.structs.replace(state, awaiting=awaiting)
    return state


def fold(events: Iterable[DomainEvent], state: Credentials = INITIAL) -> Credentials:
    for event in events:
        state = evolve(state, event)
    return state


class Needed(msgspec.Struct, frozen=True, kw_only=True):
    node: str
    credential_type: str


def choose(
    state: Credentials, needs: Sequence[Needed], choices: Iterable[CredentialChoice]
) -> tuple[dict[str, Credential], tuple[MissingCredential, ...]]:
    """Per needed type, the credential to link; and every node left without one."""
    chosen: Mapping[str, str] = {c.credential_type: c.name for c in choices}
    links: dict[str, Credential] = {}
    missing: list[MissingCredential] = []
    for need in needs:
        kind = need.credential_type
        if kind in links:
            continue
        candidates = state.of_type(kind)
        named = state.named(kind, chosen[kind]) if kind in chosen else None
        if named is not None:
            links[kind] = named
        elif len(candidates) == 1 and kind not in chosen:
            links[kind] = candidates[0]
    for need in needs:
        if need.credential_type not in links:
            candidates = state.of_type(need.credential_type)
            ambiguous = len(candidates) > 1 or need.credential_type in chosen  # or the chosen one is gone
            names = tuple(c.name for c in candidates) if ambiguous else ()
            missing.append(
                MissingCredential(node=need.node, credential_type=need.credential_type, candidates=names)
            )
    return links, tuple(missing)

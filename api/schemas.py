"""Request and response bodies of the REST API (msgspec Structs: validated in, typed out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from domain.conversation import MAX_MESSAGE_CHARS
from domain.subject_events import CUSTOMER_REFERENCE
from domain.text import NO_NUL
from projections.agent_state import AgentStateDoc
from projections.conversations import ConversationRow, MessageRow
from projections.queries import ArchivedEvent, WorkflowSummary

Title = Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")]
MessageText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=NO_NUL)]
Reason = Annotated[str, msgspec.Meta(max_length=2000, pattern=NO_NUL)]
CustomerReference = Annotated[
    str,
    msgspec.Meta(
        pattern=CUSTOMER_REFERENCE,
        description="Your own opaque reference of the customer the conversation is about (a CRM or "
        "account id, never a name, phone or e-mail): DELETE /v1/subjects/customer:<it> shreds every "
        "conversation about that customer",
    ),
]


class StartConversationBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    title: Title | None = None
    language: Language | None = None
    customer_id: CustomerReference | None = None


class SendMessageBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: MessageText


class CloseBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


CredentialType = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9]{0,99}$")]
CredentialName = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)]


class ApproveBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    revision: int | None = None
    # where the tenant has several credentials of a type: which one (by name) to deploy with
    credentials: dict[CredentialType, CredentialName] = msgspec.field(default_factory=dict)


class DeployBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    credentials: dict[CredentialType, CredentialName] | None = None  # None: those chosen at approval


class RetireBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


class ConnectCredentialBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`data` goes to n8n, which encrypts and keeps it; it is in no event, log line, error or read model."""

    type: CredentialType
    name: CredentialName
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"ConnectCredentialBody(type={self.type!r}, name={self.name!r}, data=<hidden>)"


class CredentialItem(msgspec.Struct, frozen=True, kw_only=True):
    credential_id: str  # n8n's id
    type: str
    name: str
    connected_at: datetime


class CredentialAwaited(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    types: list[str]


class CredentialList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[CredentialItem]
    awaited: list[CredentialAwaited]  # workflows left inactive until a credential of these types is connected


class RejectBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""
    revision: int | None = None


class Accepted(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """202: the command's events are in the log; reads with `consistency_token` will see them."""

    stream: str
    version: int
    event_ids: tuple[str, ...]
    consistency_token: str
    conversation_id: str | None = None
    workflow_id: str | None = None
    credential_id: str | None = None


class ConversationList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ConversationRow]
    next_cursor: str | None


class MessageList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[MessageRow]
    next_cursor: str | None


class EventList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ArchivedEvent]
    next_cursor: str | None


AgentState = AgentStateDoc


class WorkflowList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[WorkflowSummary]
    next_cursor: str | None


class KeyCreated(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    key_id: str
    tenant: str
    role: str
    created_at: datetime

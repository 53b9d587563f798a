"""A tenant's n8n credentials, as the log knows them: a type, a name and n8n's id, never the data.

The secret values go from the API request straight to n8n, which encrypts and keeps them; nothing of
them is in an event, a log line, an error or a read model.
"""

from __future__ import annotations

from typing import ClassVar

from domain.envelope import DomainEvent
from domain.types import NonEmptyStr, UtcDatetime
from domain.workflow_events import MissingCredential


class CredentialConnected(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.credential.connected.v1"
    credential_id: NonEmptyStr  # n8n's id
    credential_type: NonEmptyStr  # n8n's type name, e.g. slackApi
    name: NonEmptyStr
    connected_by: NonEmptyStr
    connected_at: UtcDatetime


class CredentialRemoved(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.credential.removed.v1"
    credential_id: NonEmptyStr
    credential_type: NonEmptyStr
    name: NonEmptyStr
    removed_by: NonEmptyStr
    removed_at: UtcDatetime


class CredentialsRequested(DomainEvent, frozen=True, kw_only=True):
    """The deployer asks the tenant for credentials a workflow lacks; connecting one of these types
    resumes that workflow's deployment."""

    event_type: ClassVar[str] = "aiwf.credential.requested.v1"
    workflow_id: NonEmptyStr
    deployment_id: NonEmptyStr
    missing: tuple[MissingCredential, ...]
    requested_at: UtcDatetime


CREDENTIAL_EVENTS: tuple[type[DomainEvent], ...] = (
    CredentialConnected,
    CredentialRemoved,
    CredentialsRequested,
)

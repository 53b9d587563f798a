"""Subjects: whose key seals a stream, how a customer is named, and which start and close fields are
sealed."""

from __future__ import annotations

import re

import pytest

from domain.conversation_events import ConversationClosed, ConversationStarted
from domain.sealed_fields import own_subject, sealed_paths, subject_named_by
from domain.subject_events import CUSTOMER_REFERENCE, customer_subject, is_customer, stream_of
from domain.types import Sensitivity
from tests.support.events import NOW, started


def test_a_conversation_and_an_operators_model_call_are_their_own_subjects_and_a_workflow_is_not() -> None:
    assert own_subject("conversation-c1") == "c1"
    assert own_subject("inference-i1") == "i1"
    assert own_subject("workflow-w1") is None
    assert own_subject("subject-c1") is None


def test_a_workflows_subject_is_the_conversation_its_first_event_names() -> None:
    assert subject_named_by(started()) is None


def test_two_tenants_customers_of_the_same_reference_have_streams_of_their_own() -> None:
    subject = customer_subject("42")

    assert is_customer(subject)
    assert not is_customer("c1")
    assert stream_of("acme", subject) != stream_of("globex", subject)
    assert stream_of("acme", subject) == stream_of("acme", customer_subject("42"))
    assert stream_of("acme", "c1") == stream_of("globex", "c1") == "subject-c1"


@pytest.mark.parametrize("reference", ["cust-42", "CRM.0042", "a", "x" * 64])
def test_an_opaque_reference_is_a_customer_reference(reference: str) -> None:
    assert re.match(CUSTOMER_REFERENCE, reference)


@pytest.mark.parametrize("reference", ["", "Karim Benali", "-x", "x" * 65, "a/b", "k@example.dz"])
def test_names_addresses_and_odd_characters_are_not_customer_references(reference: str) -> None:
    assert not re.match(CUSTOMER_REFERENCE, reference)


def test_a_title_and_a_close_reason_are_sealed_only_above_public_and_only_when_there_is_one() -> None:
    titled = ConversationStarted(
        conversation_id="c1", started_by="k1", title="RIP", sensitivity=Sensitivity.SENSITIVE, started_at=NOW
    )
    untitled = ConversationStarted(
        conversation_id="c1", started_by="k1", sensitivity=Sensitivity.SENSITIVE, started_at=NOW
    )
    closed = ConversationClosed(reason="0555", sensitivity=Sensitivity.INTERNAL, closed_at=NOW)

    assert sealed_paths(titled) == ("title",)
    assert sealed_paths(untitled) == ()
    assert sealed_paths(started()) == ()
    assert sealed_paths(closed) == ("reason",)
    assert sealed_paths(ConversationClosed(reason="done", closed_at=NOW)) == ()

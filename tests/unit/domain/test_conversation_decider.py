"""Given events, when a command, then events (or an error): the Conversation decider."""

from __future__ import annotations

import msgspec
import pytest

from domain import conversation
from domain.conversation import CloseConversation, Closed, NotStarted, Open, SendMessage, StartConversation
from domain.conversation_events import ConversationClosed, ConversationStarted, UserMessageReceived
from domain.errors import InvalidTransition, NotFound
from domain.types import Sensitivity
from tests.support.events import NOW, message, started

START = StartConversation(conversation_id="c1", started_by="k1", title="Ventes", started_at=NOW)


def send(message_id: str = "m1") -> SendMessage:
    return SendMessage(message_id=message_id, text="salam", sensitivity=Sensitivity.PUBLIC, received_at=NOW)


def test_starting_a_new_conversation_records_who_and_when() -> None:
    [event] = conversation.decide(START, NotStarted())

    assert event == ConversationStarted(conversation_id="c1", started_by="k1", title="Ventes", started_at=NOW)


def test_a_conversation_cannot_be_started_twice() -> None:
    with pytest.raises(InvalidTransition):
        conversation.decide(START, conversation.fold([started()]))


def test_the_same_start_by_the_same_actor_again_changes_nothing_even_once_closed() -> None:
    """An id derived from an Idempotency-Key whose record expired: the retry must not become a 409."""
    [first] = conversation.decide(START, NotStarted())
    closed = ConversationClosed(reason="done", closed_at=NOW)

    assert conversation.decide(START, conversation.fold([first])) == []
    assert conversation.decide(START, conversation.fold([first, closed])) == []
    with pytest.raises(InvalidTransition):  # another actor who happens upon the id is still refused
        conversation.decide(msgspec.structs.replace(START, started_by="k2"), conversation.fold([first]))


def test_a_message_to_an_open_conversation_is_received_with_its_sensitivity() -> None:
    [event] = conversation.decide(send(), conversation.fold([started()]))

    assert isinstance(event, UserMessageReceived)
    assert (event.message_id, event.sensitivity) == ("m1", Sensitivity.PUBLIC)


def test_the_same_message_sent_twice_is_recorded_once() -> None:
    state = conversation.fold([started(), msgspec.structs.replace(message(), message_id="m1")])

    assert conversation.decide(send("m1"), state) == []


def test_a_message_to_a_missing_conversation_is_not_found() -> None:
    with pytest.raises(NotFound):
        conversation.decide(send(), NotStarted())


def test_a_closed_conversation_takes_no_more_messages() -> None:
    state = conversation.fold([started(), ConversationClosed(closed_at=NOW)])

    assert isinstance(state, Closed)
    with pytest.raises(InvalidTransition, match="closed"):
        conversation.decide(send(), state)


def test_closing_twice_changes_nothing() -> None:
    close = CloseConversation(reason="done", closed_at=NOW)
    state = conversation.fold([started()])

    assert isinstance(state, Open)
    assert conversation.decide(close, state) == [ConversationClosed(reason="done", closed_at=NOW)]
    assert conversation.decide(close, conversation.evolve(state, ConversationClosed(closed_at=NOW))) == []


def test_folding_gathers_message_ids_exactly_as_evolving_one_event_at_a_time() -> None:
    def msg(n: int) -> UserMessageReceived:
        return msgspec.structs.replace(message(), message_id=f"m{n}")

    histories = [
        [msg(0), started(), msg(1), msg(2)],
        [started(), msg(1), msg(2), ConversationClosed(closed_at=NOW), msg(3)],
        [started(), *(msg(n) for n in range(50)), started(), msg(99)],
        [],
    ]
    for history in histories:
        one_by_one = conversation.INITIAL
        for event in history:
            one_by_one = conversation.evolve(one_by_one, event)
        assert conversation.fold(history) == one_by_one
        assert conversation.fold(history[2:], conversation.fold(history[:2])) == one_by_one


def test_a_start_for_a_customer_records_its_reference_and_how_sensitive_the_title_is() -> None:
    command = msgspec.structs.replace(
        START, customer_id="cust-42", title="Relances RIP", sensitivity=Sensitivity.SENSITIVE
    )

    [event] = conversation.decide(command, NotStarted())

    assert isinstance(event, ConversationStarted)
    assert (event.customer_id, event.sensitivity) == ("cust-42", Sensitivity.SENSITIVE)


def test_a_close_records_how_sensitive_its_reason_is() -> None:
    reason = "rappeler le 0555 12 34 56"
    command = CloseConversation(reason=reason, sensitivity=Sensitivity.INTERNAL, closed_at=NOW)

    [event] = conversation.decide(command, conversation.fold([started()]))

    assert event == ConversationClosed(reason=reason, sensitivity=Sensitivity.INTERNAL, closed_at=NOW)

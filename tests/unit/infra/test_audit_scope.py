"""A tenant's audit: which log entries are the tenant's, and what it is told of its own streams."""

from __future__ import annotations

import msgspec

from domain.chain import ChainProblem
from infra.audit_scope import TenantScope
from infra.event_store import Head

SCOPE = TenantScope(
    tenant="acme",
    heads={"conversation-a": Head(version=1, hash="0" * 64)},
    owners={"conversation-a": "acme", "conversation-g": "globex"},
    needle=msgspec.json.encode("acme"),
)


def test_an_entry_is_the_tenants_when_it_says_so_and_names_none_of_another_tenants_streams() -> None:
    assert SCOPE.owns({"tenant": "acme", "stream": "conversation-a"})
    assert SCOPE.owns({"tenant": "acme", "stream": "conversation-new"})  # an orphan the tenant should hear of
    assert not SCOPE.owns({"tenant": "globex", "stream": "conversation-g"})
    assert not SCOPE.owns({"tenant": "acme", "stream": "conversation-g"})  # says acme, is globex's stream
    assert not SCOPE.owns({"stream": "conversation-a"})


def test_the_first_pass_keeps_every_entry_that_quotes_the_tenant() -> None:
    assert SCOPE.may_hold(b'{"stream":"conversation-a","tenant":"acme"}')
    assert SCOPE.may_hold(b'{"tenant" : "acme"}')
    assert not SCOPE.may_hold(b'{"tenant":"globex","text":"acme corp"}')


def test_a_wrong_stream_problem_does_not_quote_the_stream_its_entry_names() -> None:
    wrong = ChainProblem(where="conversation-a@2", kind="wrong_stream", detail="says 'conversation-g'")
    hashed = ChainProblem(where="conversation-a@2", kind="hash", detail="stored hash does not match")

    assert "conversation-g" not in SCOPE.told(wrong).detail
    assert SCOPE.told(wrong).where == "conversation-a@2"
    assert SCOPE.told(hashed) == hashed

"""Strings PostgreSQL cannot hold are found wherever they sit in an event."""

from __future__ import annotations

import msgspec

from domain.text import json_holds_nul, nul_fields
from tests.support.events import NOW, message


class Inner(msgspec.Struct, frozen=True):
    note: str


class Outer(msgspec.Struct, frozen=True):
    title: str
    items: tuple[Inner, ...] = ()
    tags: dict[str, str] = msgspec.field(default_factory=dict)


def test_every_string_with_a_nul_is_named_by_its_path() -> None:
    value = Outer(title="a\x00", items=(Inner("ok"), Inner("b\x00")), tags={"k\x00": "v", "x": "\x00"})
    assert nul_fields(value) == [
        "Outer.title",
        "Outer.items[1].note",
        "Outer.tags[key]",
        "Outer.tags['x']",
    ]


def test_clean_events_and_other_control_characters_pass() -> None:
    assert nul_fields(message("tab\tnewline\nbell\x07 é ع")) == []
    assert nul_fields(Outer(title="t", items=(Inner("n"),))) == []
    assert nul_fields(NOW) == []


def test_escaped_nul_is_found_in_json_and_the_escaped_backslash_text_is_not() -> None:
    assert json_holds_nul(msgspec.json.encode({"t": "a\x00b"}))
    assert json_holds_nul(msgspec.json.encode({"t": "\\\x00"}))  # a backslash, then NUL
    assert not json_holds_nul(msgspec.json.encode({"t": "\\u0000"}))  # the six characters, as text
    assert not json_holds_nul(msgspec.json.encode({"t": "u0000 \\\\u0000", "u": "\x01"}))

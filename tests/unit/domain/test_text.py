"""Strings PostgreSQL cannot hold are found wherever they sit in an event."""

from __future__ import annotations

import msgspec

from domain.text import nul_fields
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

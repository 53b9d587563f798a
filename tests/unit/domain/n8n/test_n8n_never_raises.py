"""Whatever the designer writes, the validator answers a report: never an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.domain.n8n.builders import check

FIXTURES = [
    json.loads(p.read_text(encoding="utf-8"))
    for p in sorted((Path(__file__).parents[3] / "fixtures" / "n8n" / "valid").glob("*.json"))
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["", "main", "={{", "={{ $('Nope').item }}", "{{ $json.x }}", "Bearer 1234567890abcdefXYZ"]
    ),
    st.text(max_size=12),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.extend(_paths(item, (*path, key)))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return copy


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIXTURES), st.data(), JSON)
def test_a_fixture_with_any_part_replaced_by_any_json_still_gets_a_report(
    fixture: Any, data: st.DataObject, junk: Any
) -> None:
    path = data.draw(st.sampled_from(_paths(fixture)))
    report = check(json.dumps(_replaced(fixture, path, junk)))
    assert report.valid == (not any(p.severity == "error" for p in report.problems))


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_json_value_gets_a_report(value: Any) -> None:
    report = check(json.dumps(value))
    assert report.valid is False or isinstance(value, dict)

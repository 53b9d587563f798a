"""Schemathesis hooks of the contract test (test_fuzz.py), loaded through SCHEMATHESIS_HOOKS."""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

import schemathesis

from api.idempotency import MAX_KEY_CHARS

_requests = itertools.count()
_RUN = uuid.uuid4().hex[:8]  # keys of an earlier run against the same database stay taken


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A client sends a new Idempotency-Key with each new request; the fuzzer draws few distinct ones, and
    a key it drew again for another body is rightly a 422 (idempotency-key-reused) that no schema can
    foresee. Each key is made unique here, and kept valid (1 to 200 characters) or not as it was drawn."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 1 <= len(key) <= MAX_KEY_CHARS:
        case.headers["Idempotency-Key"] = f"{_RUN}{next(_requests)}.{key}"[:MAX_KEY_CHARS]


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Schemathesis' coverage phase draws header values from [A-Za-z0-9] only: for a header whose pattern
    needs another character (X-Consistency-Token, `0:1-0`) it has no valid value, and its invalid one
    ends up in cases it labels valid, which the server rightly refuses. Such a case is left out; a valid
    case, or an invalid one labelled so, is kept."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    headers = case.headers or {}
    for parameter in case.operation.headers:
        value, pattern = headers.get(parameter.name), parameter.definition.get("schema", {}).get("pattern")
        if value is not None and pattern and not (isinstance(value, str) and re.search(pattern, value)):
            return False
    return True

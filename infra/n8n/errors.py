"""What went wrong talking to n8n, in n8n's own words: its message kept, its stack trace and secrets dropped.

n8n outside production mode puts a stack trace in its error bodies (`{"message": ..., "stack": ...}`);
a caller wants the message ("request/body must NOT have additional properties", "Cannot publish
workflow: ...") and nothing that leaks paths of the server or the values a credential was made with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

MAX_MESSAGE = 1000
_MAX_PART = 300
_REDACTED = "***"
_MIN_SECRET = 4
# "    at Object.handler (/n8n/dist/x.js:10:5)" and "at /n8n/dist/x.js:10:5": lines of a Node.js stack.
_STACK_FRAME = re.compile(r"^\s+at\s+\S|^\s*at\s.*:\d+:\d+\)?\s*$")


class N8nError(Exception):
    """n8n refused or failed a call; `retryable` says whether the same call may succeed later."""

    def __init__(
        self, operation: str, *, status: int | None, message: str, retryable: bool, attempts: int
    ) -> None:
        self.operation = operation
        self.status = status
        self.message = message
        self.retryable = retryable
        self.attempts = attempts
        super().__init__(self._summary())

    def _summary(self) -> str:
        what = f"n8n answered {self.status}" if self.status is not None else "n8n unreachable"
        tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        return f"{self.operation}: {what}: {self.message} ({tries})"

    def __str__(self) -> str:
        return self._summary()


class N8nUnavailable(N8nError):
    """No answer from n8n: connection refused or dropped, or a timeout (status None)."""


def n8n_message(body: bytes, fallback: str) -> str:
    """n8n's message from an error body: `message` with a short `description`/`hint`, never `stack`;
    from a body that is not JSON its first line that is not a stack frame. Capped at MAX_MESSAGE."""
    try:
        document: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        document = None
    if isinstance(document, Mapping) and isinstance(document.get("message"), str):
        text = _from_fields(document)
    elif isinstance(document, str):
        text = _clean(document)
    else:
        text = _first_line(body.decode("utf-8", errors="replace"))
    return cap(text or fallback)


def secret_strings(data: Any) -> frozenset[str]:
    """Every string value (at any depth) of `data` long enough that hiding it cannot garble a message."""
    found: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if len(value) >= _MIN_SECRET:
                found.add(value)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return frozenset(found)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret, as written and as escaped inside JSON, replaced by ***."""
    forms = set()
    for secret in secrets:
        forms.add(secret)
        forms.add(msgspec.json.encode(secret).decode()[1:-1])
    for form in sorted(forms, key=len, reverse=True):  # longest first: a secret may contain another
        text = text.replace(form, _REDACTED)
    return text


def cap(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _from_fields(document: Mapping[str, Any]) -> str:
    parts = [_clean(document["message"])]
    description = document.get("description")
    if isinstance(description, str) and description.strip():
        parts.append(cap(_clean(description), _MAX_PART))
    hint = document.get("hint")
    if isinstance(hint, str) and hint.strip():
        parts.append("hint: " + cap(_clean(hint), _MAX_PART))
    return " — ".join(part for part in parts if part)


def _clean(text: str) -> str:
    lines = (line.strip() for line in text.splitlines() if not _STACK_FRAME.match(line))
    return " ".join(line for line in lines if line)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not _STACK_FRAME.match(line):
            return line.strip()
    return ""

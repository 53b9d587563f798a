"""What leaves the process: classify it (failing closed), pseudonymise it, restore the answer.

The gateway classifies every text a provider would receive except our own system prompt: user and
assistant turns and the extra texts (tool arguments, tool results, agent findings). A classifier
that raises makes the whole call sensitive. Texts sent to the cloud as `internal` get placeholders
from `inference.privacy.pseudonymise`, numbered across all texts of the call so one value keeps one
placeholder everywhere; the answer's JSON strings get the originals back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from domain.types import Sensitivity
from inference.privacy import classify, pseudonymise, restore
from inference.provider import ChatMessage

# The placeholder shape `inference.privacy.redaction` writes: ⟦KIND_N⟧.
PLACEHOLDER: Final = re.compile(r"⟦([A-Z]+)_([0-9]+)⟧")
CONTEXT_HEADER: Final = "Context (tool arguments, tool results and agent findings):"


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    sensitivity: Sensitivity
    kinds: tuple[str, ...] = ()  # kinds found, never values: they go into route reasons
    failure: str | None = None  # set when the classifier raised and the verdict is "sensitive" by rule

    def describe(self) -> str:
        if self.failure is not None:
            return f"classifier failed ({self.failure}), treated as sensitive"
        kinds = f" ({', '.join(self.kinds)})" if self.kinds else ""
        return f"{self.sensitivity}{kinds}"


def classify_outbound(texts: Sequence[str]) -> Verdict:
    """The highest sensitivity over all texts; any classifier error makes it sensitive (fail closed)."""
    level, kinds = Sensitivity.PUBLIC, set[str]()
    try:
        for text in texts:
            found = classify(text)
            level = level.at_least(Sensitivity(found.sensitivity.value))
            kinds.update(finding.kind for finding in found.findings)
    except Exception as err:  # whatever broke, the safe answer is "sensitive"
        return Verdict(sensitivity=Sensitivity.SENSITIVE, failure=type(err).__name__)
    return Verdict(sensitivity=level, kinds=tuple(sorted(kinds)))


def with_context(messages: Sequence[ChatMessage], extra_texts: Sequence[str]) -> tuple[ChatMessage, ...]:
    """The turns as sent: extra texts go into the last user turn, since several chat templates served
    by vLLM refuse two user turns in a row, and the model reads the context next to its request."""
    if not extra_texts:
        return tuple(messages)
    context = "\n---\n".join((CONTEXT_HEADER, *extra_texts))
    if messages and messages[-1].role == "user":
        last = messages[-1]
        return (*messages[:-1], ChatMessage(role="user", content=f"{last.content}\n\n{context}"))
    return (*messages, ChatMessage(role="user", content=context))


def pseudonymise_all(texts: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Every text with its entities replaced; placeholder -> original for the whole call.

    Each text is pseudonymised on its own (the classifier reads one text at a time), then its
    placeholders are renumbered so that the same (kind, value) has the same name in every text and
    no name collides with a placeholder some text already contained.
    """
    taken = {match.group() for text in texts for match in PLACEHOLDER.finditer(text)}
    names: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    replaced = []
    for text in texts:
        local_text, local_names = pseudonymise(text)
        renamed: dict[str, str] = {}
        for local, original in local_names.items():
            kind = _kind(local)
            if (kind, original) not in names:
                names[(kind, original)] = _next_name(kind, counts, taken)
            renamed[local] = names[(kind, original)]
        replaced.append(restore(local_text, renamed))  # restore() is a placeholder -> text substitution
    return tuple(replaced), {name: original for (_, original), name in names.items()}


def restore_json(document: bytes, mapping: Mapping[str, str]) -> bytes:
    """The JSON document with placeholders put back in every string (keys included).

    Restoring inside the decoded strings, not in the raw text, keeps the JSON valid whatever the
    original characters are.
    """
    if not mapping:
        return document
    return msgspec.json.encode(_restore_value(msgspec.json.decode(document), mapping))


def _restore_value(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return restore(value, mapping)
    if isinstance(value, list):
        return [_restore_value(item, mapping) for item in value]
    if isinstance(value, dict):
        return {restore(key, mapping): _restore_value(item, mapping) for key, item in value.items()}
    return value


def _kind(placeholder: str) -> str:
    match = PLACEHOLDER.fullmatch(placeholder)
    if match is None:  # the privacy package changed its placeholder shape: do not guess
        raise ValueError(f"unexpected placeholder {placeholder!r}")
    return match.group(1)


def _next_name(kind: str, counts: dict[str, int], taken: set[str]) -> str:
    while True:
        counts[kind] = counts.get(kind, 0) + 1
        name = f"⟦{kind}_{counts[kind]}⟧"
        if name not in taken:
            return name

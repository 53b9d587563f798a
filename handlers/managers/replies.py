"""The assistant's words, in the user's language, from what the agents decided (replies.toml).

Written by us from structured results, not by a model: what a reply says about a workflow (its name, its
steps, that it awaits approval) is exactly what was drafted and validated.
"""

from __future__ import annotations

import functools
import tomllib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from domain.n8n.report import ValidationReport
from domain.workflow_events import MissingCredential, WebhookEndpoint

REPLIES_FILE: Final = Path(__file__).with_name("replies.toml")
LANGUAGES: Final = ("fr", "ar", "darija", "en")
_MAX_STEPS: Final = 6


class Texts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    help: str
    refusal: str
    failure: str
    workflow: str
    invalid: str
    deployed: str
    needs_credentials: str
    deploy_failed: str
    deploy_retry: str
    webhook_urls: str


@functools.cache
def _texts() -> dict[str, Texts]:
    table = tomllib.loads(REPLIES_FILE.read_text(encoding="utf-8"))
    return {language: msgspec.convert(table[language], Texts) for language in LANGUAGES}


def texts(language: str | None) -> Texts:
    return _texts().get(language or "fr", _texts()["fr"])


def help_reply(language: str | None) -> str:
    return texts(language).help


def refusal(language: str | None, reason: str) -> str:
    """The refusal's first clause says what was found ("sensitive (ccp)"), never a value."""
    return texts(language).refusal.format(why=reason.split(":", 1)[0].strip() or "sensitive")


def failure(language: str | None, why: str) -> str:
    return texts(language).failure.format(why=why)


def workflow_ready(language: str | None, definition: str, revision: int, n8n_version: str) -> str:
    name, steps = _outline(definition)
    return texts(language).workflow.format(name=name, revision=revision, steps=steps, n8n=n8n_version)


def workflow_invalid(
    language: str | None, definition: str, revision: int, report: ValidationReport, rounds: int
) -> str:
    name, _ = _outline(definition)
    errors = [p for p in report.problems if p.severity == "error"]
    problem = errors[0].message if errors else "?"
    return texts(language).invalid.format(
        name=name, revision=revision, count=len(errors), rounds=rounds, problem=problem
    )


def deployed(
    language: str | None, name: str, revision: int, n8n: str, webhooks: tuple[WebhookEndpoint, ...]
) -> str:
    t = texts(language)
    shown = t.webhook_urls.format(urls=", ".join(f"{w.method} {w.url}" for w in webhooks)) if webhooks else ""
    return t.deployed.format(name=name, revision=revision, n8n=n8n, urls=shown)


def needs_credentials(
    language: str | None, name: str, revision: int, missing: tuple[MissingCredential, ...]
) -> str:
    """Which node needs which type, e.g. `slackApi (« Post to Slack »)`; names of candidates if several."""
    wanted: dict[str, list[str]] = {}
    for need in missing:
        wanted.setdefault(need.credential_type, []).append(need.node)
    listed = ", ".join(f"{kind} (« {' », « '.join(nodes)} »)" for kind, nodes in wanted.items())
    return texts(language).needs_credentials.format(name=name, revision=revision, missing=listed)


def deploy_failed(
    language: str | None, *, name: str, revision: int, attempt: int, why: str, retry_with: str | None
) -> str:
    t = texts(language)
    retry = t.deploy_retry.format(workflow_id=retry_with) if retry_with else ""
    return t.deploy_failed.format(
        name=name, revision=revision, attempt=attempt, why=why.rstrip(". "), retry=retry
    )


def _outline(definition: str) -> tuple[str, str]:
    """The workflow's name and its nodes from the trigger on, as `A → B → C`."""
    try:
        document: Any = msgspec.json.decode(definition)
    except msgspec.DecodeError:
        return "?", "?"
    name = str(document.get("name", "?")) if isinstance(document, dict) else "?"
    names = list(_in_flow_order(document)) if isinstance(document, dict) else []
    shown = names[:_MAX_STEPS] + (["…"] if len(names) > _MAX_STEPS else [])
    return name, " → ".join(f"« {n} »" if n != "…" else n for n in shown) or "?"


def _in_flow_order(document: dict[str, Any]) -> Iterator[str]:
    """Breadth first from the nodes nothing points at (the triggers)."""
    nodes = [n.get("name") for n in document.get("nodes", []) if isinstance(n, dict)]
    edges: dict[str, list[str]] = {}
    targets: set[str] = set()
    for source, outputs in (document.get("connections") or {}).items():
        for branch in (outputs or {}).get("main", []) or []:
            for link in branch or []:
                if isinstance(link, dict) and isinstance(link.get("node"), str):
                    edges.setdefault(source, []).append(link["node"])
                    targets.add(link["node"])
    queue, seen = deque(n for n in nodes if isinstance(n, str) and n not in targets), set[str]()
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        yield node
        queue.extend(edges.get(node, []))

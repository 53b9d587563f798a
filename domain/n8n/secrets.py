"""Secrets written into parameters instead of an n8n credential.

A credential is stored encrypted by n8n and linked by id; a token in `parameters` is stored in
clear in the workflow, in every export, and in our event log. What an expression computes is not
written in the document, so only literal text counts (the text outside `{{ }}`), plus tokens
whose shape is unmistakable wherever they are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from domain.n8n.document import Node, Workflow
from domain.n8n.expressions import split_expression, strings
from domain.n8n.report import Problem, error

# Unmistakable shapes: found even inside code (`'Bearer ' + 'xoxb-...'`).
_TOKENS: Final = (
    ("an OpenAI or Anthropic API key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Telegram bot token", re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Shopify access token", re.compile(r"\bshp(?:at|ca|pa|ss)_[A-Fa-f0-9]{32}\b")),
    ("a WooCommerce REST key", re.compile(r"\bc[ks]_[a-f0-9]{40}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}")),
)
# Shapes that are secrets only as literal text; the `secret` group must also look like one.
_LITERALS: Final = (
    (
        "a Bearer token",
        re.compile(r"(?i)\bbearer\s+(?P<secret>(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,})"),
    ),
    ("Basic credentials", re.compile(r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])")),
    ("a password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}]+:(?P<secret>[^/\s@{}]+)@")),
    (
        "a secret in a URL's query",
        re.compile(
            r"(?i)[?&](?:api[_-]?key|apikey|access[_-]?token|token|secret|client[_-]?secret|password)"
            r"=(?P<secret>[^&\s#]{8,})"
        ),
    ),
)
_SECRET_NAME: Final = re.compile(
    r"(?i)^(?:proxy-)?authorization$|^(?:x-)?(?:api[-_]?)?(?:key|token|secret|password|passwd)$"
    r"|^(?:x-)?(?:api|auth|access|private|client)[-_]?(?:key|token|secret)$"
)
_JSON_PAIR: Final = re.compile(r'"(?P<name>[\w-]+)"\s*:\s*"(?P<value>[^"]*)"')
# A value still to be filled in ("SET_ZR_EXPRESS_KEY", "<token>") is a gap, not a leaked secret.
_PLACEHOLDER: Final = re.compile(
    r"[A-Z_ .-]+|<[^<>]*>|\{[^{}]*\}|\[[^\[\]]*\]|x+|\*+|\$\{?[A-Za-z_]\w*\}?"
    r"|(?i:.*(?:your|here|placeholder|changeme|replace).*)"
)
_SCHEMES: Final = re.compile(r"(?i)\b(?:bearer|basic|token|apikey)\b")
_USE_CREDENTIAL: Final = (
    'store it in an n8n credential (for an HTTP Request: "authentication": "genericCredentialType" with '
    '"genericAuthType": "httpHeaderAuth", or the app\'s own credential) and link it under the node\'s '
    '"credentials"'
)


def check_secrets(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        for path, text in strings(node.parameters):
            found = _shape(text)
            if found:
                yield _inline(node, path, found)
        for path, name in _secret_pairs(node.parameters):
            yield _inline(node, path, f'a literal "{name}" value')


def _shape(text: str) -> str | None:
    for what, pattern in _TOKENS:
        if pattern.search(text):
            return what
    literal = _literal(text)
    for what, pattern in _LITERALS:
        if any(_plausible(what, m["secret"]) for m in pattern.finditer(literal)):
            return what
    return None


def _plausible(what: str, secret: str) -> bool:
    """Not a placeholder; and Basic credentials are base64 of "user:password" ("Basic
    understanding of CSS" in a sticky note is not)."""
    if _PLACEHOLDER.fullmatch(secret):
        return False
    if what != "Basic credentials":
        return True
    try:
        decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable()


def _literal(text: str) -> str:
    """The part n8n does not evaluate: all of it, or the text between the `{{ }}` of an expression."""
    if not text.startswith("="):
        return text
    return " ".join(chunk.text for chunk in split_expression(text[1:]) if not chunk.code)


def _secret_pairs(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Header and query parameters named like a secret whose value is written out: the `{name,
    value}` rows of the HTTP Request node and the keys of its JSON headers or query."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _secret_pairs(item, f"{path}[{i}]")
    elif isinstance(value, Mapping):
        in_headers = re.search(r"(?i)header|query", path) is not None
        name, text = value.get("name"), value.get("value")
        if in_headers and isinstance(name, str) and isinstance(text, str) and _is_secret(name, text):
            yield f"{path}.value", name
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(item, str) and re.search(r"(?i)header|query", key):
                yield from (
                    (child, m["name"]) for m in _JSON_PAIR.finditer(item) if _is_secret(m["name"], m["value"])
                )
            else:
                yield from _secret_pairs(item, child)


def _is_secret(name: str, value: str) -> bool:
    if not _SECRET_NAME.match(name.strip()):
        return False
    literal = " ".join(c.text for c in split_expression(value.removeprefix("=")) if not c.code)
    written = _SCHEMES.sub("", literal).strip(" :")
    return bool(written) and not _PLACEHOLDER.fullmatch(written)


def _inline(node: Node, path: str, what: str) -> Problem:
    return error(
        "inline_secret",
        node.name,
        f'node "{node.name}": parameter "{path}" holds {what} in clear: {_USE_CREDENTIAL}',
    )

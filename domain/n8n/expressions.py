"""Expressions: n8n evaluates a parameter value only when it starts with "=", and then each
`{{ ... }}` in it as JavaScript (its `splitExpression` finds them). A value without the "=" is sent
as written, braces and all; an unclosed `{{` makes the rest of the value code. A reference to
another node (`$('Name')`, `$node["Name"]`, `$node.Name`, `$items("Name")`, the access patterns
n8n itself rewrites when a node is renamed) fails at run time when no node has that name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

import msgspec

from domain.n8n.document import Node, Workflow
from domain.n8n.ports import N8N
from domain.n8n.report import Problem, error, warning

_OPEN: Final = re.compile(r"(\\?)\{\{")
_CLOSE: Final = re.compile(r"(\\?)\}\}")
_REFERENCES: Final = (
    re.compile(r"""\$\(\s*(?P<q>['"`])(?P<name>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\)"""),
    re.compile(r"""\$node\[\s*(?P<q>['"])(?P<name>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\]"""),
    re.compile(r"""\$items\(\s*(?P<q>['"])(?P<name>(?:\\.|(?!(?P=q)).)*)(?P=q)"""),
    re.compile(r"""\$node\.(?P<name>[A-Za-z_$][\w$]*)"""),
)
_ENV: Final = re.compile(r"\$env\b")
# Parameters holding code or templates that n8n reads as they are (no "=" needed), but in which
# it still rewrites node references on a rename (NODES_WITH_RENAMABLE_CONTENT and friends).
_RAW: Final[Mapping[str, frozenset[str]]] = {
    N8N + "code": frozenset({"jsCode", "pythonCode"}),
    N8N + "function": frozenset({"functionCode"}),
    N8N + "functionItem": frozenset({"functionCode"}),
    N8N + "aiTransform": frozenset({"jsCode"}),
    N8N + "html": frozenset({"html"}),
    N8N + "mailgun": frozenset({"html"}),
    N8N + "form": frozenset({"formFields", "completionMessage"}),
}


class Chunk(msgspec.Struct, frozen=True, kw_only=True):
    code: bool
    text: str
    closed: bool = True


def split_expression(text: str) -> list[Chunk]:
    """n8n-workflow's splitExpression: text and `{{ code }}` chunks; `\\{{` and `\\}}` are escapes."""
    chunks: list[Chunk] = []
    buffer, index, in_code = "", 0, False
    while index < len(text):
        found = (_CLOSE if in_code else _OPEN).search(text, index)
        if found is None:
            chunks.append(Chunk(code=in_code, text=buffer + text[index:], closed=not in_code))
            break
        if found.group(1):  # escaped: part of the current chunk
            buffer += text[index : found.end()]
        else:
            chunks.append(Chunk(code=in_code, text=buffer + text[index : found.start()]))
            buffer, in_code = "", not in_code
        index = found.end()
    else:
        if in_code:  # a "{{" that ends the value: n8n drops it, but it was meant to open code
            chunks.append(Chunk(code=True, text=buffer, closed=False))
    return chunks


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a parameter value, with its path (`headerParameters.parameters[0].value`)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")


def check_expressions(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        raw = _RAW.get(node.type, frozenset())
        for path, text in strings(node.parameters):
            if text.startswith("="):
                found = _expression(wf, node, path, text[1:])
            elif path.split(".")[0].split("[")[0] in raw:
                found = _code(wf, node, path, text)
            else:
                found = _unprefixed(node, path, text)
            yield from dict.fromkeys(found)  # once per parameter, however many {{ }} repeat it


def _expression(wf: Workflow, node: Node, path: str, text: str) -> Iterator[Problem]:
    for chunk in split_expression(text):
        if not chunk.code:
            continue
        if not chunk.closed:
            yield error(
                "unbalanced_expression",
                node.name,
                f'node "{node.name}": parameter "{path}" opens "{{{{" without closing it: end each '
                'expression with "}}", e.g. "={{ $json.total }}"',
            )
        yield from _code(wf, node, path, chunk.text)


def _code(wf: Workflow, node: Node, path: str, code: str) -> Iterator[Problem]:
    yield from _references(wf, node, path, code)
    if _ENV.search(code):
        yield warning(
            "env_access",
            node.name,
            f'node "{node.name}": parameter "{path}" reads $env, which n8n 2.x refuses by default '
            '("access to env vars denied" unless N8N_BLOCK_ENV_ACCESS_IN_NODE=false): keep secrets in '
            "a credential and other settings in the workflow",
        )


def _unprefixed(node: Node, path: str, text: str) -> Iterator[Problem]:
    for chunk in split_expression(text):
        # n8n's variables all start with $; a bare {{name}} may be a service's own placeholder
        if chunk.code and "$" in chunk.text:
            shown = chunk.text.strip()[:60]
            yield error(
                "expression_without_prefix",
                node.name,
                f'node "{node.name}": parameter "{path}" contains "{{{{ {shown} }}}}" but does not start '
                'with "=", so n8n sends it as literal text: write the value as "=" followed by the text',
            )
            return


def _references(wf: Workflow, node: Node, path: str, code: str) -> Iterator[Problem]:
    for pattern in _REFERENCES:
        for match in pattern.finditer(code):
            name = re.sub(r"\\(.)", r"\1", match.group("name"))
            if name in wf.by_name or "${" in name:
                continue
            guess = difflib.get_close_matches(name, list(wf.by_name), n=1)
            hint = f'did you mean "{guess[0]}"?' if guess else "use the exact name of a node of this workflow"
            yield error(
                "unknown_node_reference",
                node.name,
                f'node "{node.name}": parameter "{path}" reads {match.group(0)} but no node is named '
                f'"{name}" (names are case-sensitive): {hint}',
            )

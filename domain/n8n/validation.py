"""Validate an n8n workflow document against a node catalogue: every rule, one report.

The input is the raw JSON text, as a designer (a person or a model) wrote it: n8n's format, not
one of ours, so any JSON is accepted and what is wrong with it is a problem in the report, never
an exception. Each rule has stable codes; the report lists the codes it checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple

import msgspec

from domain.n8n import connections, expressions, graph, parameters, secrets, structure, webhooks
from domain.n8n.catalog import NodeCatalog
from domain.n8n.document import Workflow, read_workflow
from domain.n8n.report import Problem, ValidationReport, error, report


class Rule(NamedTuple):
    codes: tuple[str, ...]
    check: Callable[[Workflow], Iterable[Problem]]


RULES: Final = (
    Rule(
        ("unknown_top_level_field", "missing_name", "invalid_nodes", "invalid_connections"),
        structure.check_top_level,
    ),
    Rule(("static_data_given",), structure.check_static_data),
    Rule(("missing_settings", "invalid_setting"), structure.check_settings),
    Rule(("malformed_node",), structure.check_node_entries),
    Rule(("unknown_node_field", "invalid_node_field"), structure.check_node_fields),
    Rule(("unknown_node_type", "unknown_type_version"), structure.check_node_types),
    Rule(("missing_parameters", "invalid_position"), structure.check_node_basics),
    Rule(("duplicate_node_name", "duplicate_node_id"), structure.check_duplicates),
    Rule(
        ("invalid_connection", "invalid_output_key", "connection_by_id", "connection_to_missing_node"),
        connections.check_connection_shape,
    ),
    Rule(
        ("output_index_out_of_range", "filter_discarded_output", "input_index_out_of_range"),
        connections.check_ports,
    ),
    Rule(("connection_to_trigger",), connections.check_trigger_targets),
    Rule(("no_trigger",), graph.check_trigger),
    Rule(("unreachable_node",), graph.check_reachability),
    Rule(("cycle_without_exit",), graph.check_cycles),
    Rule(("webhook_path_conflict",), webhooks.check_webhook_paths),
    Rule(("webhook_without_path", "webhook_without_id"), webhooks.check_webhook_setup),
    Rule(("respond_to_webhook_mismatch",), webhooks.check_responses),
    Rule(
        ("expression_without_prefix", "unbalanced_expression", "unknown_node_reference", "env_access"),
        expressions.check_expressions,
    ),
    Rule(("misplaced_node_setting",), parameters.check_misplaced_settings),
    Rule(("unknown_credential_type",), parameters.check_credential_types),
    Rule(("http_request_without_url", "http_request_invalid_url"), parameters.check_http_requests),
    Rule(("inline_secret",), secrets.check_secrets),
)
CODES: Final = ("invalid_json", *(code for rule in RULES for code in rule.codes))


def validate(document: bytes | str, catalog: NodeCatalog) -> ValidationReport:
    data = _decode(document)
    if not isinstance(data, dict):
        return report((_not_a_workflow(data),), ("invalid_json",))
    workflow = read_workflow(data, catalog)
    problems = tuple(problem for rule in RULES for problem in rule.check(workflow))
    return report(problems, CODES)


class _Malformed(msgspec.Struct, frozen=True):
    reason: str


def _decode(document: bytes | str) -> Any:
    try:
        return msgspec.json.decode(document)
    except msgspec.DecodeError as exc:
        return _Malformed(str(exc))


def _not_a_workflow(data: Any) -> Problem:
    if isinstance(data, _Malformed):
        what = f"is not valid JSON ({data.reason})"
    else:
        what = f"is a JSON {type(data).__name__}, not an object"
    return error(
        "invalid_json",
        None,
        f'the document {what}: an n8n workflow is one JSON object with "name", "nodes", "connections" '
        'and "settings"',
    )

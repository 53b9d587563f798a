"""The n8n validator: what n8n 2.8.4 would refuse, break on, or silently ignore in a workflow.

Pure: it reads the workflow's JSON text and a node catalogue, and answers a report. See
`validation.validate` for the entry point and `validation.RULES` for every rule and its codes.
"""

from domain.n8n.catalog import NodeCatalog, NodeType, default_catalog, parse_catalog
from domain.n8n.report import Problem, Severity, ValidationReport
from domain.n8n.validation import CODES, validate

__all__ = [
    "CODES",
    "NodeCatalog",
    "NodeType",
    "Problem",
    "Severity",
    "ValidationReport",
    "default_catalog",
    "parse_catalog",
    "validate",
]

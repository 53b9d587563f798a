"""A draft's outline: what anyone may read of its nodes — name, type, typeVersion, disabled, the credential
types n8n will ask — and nothing of its parameters."""

from __future__ import annotations

import json

from domain.n8n.catalog import default_catalog
from domain.n8n.outline import outline

CATALOG = default_catalog()
RIP = "00799999002345678165"


def test_the_outline_names_each_node_its_type_version_and_credential_types_never_its_parameters() -> None:
    document = {
        "name": "Paiements fournisseurs",
        "nodes": [
            {
                "name": "Every Friday",
                "type": "n8n-nodes-base.scheduleTrigger",
                "typeVersion": 1.2,
                "parameters": {"rule": {"interval": [{"field": "weeks"}]}},
            },
            {
                "name": "Post to Slack",
                "type": "n8n-nodes-base.slack",
                "typeVersion": 2.3,
                "parameters": {"text": f"pay from RIP {RIP}"},
            },
            {"name": "Old step", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "disabled": True},
            {"name": "No version", "type": "n8n-nodes-base.noOp"},
            {"type": "n8n-nodes-base.noOp"},  # no name: not a node anyone can refer to
            "not a node",
        ],
        "connections": {},
    }

    nodes = outline(document, CATALOG)

    assert [(n.name, n.node_type, n.type_version, n.disabled) for n in nodes] == [
        ("Every Friday", "n8n-nodes-base.scheduleTrigger", "1.2", False),
        ("Post to Slack", "n8n-nodes-base.slack", "2.3", False),
        ("Old step", "n8n-nodes-base.noOp", "1", True),
        ("No version", "n8n-nodes-base.noOp", "unknown", False),
    ]
    assert nodes[0].credential_types == ()
    assert nodes[1].credential_types == ("slackApi",)
    assert RIP not in json.dumps([n.name for n in nodes] + [n.node_type for n in nodes])


def test_what_is_no_n8n_document_has_an_empty_outline() -> None:
    assert outline([], CATALOG) == ()
    assert outline({"nodes": "none"}, CATALOG) == ()
    assert outline({}, CATALOG) == ()

"""The node catalogue shipped with the validator: typed, read once, tied to its n8n version."""

from __future__ import annotations

import msgspec
import pytest

from domain.n8n import default_catalog, parse_catalog


def test_the_shipped_catalogue_describes_n8n_2_8_4_and_is_read_once() -> None:
    catalog = default_catalog()
    assert catalog.n8n_version == "2.8.4"
    assert catalog.package == "n8n-nodes-base"
    assert default_catalog() is catalog


def test_a_node_type_lists_its_versions_trigger_flag_credentials_and_parameters() -> None:
    catalog = default_catalog()
    webhook = catalog.get("n8n-nodes-base.webhook")
    slack = catalog.get("n8n-nodes-base.slack")
    assert webhook is not None
    assert slack is not None
    assert webhook.trigger
    assert webhook.has_version(2.1)
    assert not webhook.has_version(3)
    assert "path" in webhook.parameters
    assert not slack.trigger
    assert "slackApi" in slack.credentials
    assert catalog.get("n8n-nodes-base.nothing") is None


def test_every_trigger_of_the_catalogue_takes_no_input() -> None:
    for name, spec in default_catalog().nodes.items():
        if spec.trigger:
            assert spec.inputs == (), name


def test_a_catalogue_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        parse_catalog(b'{"n8n": "2.8.4", "package": "p", "package_version": "1", "nodes": {"x": {}}}')

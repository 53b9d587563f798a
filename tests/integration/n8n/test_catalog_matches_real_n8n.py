"""Our catalogue and port model against the n8n that is installed: the same types and typeVersions,
the same output and input counts wherever n8n's own description gives them as a fixed list, and the
shipped file is what the generator writes from it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from domain.n8n import default_catalog
from domain.n8n.catalog import CATALOG_FILE
from domain.n8n.document import Node
from domain.n8n.ports import inputs, outputs
from infra.n8n.catalog_build import build_catalog
from tests.integration.n8n.conftest import require_n8n
from tests.support.n8n import N8N_VERSION, n8n_home

pytestmark = pytest.mark.n8n


@pytest.fixture(scope="module")
def descriptions() -> list[dict[str, Any]]:
    """One entry per node class of n8n-nodes-base: a type with several classes (V1, V2...) has several."""
    require_n8n()
    path = n8n_home() / "node_modules" / "n8n-nodes-base" / "dist" / "types" / "nodes.json"
    loaded: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _versions(description: dict[str, Any]) -> list[float]:
    version = description["version"]
    return list(version) if isinstance(version, list) else [version]


def test_the_catalogue_describes_the_installed_n8n(descriptions: list[dict[str, Any]]) -> None:
    catalog = default_catalog()
    installed: dict[str, set[float]] = {}
    for description in descriptions:
        installed.setdefault(f"n8n-nodes-base.{description['name']}", set()).update(_versions(description))
    assert catalog.n8n_version == N8N_VERSION
    assert {name: set(spec.versions) for name, spec in catalog.nodes.items()} == installed


def test_fixed_output_and_input_counts_agree_with_n8n_for_every_type_and_version(
    descriptions: list[dict[str, Any]],
) -> None:
    catalog = default_catalog()
    disagreements = []
    for description in descriptions:
        name = f"n8n-nodes-base.{description['name']}"
        for version in _versions(description):
            node = Node(
                name="n",
                type=name,
                id=None,
                fields={"typeVersion": version, "parameters": {}},
                spec=catalog.get(name),
            )
            for kind, computed in (("outputs", outputs(node)), ("inputs", inputs(node))):
                declared = description[kind]
                if (
                    isinstance(declared, list)
                    and computed is not None
                    and len(computed.labels) != len(declared)
                ):
                    disagreements.append((name, version, kind, len(declared), len(computed.labels)))
    assert disagreements == []


def test_regenerating_the_catalogue_from_the_installed_n8n_gives_the_shipped_file() -> None:
    require_n8n()
    shipped = resources.files("domain.n8n").joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    assert build_catalog(n8n_home()) == shipped, "run `make n8n-catalog` and commit the catalogue"

"""The node catalogue of an installed n8n (`make n8n-catalog`), as `domain.n8n.catalog` reads it.

    python -m infra.n8n.catalog_build --n8n-home ~/.cache/aiwf/n8n-2.8.4 \
        --out domain/n8n/n8n-2.8.4-node-catalog.json

n8n-nodes-base's `dist/types/nodes.json` has one description per node class; a type with several
classes (V1, V2, ...) has several. Per type the catalogue holds the union of their versions,
credential and top-level parameter names; the display name of the newest class and the inputs /
outputs of the oldest. For `domain.n8n.credentials` it adds each class's
credential descriptions (for that class's versions) and the defaults of the parameters those depend
on. The JSON has sorted keys, one per line and no indentation, so a new release diffs line by line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from domain.n8n.credentials import check_conditions

PACKAGE: Final = "n8n-nodes-base"
VERSION: Final = "@version"
NOTE: Final = (
    "node types, typeVersions, trigger flag, credential and top-level parameter names, extracted from "
    "the installed package; credential_rules and defaults: when a node needs which credential"
)
Description = dict[str, Any]


def build_catalog(n8n_home: Path) -> str:
    modules = n8n_home / "node_modules"
    descriptions: list[Description] = _read(modules / PACKAGE / "dist" / "types" / "nodes.json")
    n8n_version = _read(modules / "n8n" / "package.json")["version"]
    package_version = _read(modules / PACKAGE / "package.json")["version"]
    return render(catalog_data(descriptions, n8n_version, package_version))


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=0, sort_keys=True)


def catalog_data(
    descriptions: Sequence[Description], n8n_version: str, package_version: str
) -> dict[str, Any]:
    types: dict[str, list[Description]] = {}
    for description in descriptions:
        types.setdefault(f"{PACKAGE}.{description['name']}", []).append(description)
    return {
        "n8n": n8n_version,
        "note": NOTE,
        "package": PACKAGE,
        "package_version": package_version,
        "nodes": {name: node_entry(classes) for name, classes in types.items()},
    }


def node_entry(classes: Sequence[Description]) -> dict[str, Any]:
    oldest = min(classes, key=lambda description: min(versions(description)))
    newest = max(classes, key=lambda description: max(versions(description)))
    entry: dict[str, Any] = {
        "displayName": newest["displayName"],
        "versions": sorted({v for description in classes for v in versions(description)}),
        "trigger": any("trigger" in description["group"] for description in classes),
        "credentials": sorted({c["name"] for d in classes for c in d.get("credentials", [])}),
        "parameters": sorted({p["name"] for d in classes for p in d["properties"]}),
        "inputs": oldest["inputs"],
        "outputs": oldest["outputs"],
    }
    rules = credential_rules(classes)
    defaults = parameter_defaults(classes)
    if rules:
        entry["credential_rules"] = rules
    if defaults:
        entry["defaults"] = defaults
    return entry


def versions(description: Description) -> list[float]:
    version = description["version"]
    return list(version) if isinstance(version, list) else [version]


def credential_rules(classes: Sequence[Description]) -> list[dict[str, Any]]:
    """One rule per credential description; classes that describe it alike share a rule."""
    rules: dict[str, dict[str, Any]] = {}
    for description in sorted(classes, key=lambda d: min(versions(d))):
        for credential in description.get("credentials", []):
            options = credential.get("displayOptions", {})
            rule = {
                "name": credential["name"],
                "required": bool(credential.get("required")),
                **{key: options[key] for key in ("show", "hide") if options.get(key)},
            }
            same = rules.setdefault(json.dumps(rule, sort_keys=True), {**rule, "versions": []})
            same["versions"] = sorted({*same["versions"], *versions(description)})
    return list(rules.values())


def parameter_defaults(classes: Sequence[Description]) -> list[dict[str, Any]]:
    """The defaults of the parameters credentials depend on, per property of that name in the order
    of the description, with the versions its `@version` condition admits and its other conditions;
    versions whose properties of a name are alike share entries."""
    groups: dict[tuple[str, str], list[float]] = {}
    for description in classes:
        for name in sorted(_referenced(description)):
            for version in versions(description):
                admitted = [_default(p) for p in description["properties"] if _admits(p, name, version)]
                if admitted:
                    groups.setdefault((name, json.dumps(admitted, sort_keys=True)), []).append(version)
    entries: list[dict[str, Any]] = []
    for (name, alike), admitting in sorted(groups.items(), key=lambda g: (g[0][0], min(g[1]))):
        entries.extend({"name": name, "versions": sorted(admitting), **d} for d in json.loads(alike))
    return entries


def _referenced(description: Description) -> set[str]:
    """The parameters the credentials' displayOptions name, and those their displayOptions name."""
    wanted = set(_names(c.get("displayOptions", {}) for c in description.get("credentials", [])))
    found: set[str] = set()
    while wanted - found:
        found |= wanted
        properties = [p for p in description["properties"] if p["name"] in found]
        wanted |= set(_names(p.get("displayOptions", {}) for p in properties))
    return found


def _names(options: Iterable[dict[str, Any]]) -> Iterator[str]:
    for option in options:
        for conditions in (option.get("show", {}), option.get("hide", {})):
            for key in conditions:
                if not key.startswith("@"):
                    yield key.removeprefix("/").split(".")[0]


def _admits(prop: Description, name: str, version: float) -> bool:
    options = prop.get("displayOptions", {})
    show, hide = options.get("show", {}), options.get("hide", {})
    return (
        prop["name"] == name
        and (VERSION not in show or check_conditions(show[VERSION], [version]))
        and not (VERSION in hide and check_conditions(hide[VERSION], [version]))
    )


def _default(prop: Description) -> dict[str, Any]:
    options = prop.get("displayOptions", {})
    others = {
        key: {k: v for k, v in options.get(key, {}).items() if k != VERSION} for key in ("show", "hide")
    }
    return {"value": prop.get("default"), **{key: value for key, value in others.items() if value}}


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the node catalogue of an installed n8n.")
    parser.add_argument("--n8n-home", type=Path, required=True, help="where `make n8n` installed n8n")
    parser.add_argument("--out", type=Path, required=True, help="the catalogue file to write")
    args = parser.parse_args(argv)
    args.out.write_text(build_catalog(args.n8n_home.expanduser()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

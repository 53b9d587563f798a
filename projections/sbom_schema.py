"""The CycloneDX 1.6 JSON schema, and the check every SBOM passes before it is stored.

The schema files are the ones cyclonedx-python-lib ships (the 1.6 schema refers to its SPDX licence list
and JSF signature schemas by relative URL; they are resolved from the same folder, never fetched).
jsonschema-rs validates (docs/adr/0021-workflow-sboms.md says why not the library's own validator).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Final

import jsonschema_rs

SPEC_VERSION: Final = "1.6"
_SCHEMA_PACKAGE: Final = "cyclonedx.schema._res"
_SCHEMA_FILE: Final = "bom-1.6.SNAPSHOT.schema.json"
_BASE: Final = "http://cyclonedx.org/schema/"
# The names the 1.6 schema's relative refs resolve to, and the files that hold them.
_REFERENCED: Final = {
    _BASE + "spdx.SNAPSHOT.schema.json": "spdx.SNAPSHOT.schema.json",
    _BASE + "jsf-0.82.SNAPSHOT.schema.json": "jsf-0.82.SNAPSHOT.schema.json",
}


class SbomInvalid(Exception):
    """A document we built breaks the CycloneDX schema: a bug of ours, never stored."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("SBOM breaks the CycloneDX 1.6 schema: " + "; ".join(problems[:5]))
        self.problems = problems


def _read(name: str) -> Any:
    return json.loads(resources.files(_SCHEMA_PACKAGE).joinpath(name).read_text(encoding="utf-8"))


def _retrieve(uri: str) -> Any:
    name = _REFERENCED.get(uri.split("#", 1)[0])
    if name is None:
        raise ValueError(f"the CycloneDX schema refers to {uri}, which is not shipped with it")
    return _read(name)


@functools.cache
def _validator() -> jsonschema_rs.Draft7Validator:
    return jsonschema_rs.Draft7Validator(_read(_SCHEMA_FILE), validate_formats=True, retriever=_retrieve)


def check_sbom(document: Any) -> None:
    """Raise SbomInvalid with every problem found (path: message), or return."""
    problems = [
        f"{'/'.join(str(p) for p in error.instance_path) or '(root)'}: {error.message}"
        for error in _validator().iter_errors(document)
    ]
    if problems:
        raise SbomInvalid(problems)

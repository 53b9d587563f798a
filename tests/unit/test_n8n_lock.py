"""infra/n8n/npm pins n8n and every npm package under it (`make n8n` installs it with npm ci): the lock
names the n8n the tests expect, agrees with its package.json, and leaves no package to float."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.n8n import N8N_VERSION

ROOT = Path(__file__).parents[2]
NPM = ROOT / "infra" / "n8n" / "npm"


def test_the_lock_pins_the_n8n_the_tests_and_the_makefile_expect() -> None:
    manifest = json.loads((NPM / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((NPM / "package-lock.json").read_text(encoding="utf-8"))
    [makefile_version] = re.findall(r"^N8N_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)

    assert manifest["dependencies"] == {"n8n": N8N_VERSION}
    assert makefile_version == N8N_VERSION
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    assert lock["packages"]["node_modules/n8n"]["version"] == N8N_VERSION


def test_every_package_of_the_lock_has_a_version_and_an_integrity() -> None:
    lock = json.loads((NPM / "package-lock.json").read_text(encoding="utf-8"))
    packages = {path: entry for path, entry in lock["packages"].items() if path}

    assert lock["lockfileVersion"] == 3
    assert len(packages) > 1000  # n8n's whole tree, not its first level
    installed = {path: entry for path, entry in packages.items() if not entry.get("link")}
    unpinned = [path for path, entry in installed.items() if not entry.get("version")]
    unchecked = [path for path, entry in installed.items() if not entry.get("integrity")]
    assert unpinned == []
    assert unchecked == []

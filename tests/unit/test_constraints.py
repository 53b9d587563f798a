"""constraints.txt pins every package `make install` puts in .venv, within the ranges of pyproject.toml:
a range changed without `make lock` fails here, not on a fresh machine next month."""

from __future__ import annotations

import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[2]


def pins() -> dict[str, Version]:
    pinned: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not a pin: {line!r}"
            pinned[canonicalize_name(name)] = Version(version)
    return pinned


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


def test_every_direct_dependency_is_pinned_within_its_range() -> None:
    pinned = pins()
    for requirement in requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]} outside {requirement}: run `make lock`"
        )


def test_the_environment_the_tests_run_in_is_the_pinned_one() -> None:
    pinned = pins()
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in distributions()}
    drifted = {
        name: (str(version), str(installed.get(name)))
        for name, version in pinned.items()
        if installed.get(name) != version
    }
    assert not drifted, f"installed differently from constraints.txt (pinned, installed): {drifted}"

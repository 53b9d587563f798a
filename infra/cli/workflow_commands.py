"""`aiwf workflows ...`: the operator's commands on n8n workflow documents (no server needed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from domain.n8n import Problem, default_catalog, validate
from infra.settings import Settings


class ValidationOutput(msgspec.Struct, frozen=True, kw_only=True):
    valid: bool
    problems: tuple[Problem, ...]


def validate_file(_settings: Settings, args: argparse.Namespace) -> int:
    """Print the validator's verdict as JSON; exit 0 when valid, 1 when not, 2 when unreadable."""
    try:
        document = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"aiwf: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    report = validate(document, default_catalog())
    output = ValidationOutput(valid=report.valid, problems=report.problems)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(output), indent=2).decode() + "\n")
    return 0 if report.valid else 1

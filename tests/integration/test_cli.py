"""The `aiwf` command: clear messages and non-zero exits on bad input, `--help` everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest


def aiwf(*args: str, redis_url: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AIWF_KEY_PREFIX": f"cli{uuid.uuid4().hex[:8]}",
    }
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["api"],
        ["worker"],
        ["demo"],
        ["migrate"],
        ["keys", "create"],
        ["events", "tail"],
        ["projections", "verify"],
        ["audit", "verify"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", *command, "--help"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert "usage: aiwf" in result.stdout


def test_keys_are_created_listed_and_revoked_with_clear_errors(redis_url: str, database_url: str) -> None:
    created = aiwf(
        "keys",
        "create",
        "--tenant",
        "cli-test",
        "--role",
        "auditor",
        redis_url=redis_url,
        database_url=database_url,
    )
    key_id = created.stdout.split()[1]
    listed = aiwf("keys", "list", "--tenant", "cli-test", redis_url=redis_url, database_url=database_url)
    bad_tenant = aiwf(
        "keys",
        "create",
        "--tenant",
        "Not Valid",
        "--role",
        "member",
        redis_url=redis_url,
        database_url=database_url,
    )
    bad_role = aiwf(
        "keys", "create", "--tenant", "x", "--role", "owner", redis_url=redis_url, database_url=database_url
    )
    revoked = aiwf("keys", "revoke", key_id, redis_url=redis_url, database_url=database_url)
    again = aiwf("keys", "revoke", key_id, redis_url=redis_url, database_url=database_url)

    assert created.returncode == 0
    assert created.stdout.splitlines()[1].startswith("aiwf_")
    assert key_id in listed.stdout
    assert (bad_tenant.returncode, bad_role.returncode) == (2, 2)
    assert "tenant 'Not Valid'" in bad_tenant.stderr
    assert "invalid choice: 'owner'" in bad_role.stderr
    assert revoked.returncode == 0
    assert again.returncode == 1
    assert "no active key" in again.stderr


def test_an_unknown_projector_is_named_in_the_error(redis_url: str, database_url: str) -> None:
    result = aiwf("projections", "verify", "nonexistent", redis_url=redis_url, database_url=database_url)

    assert result.returncode == 2
    assert "no projector named 'nonexistent'" in result.stderr


def test_events_tail_prints_the_log_as_json_lines(redis_url: str, database_url: str) -> None:
    result = aiwf("events", "tail", "--from-start", "--once", redis_url=redis_url, database_url=database_url)

    assert result.returncode == 0
    assert result.stdout == ""  # a fresh key prefix: an empty log, and `--once` returns when caught up

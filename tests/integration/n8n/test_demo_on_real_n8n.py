"""`aiwf demo` with an n8n configured: the demo workflow is deployed and active in n8n (with
`--demo-credentials`, dummy credentials are connected for the types it lacks, and the demo says so);
without `--demo-credentials` it says what is missing and fails. Without an n8n:
tests/integration/test_cli.py."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.n8n import N8n
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.n8n


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


def demo(n8n: N8n, redis_url: str, database_url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AIWF_KEY_PREFIX": f"demo{uuid.uuid4().hex[:8]}",
        "N8N_URL": n8n.base_url,
        "N8N_API_KEY": n8n.api_key,
    }
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_demo_deploys_and_activates_its_workflow_with_demo_credentials(
    n8n: N8n, redis_url: str, database: str
) -> None:
    result = demo(n8n, redis_url, database, "--demo-credentials")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo: OK" in result.stdout
    assert "connecting dummy ones (--demo-credentials)" in result.stdout
    deployed = next(line for line in result.stdout.splitlines() if "deployed to n8n" in line)
    n8n_id = deployed.split("workflow ")[1].split(",")[0]
    live = httpx.get(
        f"{n8n.base_url}/api/v1/workflows/{n8n_id}", headers={"X-N8N-API-KEY": n8n.api_key}, timeout=30
    )
    assert live.json()["active"] is True
    assert n8n.api_key not in result.stdout + result.stderr


def test_without_demo_credentials_the_demo_says_what_the_workflow_lacks_and_fails(
    n8n: N8n, redis_url: str, database: str
) -> None:
    result = demo(n8n, redis_url, database)

    assert result.returncode == 1
    assert "saved inactive, it lacks" in result.stdout
    assert "demo: FAILED" in result.stdout

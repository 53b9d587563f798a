"""Real servers for the tests: REDIS_URL / DATABASE_URL when set, else the embedded default."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.embedded import start_postgres, start_valkey


@pytest.fixture(scope="session")
def servers_home() -> Iterator[Path]:
    """Data of the embedded servers. Not pytest's tmp_path: its retention sweeps other sessions' folders."""
    home = Path(tempfile.mkdtemp(prefix="aiwf-tests-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(servers_home: Path) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    valkey = start_valkey(servers_home / "embedded")
    yield valkey.url
    valkey.stop()


@pytest.fixture(scope="session")
def database_url(servers_home: Path) -> str:
    return os.environ.get("DATABASE_URL") or start_postgres(servers_home / "embedded")


@pytest.fixture(scope="session")
def aof_valkey_url(servers_home: Path) -> Iterator[str]:
    """A server with AOF on and WAITAOF, whatever REDIS_URL points at (the machine's Redis may be 7.0)."""
    valkey = start_valkey(servers_home / "aof")
    yield valkey.url
    valkey.stop()


@pytest.fixture(scope="session")
def cluster_url(servers_home: Path) -> Iterator[str]:
    from tests.support.cluster import LocalCluster

    cluster = LocalCluster(home=servers_home / "cluster")
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""One real n8n 2.8.4 for the module that asks for it; installed by `make n8n`, never skipped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.n8n import N8n, N8nNotInstalled, n8n_binary, running_n8n


def require_n8n() -> None:
    """Fail (never skip) with the command that installs n8n."""
    try:
        n8n_binary()
    except N8nNotInstalled as exc:
        missing = str(exc)
    else:
        return
    pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="module")
def n8n() -> Iterator[N8n]:
    require_n8n()
    with running_n8n() as server:
        yield server

"""What a model decision records of where it was sent: the base URL, never a credential or a query."""

from __future__ import annotations

import pytest

from inference.provider import public_endpoint


@pytest.mark.parametrize(
    ("configured", "recorded"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com"),
        ("https://api.anthropic.com/", "https://api.anthropic.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://user:s3cret@10.0.0.5:8000/v1/?key=abc#frag", "http://10.0.0.5:8000/v1"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_an_endpoint_keeps_scheme_host_port_and_path_only(configured: str, recorded: str) -> None:
    assert public_endpoint(configured) == recorded

"""A Cluster node's URL keeps what the configured URL says about how to connect."""

from __future__ import annotations

import pytest

from infra.redis_conn import node_url


@pytest.mark.parametrize(
    ("url", "host", "port", "expected"),
    [
        ("redis://127.0.0.1:7000", "10.0.0.2", 7001, "redis://10.0.0.2:7001"),
        ("redis://aiwf:s3cret@a.example:7000/0", "b.example", 7002, "redis://aiwf:s3cret@b.example:7002/0"),
        (
            "rediss://:pw@a.example:6380?ssl_cert_reqs=required",
            "c",
            6381,
            "rediss://:pw@c:6381?ssl_cert_reqs=required",
        ),
        ("redis://user:p%40ss@[::1]:7000", "::1", 7003, "redis://user:p%40ss@[::1]:7003"),
    ],
    ids=["plain", "user-and-password", "tls-and-options", "ipv6-and-escaped-password"],
)
def test_a_node_url_keeps_scheme_credentials_and_options(
    url: str, host: str, port: int, expected: str
) -> None:
    assert node_url(url, host, port) == expected

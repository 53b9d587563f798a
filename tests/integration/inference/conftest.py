"""Fixtures that start and stop the fake inference servers, one fresh pair per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.integration.inference.servers import AnthropicServer, OpenAIServer


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    server = AnthropicServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on: the port was bound, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

"""The local vLLM test server reached over plain HTTP through this machine's own non-loopback address:
sensitive data is refused unless the operator declared the path trusted; on the loopback it is sent."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from domain.conversation_events import InferenceDecided, InferenceRefused
from inference.config import build_gateway, gateway_config_from_env
from inference.gateway import Gateway
from tests.integration.inference.servers import OpenAIServer
from tests.integration.inference.test_gateway import LOCAL_MODEL, PLAN, call, local_reply

SENSITIVE = "Merci de virer sur mon RIP 00799999001234567845 avant vendredi."
PUBLIC = "Chaque matin, envoie-moi le total des commandes Shopify sur Slack."


def outward_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (a UDP connect sends nothing), or None."""
    for target in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
            except OSError:
                continue
            address = str(probe.getsockname()[0])
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


@pytest.fixture
def remote_sidecar() -> Iterator[OpenAIServer]:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to play a remote sidecar on")
    server = OpenAIServer(host=address)
    server.serve_always("POST", OpenAIServer.CHAT, local_reply(PLAN))
    server.start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def gateway_for(url: str, **environ: str) -> AsyncIterator[Gateway]:
    gateway = build_gateway(
        gateway_config_from_env({"AIWF_VLLM_URL": url, "AIWF_VLLM_MODEL": LOCAL_MODEL, **environ})
    )
    try:
        yield gateway
    finally:
        await gateway.aclose()


async def test_sensitive_data_is_refused_for_a_sidecar_off_this_machine_over_plain_http(
    remote_sidecar: OpenAIServer,
) -> None:
    async with gateway_for(remote_sidecar.url) as gateway:
        sensitive = await gateway.infer(call(SENSITIVE))
        public = await gateway.infer(call(PUBLIC))

    assert isinstance(sensitive.event, InferenceRefused)
    assert f"the local model at {remote_sidecar.url} is reached over plain HTTP" in sensitive.event.reason
    assert "AIWF_VLLM_TRUSTED=1" in sensitive.event.reason
    assert isinstance(public.event, InferenceDecided)
    assert public.event.provider == "vllm"  # what is not sensitive may still use it
    assert len(remote_sidecar.chats_received()) == 1
    assert "00799999001234567845" not in remote_sidecar.chats_received()[0].body.decode()


async def test_a_sidecar_declared_trusted_gets_sensitive_data_over_plain_http(
    remote_sidecar: OpenAIServer,
) -> None:
    async with gateway_for(remote_sidecar.url, AIWF_VLLM_TRUSTED="1") as gateway:
        outcome = await gateway.infer(call(SENSITIVE))

    assert isinstance(outcome.event, InferenceDecided)
    assert (outcome.event.provider, outcome.event.endpoint) == ("vllm", remote_sidecar.url)
    assert "00799999001234567845" in remote_sidecar.chats_received()[0].body.decode()


async def test_a_sidecar_on_the_loopback_gets_sensitive_data_without_a_declaration(
    openai_server: OpenAIServer,
) -> None:
    openai_server.serve_always("POST", OpenAIServer.CHAT, local_reply(PLAN))

    async with gateway_for(openai_server.url) as gateway:
        outcome = await gateway.infer(call(SENSITIVE))

    assert isinstance(outcome.event, InferenceDecided)
    assert outcome.event.provider == "vllm"
    assert len(openai_server.chats_received()) == 1

""" "Local" is where the data goes: sensitive data only travels https, the loopback, or plain HTTP the
operator declared trusted (AIWF_VLLM_TRUSTED); anything else is refused, failing closed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import get_args

import pytest

from domain.conversation_events import InferenceRefused
from domain.types import AgentRole, Sensitivity
from inference.config import build_gateway, gateway_config_from_env, gateway_notes
from inference.gateway import GatewayCall
from inference.provider import ChatMessage
from inference.routing import Availability, Refusal, Route, RoutingPolicy, decide_route, local_transport

EXPOSURE = "the local model at http://10.1.2.3:8000 is reached over plain HTTP off this machine"


@pytest.mark.parametrize(
    "endpoint",
    [
        None,  # in this process
        "https://vllm.internal.example.dz",
        "https://10.1.2.3:8443",
        "http://127.0.0.1:8000",
        "http://127.8.9.10:8000",
        "http://[::1]:8000",
        "http://localhost:8000",
        "http://LocalHost.",
        "http://[::ffff:127.0.0.1]:8000",
    ],
)
def test_https_loopback_and_the_process_itself_may_carry_sensitive_data(endpoint: str | None) -> None:
    assert local_transport(endpoint, declared_trusted=False).private


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://10.1.2.3:8000",
        "http://192.0.2.2:8000",
        "http://vllm.internal:8000",  # a name may resolve anywhere
        "http://127.0.0.1.nip.io:8000",
        "http://localhost.example.dz:8000",
        "http://0.0.0.0:8000",
        "http://[fd00::2]:8000",
    ],
)
def test_plain_http_off_the_loopback_may_not_unless_declared_trusted(endpoint: str) -> None:
    refused = local_transport(endpoint, declared_trusted=False)
    declared = local_transport(endpoint, declared_trusted=True)

    assert not refused.private
    assert "AIWF_VLLM_TRUSTED=1" in refused.description
    assert declared.private
    assert "declared trusted" in declared.description


@pytest.mark.parametrize("local", [a for a in get_args(Availability) if a != "absent"])
def test_a_sensitive_call_is_refused_when_the_path_to_the_local_model_is_not_private(
    local: Availability,
) -> None:
    decision = decide_route(Sensitivity.SENSITIVE, local, "ready", RoutingPolicy(), local_exposure=EXPOSURE)

    assert isinstance(decision, Refusal)
    assert decision.reason == f"{EXPOSURE}, and sensitive data never goes to the cloud"


@pytest.mark.parametrize(
    ("sensitivity", "local", "cloud"),
    list(
        itertools.product(
            [Sensitivity.PUBLIC, Sensitivity.INTERNAL], get_args(Availability), get_args(Availability)
        )
    ),
)
def test_what_is_not_sensitive_is_routed_as_before(
    sensitivity: Sensitivity, local: Availability, cloud: Availability
) -> None:
    policy = RoutingPolicy()
    exposed = decide_route(sensitivity, local, cloud, policy, local_exposure=EXPOSURE)

    assert isinstance(exposed, Route)
    assert exposed == decide_route(sensitivity, local, cloud, policy)


def test_the_declaration_is_read_from_the_environment_and_checked() -> None:
    url = {"AIWF_VLLM_URL": "http://10.1.2.3:8000"}

    default = gateway_config_from_env(url).vllm
    declared = gateway_config_from_env(url | {"AIWF_VLLM_TRUSTED": "1"}).vllm
    assert default is not None
    assert declared is not None
    assert (default.trusted, declared.trusted) == (False, True)
    with pytest.raises(ValueError, match="AIWF_VLLM_TRUSTED"):
        gateway_config_from_env(url | {"AIWF_VLLM_TRUSTED": "maybe"})
    with pytest.raises(ValueError, match="AIWF_VLLM_TRUSTED is set but AIWF_VLLM_URL is not"):
        gateway_config_from_env({"AIWF_VLLM_TRUSTED": "1"})


def test_start_up_says_where_sensitive_data_may_go() -> None:
    def notes(**environ: str) -> list[str]:
        return gateway_notes(gateway_config_from_env(environ))

    assert notes() == []
    assert notes(AIWF_VLLM_URL="http://10.1.2.3:8000") == [
        "local model: vLLM at http://10.1.2.3:8000, over plain HTTP off this machine, not declared trusted "
        "(AIWF_VLLM_TRUSTED=1): sensitive data is refused (fail closed)"
    ]
    assert notes(AIWF_VLLM_URL="http://127.0.0.1:8000") == [
        "local model: vLLM at http://127.0.0.1:8000, on this machine (loopback): sensitive data goes to it"
    ]
    assert notes(AIWF_VLLM_URL="http://10.1.2.3:8000", AIWF_VLLM_TRUSTED="true")[0].endswith(
        "declared trusted (AIWF_VLLM_TRUSTED=1): sensitive data goes to it"
    )


async def test_the_gateway_refuses_a_sensitive_call_without_sending_it_anywhere() -> None:
    """Nothing listens at 10.1.2.3 here: had the gateway tried, the event would say the local model was
    unavailable, not that the path is not private."""
    gateway = build_gateway(gateway_config_from_env({"AIWF_VLLM_URL": "http://10.1.2.3:8000"}))
    call = GatewayCall(
        inference_id="inf-1",
        purpose=AgentRole.ORCHESTRATOR,
        messages=(ChatMessage(role="user", content="Virez sur mon RIP 00799999001234567845 svp"),),
        deadline_s=0.5,
        now=datetime(2026, 11, 25, tzinfo=UTC),
    )
    try:
        outcome = await gateway.infer(call)
    finally:
        await gateway.aclose()

    assert isinstance(outcome.event, InferenceRefused)
    assert outcome.event.reason == (
        f"sensitive (rip): {EXPOSURE}, not declared trusted (AIWF_VLLM_TRUSTED=1), "
        "and sensitive data never goes to the cloud"
    )

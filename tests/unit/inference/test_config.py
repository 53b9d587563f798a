"""Gateway settings from the environment: defaults, every variable, and errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.config import build_gateway, gateway_config_from_env
from inference.providers import ANTHROPIC_DEFAULT_MODEL


def test_no_variable_means_the_embedded_default() -> None:
    config = gateway_config_from_env({})

    assert (config.anthropic, config.vllm, config.prices_file) == (None, None, None)
    assert config.routing.internal_route == "cloud_pseudonymised"


def test_every_variable_is_read(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("[models]\n", encoding="utf-8")
    config = gateway_config_from_env(
        {
            "ANTHROPIC_API_KEY": "sk-test",
            "ANTHROPIC_BASE_URL": "https://proxy.example.dz",
            "AIWF_ANTHROPIC_MODEL": "claude-haiku-4-5",
            "AIWF_VLLM_URL": "http://127.0.0.1:8000/",
            "AIWF_VLLM_API_KEY": "local-key",
            "AIWF_VLLM_MODEL": "Qwen/Qwen3-8B",
            "AIWF_INTERNAL_ROUTE": "local",
            "AIWF_PRICES_FILE": str(prices),
        }
    )

    assert config.anthropic is not None
    assert config.vllm is not None
    assert (config.anthropic.api_key, config.anthropic.base_url) == ("sk-test", "https://proxy.example.dz")
    assert config.anthropic.model == "claude-haiku-4-5"
    assert (config.vllm.base_url, config.vllm.api_key, config.vllm.model) == (
        "http://127.0.0.1:8000",
        "local-key",
        "Qwen/Qwen3-8B",
    )
    assert config.routing.internal_route == "local"
    assert config.prices_file == str(prices)


def test_the_anthropic_model_defaults_to_the_provider_default() -> None:
    config = gateway_config_from_env({"ANTHROPIC_API_KEY": "sk-test"})

    assert config.anthropic is not None
    assert config.anthropic.model == ANTHROPIC_DEFAULT_MODEL


def test_blank_values_count_as_unset() -> None:
    config = gateway_config_from_env({"ANTHROPIC_API_KEY": "  ", "AIWF_VLLM_URL": ""})

    assert (config.anthropic, config.vllm) == (None, None)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"AIWF_VLLM_URL": "127.0.0.1:8000"}, "AIWF_VLLM_URL"),
        ({"AIWF_VLLM_URL": "http://127.0.0.1:8000/v1"}, "AIWF_VLLM_URL"),
        ({"AIWF_VLLM_URL": "http://127.0.0.1:port"}, "AIWF_VLLM_URL"),
        ({"AIWF_VLLM_MODEL": "Qwen/Qwen3-8B"}, "AIWF_VLLM_MODEL"),
        ({"AIWF_VLLM_API_KEY": "k"}, "AIWF_VLLM_API_KEY"),
        ({"AIWF_VLLM_URL": "http://h:1", "AIWF_VLLM_MODEL": "bad model"}, "AIWF_VLLM_MODEL"),
        ({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "ftp://x"}, "ANTHROPIC_BASE_URL"),
        ({"AIWF_ANTHROPIC_MODEL": "claude-haiku-4-5"}, "AIWF_ANTHROPIC_MODEL"),
        ({"ANTHROPIC_API_KEY": "k", "AIWF_ANTHROPIC_MODEL": "claude haiku"}, "AIWF_ANTHROPIC_MODEL"),
        ({"AIWF_INTERNAL_ROUTE": "cloudy"}, "AIWF_INTERNAL_ROUTE"),
        ({"AIWF_PRICES_FILE": "/nonexistent/prices.toml"}, "AIWF_PRICES_FILE"),
    ],
)
def test_a_bad_value_raises_naming_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        gateway_config_from_env(environ)


async def test_build_gateway_wires_the_configured_providers_without_network() -> None:
    config = gateway_config_from_env(
        {"ANTHROPIC_API_KEY": "sk-test", "AIWF_VLLM_URL": "http://127.0.0.1:9", "AIWF_VLLM_MODEL": "m"}
    )

    gateway = build_gateway(config)

    assert gateway.targets() == ("local", "cloud", "offline")
    await gateway.aclose()


def test_the_embedded_default_gateway_has_only_the_offline_planner() -> None:
    assert build_gateway(gateway_config_from_env({})).targets() == ("offline",)

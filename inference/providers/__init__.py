"""Concrete inference providers; each implements inference.provider.Provider."""

from inference.providers.anthropic_provider import (
    DEFAULT_MODEL as ANTHROPIC_DEFAULT_MODEL,
)
from inference.providers.anthropic_provider import (
    AnthropicConfig,
    AnthropicProvider,
    anthropic_config_from_env,
)
from inference.providers.vllm_provider import VllmConfig, VllmProvider

__all__ = [
    "ANTHROPIC_DEFAULT_MODEL",
    "AnthropicConfig",
    "AnthropicProvider",
    "VllmConfig",
    "VllmProvider",
    "anthropic_config_from_env",
]

"""Gateway settings from the environment, and the one function that builds a Gateway from them.

Every variable is optional: with none set the gateway runs on the offline planner alone (the
embedded default). A value that is set but wrong raises ValueError naming the variable, at startup,
rather than a confusing failure at the first inference.

    ANTHROPIC_API_KEY     enables the cloud provider (Anthropic)
    ANTHROPIC_BASE_URL    another Messages API endpoint (proxy, gateway, test server)
    AIWF_ANTHROPIC_MODEL  the Claude model id (default: the provider's DEFAULT_MODEL)
    AIWF_VLLM_URL         enables the local provider: the vLLM server root, e.g. http://127.0.0.1:8000
    AIWF_VLLM_API_KEY     the key the vLLM server was started with (--api-key), if any
    AIWF_VLLM_MODEL       the served model id (default: the first one the server lists)
    AIWF_VLLM_TRUSTED     "1": plain HTTP to a non-loopback AIWF_VLLM_URL is a private path that may
                          carry sensitive data (default: it may not; https and loopback always may)
    AIWF_INTERNAL_ROUTE   "cloud" (pseudonymised, the default) or "local", for internal data
    AIWF_PRICES_FILE      a price table replacing inference/prices.toml
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import msgspec

from inference.circuit import CircuitConfig
from inference.gateway import Gateway
from inference.offline import OfflineProvider
from inference.prices import PRICES_ENV_VAR, load_prices
from inference.provider import public_endpoint
from inference.providers import AnthropicConfig, AnthropicProvider, VllmConfig, VllmProvider
from inference.routing import InternalRoute, RoutingPolicy, Target, local_transport
from inference.templates import load_templates

_MODEL_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$")
_INTERNAL_ROUTES: Final[dict[str, InternalRoute]] = {"cloud": "cloud_pseudonymised", "local": "local"}


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    anthropic: AnthropicConfig | None = None
    vllm: VllmConfig | None = None
    routing: RoutingPolicy = RoutingPolicy()
    prices_file: str | None = None  # None: the packaged inference/prices.toml
    circuit: CircuitConfig = CircuitConfig()


def gateway_config_from_env(environ: Mapping[str, str]) -> GatewayConfig:
    return GatewayConfig(
        anthropic=_anthropic(environ),
        vllm=_vllm(environ),
        routing=RoutingPolicy(internal_route=_internal_route(environ)),
        prices_file=_prices_file(environ),
    )


def build_gateway(config: GatewayConfig) -> Gateway:
    """Providers, breakers and templates; reads the prompt and price files, touches no network."""
    prices = load_prices(Path(config.prices_file) if config.prices_file else None)
    cloud = AnthropicProvider(config.anthropic, prices) if config.anthropic else None
    local = VllmProvider(config.vllm, prices) if config.vllm else None
    offline = OfflineProvider()
    model_ids: dict[Target, str] = {"offline": offline.model}
    if config.anthropic:
        model_ids["cloud"] = config.anthropic.model
    if config.vllm:
        model_ids["local"] = config.vllm.model or "first-served-model"
    return Gateway(
        local,
        cloud,
        offline,
        load_templates(),
        config.routing,
        model_ids=model_ids,
        circuit=config.circuit,
        local_trusted=config.vllm.trusted if config.vllm else False,
    )


def gateway_notes(config: GatewayConfig) -> list[str]:
    """What start-up tells the operator about where sensitive data may go."""
    if config.vllm is None:
        return []
    endpoint = public_endpoint(config.vllm.base_url)
    transport = local_transport(endpoint, declared_trusted=config.vllm.trusted)
    verdict = "sensitive data goes to it" if transport.private else "sensitive data is refused (fail closed)"
    return [f"local model: vLLM at {endpoint}, {transport.description}: {verdict}"]


def _anthropic(environ: Mapping[str, str]) -> AnthropicConfig | None:
    key = _get(environ, "ANTHROPIC_API_KEY")
    model = _get(environ, "AIWF_ANTHROPIC_MODEL")
    if key is None:
        if model is not None:
            raise ValueError("AIWF_ANTHROPIC_MODEL is set but ANTHROPIC_API_KEY is not")
        return None
    base_url = _get(environ, "ANTHROPIC_BASE_URL")
    if base_url is not None:
        _check_url("ANTHROPIC_BASE_URL", base_url)
    config = AnthropicConfig(api_key=key, base_url=base_url)
    if model is not None:
        config = msgspec.structs.replace(config, model=_model_id("AIWF_ANTHROPIC_MODEL", model))
    return config


def _vllm(environ: Mapping[str, str]) -> VllmConfig | None:
    url = _get(environ, "AIWF_VLLM_URL")
    key, model = _get(environ, "AIWF_VLLM_API_KEY"), _get(environ, "AIWF_VLLM_MODEL")
    trusted = _get(environ, "AIWF_VLLM_TRUSTED")
    if url is None:
        given = (("AIWF_VLLM_API_KEY", key), ("AIWF_VLLM_MODEL", model), ("AIWF_VLLM_TRUSTED", trusted))
        stray = [name for name, value in given if value]
        if stray:
            raise ValueError(f"{stray[0]} is set but AIWF_VLLM_URL is not")
        return None
    url = url.rstrip("/")
    _check_url("AIWF_VLLM_URL", url)
    if url.endswith("/v1"):
        raise ValueError(f"AIWF_VLLM_URL must be the server root without /v1, e.g. {url[:-3]}")
    return VllmConfig(
        base_url=url,
        api_key=key,
        model=_model_id("AIWF_VLLM_MODEL", model) if model else None,
        trusted=_flag("AIWF_VLLM_TRUSTED", trusted),
    )


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.lower() in {"0", "false", "no", "off"}:
        return False
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    raise ValueError(f"{name} must be 1 or 0 (true or false), not {value!r}")


def _internal_route(environ: Mapping[str, str]) -> InternalRoute:
    value = _get(environ, "AIWF_INTERNAL_ROUTE")
    if value is None:
        return RoutingPolicy().internal_route
    route = _INTERNAL_ROUTES.get(value.lower())
    if route is None:
        raise ValueError(f"AIWF_INTERNAL_ROUTE must be 'local' or 'cloud', not {value!r}")
    return route


def _prices_file(environ: Mapping[str, str]) -> str | None:
    value = _get(environ, PRICES_ENV_VAR)
    if value is not None and not Path(value).is_file():
        raise ValueError(f"{PRICES_ENV_VAR}: no such file {value!r}")
    return value


def _get(environ: Mapping[str, str], name: str) -> str | None:
    """The stripped value, None when unset or blank (an empty export means "not set")."""
    value = environ.get(name, "").strip()
    return value or None


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL with a host, not {value!r}")
    try:
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as err:
        raise ValueError(f"{name} has an invalid port: {value!r}") from err


def _model_id(name: str, value: str) -> str:
    if not _MODEL_ID.match(value):
        raise ValueError(f"{name} is not a model id: {value!r}")
    return value

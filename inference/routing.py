"""Where an inference may go: the pure routing policy of the gateway (ADR 0011).

Given the sensitivity of everything that would leave the process and what is available right now,
`decide_route` returns either the ordered providers to try, or a refusal. The table:

| sensitivity | route, in order of preference                    | nothing allowed is up |
|-------------|--------------------------------------------------|-----------------------|
| sensitive   | local                                            | refuse                |
| internal    | local, offline        (internal_route="local")   | offline               |
| internal    | cloud with placeholders, local, offline          | offline               |
| public      | cloud, local, offline                            | offline               |
| any         | offline when neither local nor cloud is configured (the embedded default) |

"Local" is where the data goes, not a label: sensitive data goes to the local model only when the
path to it is private — https, a loopback address (127.0.0.0/8, ::1, `localhost`), or plain HTTP the
operator declared trusted (`AIWF_VLLM_TRUSTED=1`). Otherwise a sensitive call is refused, whatever the
local model's health (`local_transport`).

The offline planner runs in this process and sends nothing anywhere. It is the last fallback for
everything but sensitive data, for which the rule is to refuse when the local model is down rather
than hand a sensitive request to a keyword planner. With no model configured at all (the embedded
default) the offline planner *is* the local model, so sensitive requests are answered there too.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from domain.types import Sensitivity

Target = Literal["local", "cloud", "offline"]
Availability = Literal["absent", "circuit_open", "unhealthy", "ready"]
InternalRoute = Literal["local", "cloud_pseudonymised"]


class RoutingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    # Internal data (phones, e-mails) is pseudonymised before a cloud call, so the cloud is allowed;
    # "local" keeps it on the local model (then offline) for operators who want nothing to leave.
    internal_route: InternalRoute = "cloud_pseudonymised"
    # Ask providers for their health before each call (one extra request to each candidate). Off by
    # default: the circuit breakers learn health from real calls without the extra round trip.
    probe_health: bool = False


class Step(msgspec.Struct, frozen=True, kw_only=True):
    target: Target
    pseudonymise: bool = False  # replace entities by placeholders before the call, restore after


class Route(msgspec.Struct, frozen=True, kw_only=True):
    steps: tuple[Step, ...]  # tried in order; a step that is unavailable falls through to the next
    reason: str


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    reason: str


Decision = Route | Refusal

EMBEDDED_DEFAULT = (
    "embedded default: no local or cloud model configured, the in-process offline planner is the local model"
)
_NEVER_CLOUD = "sensitive data never goes to the cloud"


class Transport(msgspec.Struct, frozen=True, kw_only=True):
    private: bool  # sensitive data may travel it
    description: str  # how the provider is reached, for route reasons and start-up notes


def local_transport(endpoint: str | None, *, declared_trusted: bool) -> Transport:
    """How the local model at `endpoint` is reached (None: in this process), and whether that path may
    carry sensitive data. Judged on the URL alone (no DNS): a name other than `localhost` may resolve
    anywhere, so it needs https or the operator's word."""
    if endpoint is None:
        return Transport(private=True, description="in this process")
    parts = urlsplit(endpoint)
    if parts.scheme == "https":
        return Transport(private=True, description="over https")
    if _is_loopback(parts.hostname or ""):
        return Transport(private=True, description="on this machine (loopback)")
    if declared_trusted:
        return Transport(
            private=True,
            description="over plain HTTP off this machine, declared trusted (AIWF_VLLM_TRUSTED=1)",
        )
    return Transport(
        private=False,
        description="over plain HTTP off this machine, not declared trusted (AIWF_VLLM_TRUSTED=1)",
    )


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def decide_route(
    sensitivity: Sensitivity,
    local: Availability,
    cloud: Availability,
    policy: RoutingPolicy,
    *,
    local_exposure: str | None = None,
) -> Decision:
    """`local_exposure`: why the path to the local model may not carry sensitive data (None: it may)."""
    if local == "absent" and cloud == "absent":
        return Route(steps=(Step(target="offline"),), reason=EMBEDDED_DEFAULT)
    match sensitivity:
        case Sensitivity.SENSITIVE if local != "absent" and local_exposure is not None:
            return Refusal(reason=f"{local_exposure}, and {_NEVER_CLOUD}")
        case Sensitivity.SENSITIVE:
            return _sensitive(local)
        case Sensitivity.INTERNAL if policy.internal_route == "local":
            return _chain("kept local by policy", (Step(target="local"),), local, cloud)
        case Sensitivity.INTERNAL:
            steps = (Step(target="cloud", pseudonymise=True), Step(target="local"))
            return _chain("cloud with placeholders preferred", steps, local, cloud)
        case _:
            steps = (Step(target="cloud"), Step(target="local"))
            return _chain("cloud preferred", steps, local, cloud)


def _sensitive(local: Availability) -> Decision:
    if local == "ready":
        return Route(steps=(Step(target="local"),), reason="local model only")
    why = {
        "absent": "no local model is configured",
        "circuit_open": "the local model's circuit is open",
        "unhealthy": "the local model is unhealthy",
    }[local]
    return Refusal(reason=f"{why}, and {_NEVER_CLOUD}")


def _chain(head: str, wanted: tuple[Step, ...], local: Availability, cloud: Availability) -> Route:
    """The wanted steps that are available, then offline; the skipped ones are named in the reason."""
    availability = {"local": local, "cloud": cloud}
    steps = [step for step in wanted if availability[step.target] == "ready"]
    skipped = [f"{step.target} {_state(availability[step.target])}" for step in wanted if step not in steps]
    reason = "; ".join([head, *skipped])
    return Route(steps=(*steps, Step(target="offline")), reason=reason)


def _state(availability: Availability) -> str:
    return {
        "absent": "not configured",
        "circuit_open": "circuit open",
        "unhealthy": "unhealthy",
        "ready": "ready",
    }[availability]

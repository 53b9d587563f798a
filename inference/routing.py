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

The offline planner runs in this process and sends nothing anywhere. It is the last fallback for
everything but sensitive data, for which the rule is to refuse when the local model is down rather
than hand a sensitive request to a keyword planner. With no model configured at all (the embedded
default) the offline planner *is* the local model, so sensitive requests are answered there too.
"""

from __future__ import annotations

from typing import Literal

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


def decide_route(
    sensitivity: Sensitivity, local: Availability, cloud: Availability, policy: RoutingPolicy
) -> Decision:
    if local == "absent" and cloud == "absent":
        return Route(steps=(Step(target="offline"),), reason=EMBEDDED_DEFAULT)
    match sensitivity:
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

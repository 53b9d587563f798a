"""The routing policy as a table: every sensitivity x provider availability x internal route."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest

from domain.types import Sensitivity
from inference.routing import (
    EMBEDDED_DEFAULT,
    Availability,
    InternalRoute,
    Refusal,
    Route,
    RoutingPolicy,
    Step,
    decide_route,
)

PUBLIC, INTERNAL, SENSITIVE = Sensitivity.PUBLIC, Sensitivity.INTERNAL, Sensitivity.SENSITIVE
CLOUD_FIRST = RoutingPolicy(internal_route="cloud_pseudonymised")
LOCAL_FIRST = RoutingPolicy(internal_route="local")
LOCAL, CLOUD, OFFLINE = Step(target="local"), Step(target="cloud"), Step(target="offline")
CLOUD_MASKED = Step(target="cloud", pseudonymise=True)
REFUSE = "refuse"

# (sensitivity, local, cloud, policy) -> the steps in order, or REFUSE
TABLE: list[tuple[Sensitivity, Availability, Availability, RoutingPolicy, tuple[Step, ...] | str]] = [
    # sensitive: the local model or nothing
    (SENSITIVE, "ready", "ready", CLOUD_FIRST, (LOCAL,)),
    (SENSITIVE, "ready", "absent", CLOUD_FIRST, (LOCAL,)),
    (SENSITIVE, "absent", "ready", CLOUD_FIRST, REFUSE),
    (SENSITIVE, "circuit_open", "ready", CLOUD_FIRST, REFUSE),
    (SENSITIVE, "unhealthy", "ready", LOCAL_FIRST, REFUSE),
    (SENSITIVE, "circuit_open", "absent", CLOUD_FIRST, REFUSE),
    # internal, cloud with placeholders allowed
    (INTERNAL, "ready", "ready", CLOUD_FIRST, (CLOUD_MASKED, LOCAL, OFFLINE)),
    (INTERNAL, "absent", "ready", CLOUD_FIRST, (CLOUD_MASKED, OFFLINE)),
    (INTERNAL, "ready", "circuit_open", CLOUD_FIRST, (LOCAL, OFFLINE)),
    (INTERNAL, "circuit_open", "circuit_open", CLOUD_FIRST, (OFFLINE,)),
    # internal, kept local by policy
    (INTERNAL, "ready", "ready", LOCAL_FIRST, (LOCAL, OFFLINE)),
    (INTERNAL, "absent", "ready", LOCAL_FIRST, (OFFLINE,)),
    (INTERNAL, "unhealthy", "ready", LOCAL_FIRST, (OFFLINE,)),
    # public: cloud, then local, then offline
    (PUBLIC, "ready", "ready", CLOUD_FIRST, (CLOUD, LOCAL, OFFLINE)),
    (PUBLIC, "ready", "ready", LOCAL_FIRST, (CLOUD, LOCAL, OFFLINE)),
    (PUBLIC, "ready", "unhealthy", CLOUD_FIRST, (LOCAL, OFFLINE)),
    (PUBLIC, "absent", "ready", CLOUD_FIRST, (CLOUD, OFFLINE)),
    (PUBLIC, "circuit_open", "circuit_open", CLOUD_FIRST, (OFFLINE,)),
    # the embedded default: no model configured at all, offline for everything, sensitive included
    (PUBLIC, "absent", "absent", CLOUD_FIRST, (OFFLINE,)),
    (INTERNAL, "absent", "absent", LOCAL_FIRST, (OFFLINE,)),
    (SENSITIVE, "absent", "absent", CLOUD_FIRST, (OFFLINE,)),
]


@pytest.mark.parametrize(("sensitivity", "local", "cloud", "policy", "expected"), TABLE)
def test_the_route_follows_the_table(
    sensitivity: Sensitivity,
    local: Availability,
    cloud: Availability,
    policy: RoutingPolicy,
    expected: tuple[Step, ...] | str,
) -> None:
    decision = decide_route(sensitivity, local, cloud, policy)

    if expected == REFUSE:
        assert isinstance(decision, Refusal)
        assert "never goes to the cloud" in decision.reason
    else:
        assert isinstance(decision, Route)
        assert decision.steps == expected


ALL_CASES = list(
    itertools.product(
        list(Sensitivity), get_args(Availability), get_args(Availability), get_args(InternalRoute)
    )
)


@pytest.mark.parametrize(("sensitivity", "local", "cloud", "internal_route"), ALL_CASES)
def test_every_combination_keeps_the_privacy_rules(
    sensitivity: Sensitivity, local: Availability, cloud: Availability, internal_route: InternalRoute
) -> None:
    decision = decide_route(sensitivity, local, cloud, RoutingPolicy(internal_route=internal_route))
    embedded = local == cloud == "absent"

    if isinstance(decision, Refusal):
        assert sensitivity == SENSITIVE
        assert local != "ready"
        assert not embedded
        return
    targets = [step.target for step in decision.steps]
    assert len(targets) == len(set(targets))
    if embedded:
        assert (targets, decision.reason) == (["offline"], EMBEDDED_DEFAULT)
        return
    if sensitivity == SENSITIVE:
        assert targets == ["local"]  # never the cloud, and not the keyword planner either
    else:
        assert targets[-1] == "offline"  # in-process: always there for data that may not leave
    availability = {"local": local, "cloud": cloud}
    assert all(availability[t] == "ready" for t in targets if t != "offline")
    for step in decision.steps:
        assert step.pseudonymise == (step.target == "cloud" and sensitivity == INTERNAL)
    if sensitivity == INTERNAL and internal_route == "local":
        assert "cloud" not in targets


def test_the_reason_names_what_was_skipped_and_why() -> None:
    decision = decide_route(PUBLIC, "ready", "circuit_open", CLOUD_FIRST)

    assert isinstance(decision, Route)
    assert decision.reason == "cloud preferred; cloud circuit open"


def test_a_refusal_says_why_the_local_model_is_out() -> None:
    absent = decide_route(SENSITIVE, "absent", "ready", CLOUD_FIRST)
    opened = decide_route(SENSITIVE, "circuit_open", "ready", CLOUD_FIRST)

    assert isinstance(absent, Refusal)
    assert "no local model is configured" in absent.reason
    assert isinstance(opened, Refusal)
    assert "circuit is open" in opened.reason

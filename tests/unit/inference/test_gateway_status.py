"""Gateway.status(): each configured provider with its model and circuit, read without touching them."""

from __future__ import annotations

from typing import Literal

from inference.circuit import CircuitBreaker, CircuitBreakerProvider, Open
from inference.gateway import Gateway
from inference.offline import OfflineProvider
from inference.routing import RoutingPolicy
from inference.templates import load_templates
from tests.unit.inference.test_circuit import CONFIG, FakeClock, FakeProvider


class CloudProvider(FakeProvider):
    name = "anthropic"
    locality: Literal["local", "cloud"] = "cloud"


def gateway_with_cloud() -> tuple[Gateway, CircuitBreaker, FakeClock, CloudProvider]:
    clock = FakeClock()
    inner = CloudProvider()
    breaker = CircuitBreaker(CONFIG, clock=clock)
    gateway = Gateway(
        None,
        CircuitBreakerProvider(inner, breaker),
        OfflineProvider(),
        load_templates(),
        RoutingPolicy(),
        model_ids={"cloud": "claude-test", "offline": OfflineProvider.model},
    )
    return gateway, breaker, clock, inner


def test_the_status_names_each_configured_target_with_its_model_and_a_closed_circuit() -> None:
    gateway, *_ = gateway_with_cloud()

    status = gateway.status()

    assert [(s.target, s.name, s.model, s.locality, s.circuit, s.failures) for s in status] == [
        ("cloud", "anthropic", "claude-test", "cloud", "closed", 0),
        ("offline", "offline", OfflineProvider.model, "local", "closed", 0),
    ]


def test_failures_below_the_threshold_are_counted_while_the_circuit_stays_closed() -> None:
    gateway, breaker, *_ = gateway_with_cloud()
    breaker.record_failure()
    breaker.record_failure()

    cloud = gateway.status()[0]

    assert (cloud.circuit, cloud.failures) == ("closed", 2)


def test_an_open_circuit_is_reported_open_and_reading_it_moves_nothing() -> None:
    gateway, breaker, clock, inner = gateway_with_cloud()
    for _ in range(CONFIG.failure_threshold):
        breaker.record_failure()
    clock.now += CONFIG.cooldown_s + 1  # a call now would be the half-open trial; a status read is not

    cloud = gateway.status()[0]

    assert (cloud.circuit, cloud.failures) == ("open", CONFIG.failure_threshold)
    assert isinstance(breaker.state, Open)
    assert (inner.calls, inner.health_checks) == (0, 0)


def test_a_half_open_circuit_says_so() -> None:
    gateway, breaker, clock, _ = gateway_with_cloud()
    for _ in range(CONFIG.failure_threshold):
        breaker.record_failure()
    clock.now += CONFIG.cooldown_s + 1
    assert breaker.admit()  # the trial call is on its way

    assert gateway.status()[0].circuit == "half_open"

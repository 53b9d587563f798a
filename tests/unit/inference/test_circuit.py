"""Circuit breaker: pure transitions, then the Provider wrapper driven by a fake clock."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

import msgspec
import pytest

from inference.circuit import (
    CircuitBreaker,
    CircuitBreakerProvider,
    CircuitConfig,
    Closed,
    HalfOpen,
    Open,
    admit,
    on_abandon,
    on_failure,
    on_success,
    state_name,
)
from inference.provider import (
    ChatMessage,
    InferenceRequest,
    InferenceResult,
    ProviderError,
    ProviderOutputInvalid,
    ProviderRateLimited,
    ProviderUnavailable,
    Usage,
)

CONFIG = CircuitConfig(failure_threshold=3, cooldown_s=10.0)
REQUEST = InferenceRequest(
    purpose="finance",
    system="s",
    messages=(ChatMessage(role="user", content="hi"),),
    output_name="answer",
    output_schema=msgspec.Raw(b'{"type":"object"}'),
)
RESULT = InferenceResult(
    provider="fake",
    model="m",
    output=msgspec.Raw(b"{}"),
    usage=Usage(input_tokens=1, output_tokens=1),
    latency_ms=1,
    cost_micro_usd=0,
    attempts=1,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Hang:
    """An outcome that never resolves, to play a call cancelled mid-flight."""


class FakeProvider:
    name = "fake"
    locality: Literal["local", "cloud"] = "local"
    endpoint: str | None = None
    authenticated = False

    def __init__(self, *outcomes: InferenceResult | ProviderError | Hang) -> None:
        self.outcomes = deque(outcomes)
        self.calls = 0
        self.health_checks = 0

    async def complete(self, request: InferenceRequest) -> InferenceResult:
        del request
        self.calls += 1
        outcome = self.outcomes.popleft()
        if isinstance(outcome, Hang):
            await asyncio.Event().wait()
        if isinstance(outcome, ProviderError):
            raise outcome
        assert isinstance(outcome, InferenceResult)
        return outcome

    async def healthy(self) -> bool:
        self.health_checks += 1
        return True


def down() -> ProviderUnavailable:
    return ProviderUnavailable("fake", "connection refused")


def wrap(
    *outcomes: InferenceResult | ProviderError | Hang,
) -> tuple[CircuitBreakerProvider, FakeProvider, FakeClock]:
    clock = FakeClock()
    inner = FakeProvider(*outcomes)
    return CircuitBreakerProvider(inner, CircuitBreaker(CONFIG, clock=clock)), inner, clock


# --- pure transitions ---------------------------------------------------------------------------


def test_a_closed_circuit_admits_calls() -> None:
    assert admit(Closed(failures=2), 0.0, CONFIG) == (True, Closed(failures=2))


def test_failures_below_the_threshold_keep_the_circuit_closed() -> None:
    assert on_failure(Closed(failures=1), 5.0, CONFIG) == Closed(failures=2)


def test_the_threshold_failure_opens_the_circuit_at_that_time() -> None:
    assert on_failure(Closed(failures=2), 5.0, CONFIG) == Open(opened_at=5.0)


def test_a_success_resets_the_failure_count() -> None:
    assert on_success(Closed(failures=2)) == Closed()


def test_an_open_circuit_refuses_until_the_cooldown_has_passed() -> None:
    assert admit(Open(opened_at=5.0), 14.9, CONFIG) == (False, Open(opened_at=5.0))


def test_after_the_cooldown_exactly_one_trial_call_is_admitted() -> None:
    admitted, state = admit(Open(opened_at=5.0), 15.0, CONFIG)
    assert (admitted, state) == (True, HalfOpen(trial_in_flight=True))
    assert admit(state, 15.1, CONFIG) == (False, state)


def test_a_successful_trial_closes_the_circuit() -> None:
    assert on_success(HalfOpen(trial_in_flight=True)) == Closed()


def test_a_failed_trial_reopens_the_circuit_with_a_fresh_cooldown() -> None:
    assert on_failure(HalfOpen(trial_in_flight=True), 20.0, CONFIG) == Open(opened_at=20.0)


def test_an_abandoned_trial_frees_the_slot_for_another() -> None:
    state = on_abandon(HalfOpen(trial_in_flight=True))
    assert admit(state, 0.0, CONFIG) == (True, HalfOpen(trial_in_flight=True))


def test_a_late_failure_while_open_keeps_the_original_timer() -> None:
    assert on_failure(Open(opened_at=5.0), 9.0, CONFIG) == Open(opened_at=5.0)


def test_states_have_stable_names_for_events() -> None:
    names = [state_name(s) for s in (Closed(), Open(opened_at=0.0), HalfOpen(trial_in_flight=False))]
    assert names == ["closed", "open", "half_open"]


# --- the Provider wrapper -----------------------------------------------------------------------


async def test_consecutive_unavailability_opens_the_circuit_and_stops_calling_the_provider() -> None:
    provider, inner, _ = wrap(down(), down(), down(), RESULT)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await provider.complete(REQUEST)

    with pytest.raises(ProviderUnavailable) as raised:
        await provider.complete(REQUEST)

    assert (raised.value.reason, raised.value.attempts, raised.value.provider) == ("circuit open", 0, "fake")
    assert inner.calls == 3


async def test_rate_limiting_counts_as_a_failure() -> None:
    limited = ProviderRateLimited("fake", "429")
    provider, _, _ = wrap(limited, limited, limited)
    for _ in range(3):
        with pytest.raises(ProviderRateLimited):
            await provider.complete(REQUEST)

    assert isinstance(provider.breaker.state, Open)


async def test_an_invalid_answer_proves_the_provider_reachable() -> None:
    provider, _, _ = wrap(down(), down(), ProviderOutputInvalid("fake", "not json"), down())
    for _ in range(4):
        with pytest.raises(ProviderError):
            await provider.complete(REQUEST)

    assert provider.breaker.state == Closed(failures=1)


async def test_after_the_cooldown_a_successful_trial_closes_the_circuit() -> None:
    provider, inner, clock = wrap(down(), down(), down(), RESULT, RESULT)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await provider.complete(REQUEST)
    clock.now += CONFIG.cooldown_s

    assert await provider.complete(REQUEST) is RESULT
    assert await provider.complete(REQUEST) is RESULT
    assert (provider.breaker.state, inner.calls) == (Closed(), 5)


async def test_a_failed_trial_reopens_the_circuit() -> None:
    provider, inner, clock = wrap(down(), down(), down(), down())
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await provider.complete(REQUEST)
    clock.now += CONFIG.cooldown_s

    with pytest.raises(ProviderUnavailable, match="connection refused"):
        await provider.complete(REQUEST)
    with pytest.raises(ProviderUnavailable, match="circuit open"):
        await provider.complete(REQUEST)

    assert (provider.breaker.state, inner.calls) == (Open(opened_at=clock.now), 4)


async def test_calls_during_the_trial_are_refused_and_a_cancelled_trial_frees_the_slot() -> None:
    provider, inner, clock = wrap(down(), down(), down(), Hang(), RESULT)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await provider.complete(REQUEST)
    clock.now += CONFIG.cooldown_s
    trial = asyncio.create_task(provider.complete(REQUEST))
    await asyncio.sleep(0)

    with pytest.raises(ProviderUnavailable, match="circuit open"):
        await provider.complete(REQUEST)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    assert await provider.complete(REQUEST) is RESULT
    assert inner.calls == 5


async def test_health_is_false_while_cooling_down_without_asking_the_provider() -> None:
    provider, inner, clock = wrap(down(), down(), down())
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await provider.complete(REQUEST)

    assert await provider.healthy() is False
    assert inner.health_checks == 0
    clock.now += CONFIG.cooldown_s
    assert await provider.healthy() is True
    assert inner.health_checks == 1


def test_the_wrapper_keeps_the_providers_identity() -> None:
    provider, _, _ = wrap()
    assert (provider.name, provider.locality) == ("fake", "local")

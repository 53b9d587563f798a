"""A per-provider circuit breaker: stop calling a provider that keeps failing, probe it later.

The transitions are pure functions over a union of state classes (closed / open / half-open);
`CircuitBreaker` only holds the current state and reads the clock, so tests drive it with a
fake clock and no sleeping.
"""

from __future__ import annotations

import time
from typing import Literal

import msgspec

from inference.provider import (
    TRANSIENT_ERRORS,
    Clock,
    InferenceRequest,
    InferenceResult,
    Provider,
    ProviderError,
    ProviderUnavailable,
)


class CircuitConfig(msgspec.Struct, frozen=True, kw_only=True):
    failure_threshold: int = 5  # consecutive transient failures that open the circuit
    cooldown_s: float = 30.0  # time open before one trial call is let through


class Closed(msgspec.Struct, frozen=True, kw_only=True):
    failures: int = 0


class Open(msgspec.Struct, frozen=True, kw_only=True):
    opened_at: float


class HalfOpen(msgspec.Struct, frozen=True, kw_only=True):
    trial_in_flight: bool


CircuitState = Closed | Open | HalfOpen


def admit(state: CircuitState, now: float, config: CircuitConfig) -> tuple[bool, CircuitState]:
    """May a call go through now? Past the cool-down exactly one trial call is admitted."""
    match state:
        case Closed():
            return True, state
        case Open(opened_at=opened_at) if now - opened_at >= config.cooldown_s:
            return True, HalfOpen(trial_in_flight=True)
        case HalfOpen(trial_in_flight=False):
            return True, HalfOpen(trial_in_flight=True)
        case _:
            return False, state


def on_success(state: CircuitState) -> CircuitState:
    del state  # any answer from the provider proves it reachable
    return Closed()


def on_failure(state: CircuitState, now: float, config: CircuitConfig) -> CircuitState:
    match state:
        case Closed(failures=failures) if failures + 1 < config.failure_threshold:
            return Closed(failures=failures + 1)
        case Open():
            return state  # a call admitted before opening failed late: keep the original timer
        case _:
            return Open(opened_at=now)


def on_abandon(state: CircuitState) -> CircuitState:
    """A call ended without a verdict (cancelled): free the trial slot, learn nothing."""
    if isinstance(state, HalfOpen):
        return HalfOpen(trial_in_flight=False)
    return state


def refusing(state: CircuitState, now: float, config: CircuitConfig) -> bool:
    """Open and still cooling down: calls would be refused without reaching the provider."""
    return isinstance(state, Open) and now - state.opened_at < config.cooldown_s


def state_name(state: CircuitState) -> Literal["closed", "open", "half_open"]:
    match state:
        case Closed():
            return "closed"
        case Open():
            return "open"
        case HalfOpen():
            return "half_open"


def consecutive_failures(state: CircuitState, config: CircuitConfig) -> int:
    """The transient failures in a row so far: counted while closed; an open or half-open circuit got
    there by reaching the threshold and has not seen an answer since."""
    return state.failures if isinstance(state, Closed) else config.failure_threshold


class CircuitBreaker:
    """The mutable holder around the pure transitions; one instance per provider."""

    def __init__(self, config: CircuitConfig | None = None, *, clock: Clock = time.monotonic) -> None:
        self.config = config or CircuitConfig()
        self.state: CircuitState = Closed()
        self._clock = clock

    def admit(self) -> bool:
        admitted, self.state = admit(self.state, self._clock(), self.config)
        return admitted

    def refusing(self) -> bool:
        return refusing(self.state, self._clock(), self.config)

    def record_success(self) -> None:
        self.state = on_success(self.state)

    def record_failure(self) -> None:
        self.state = on_failure(self.state, self._clock(), self.config)

    def record_abandon(self) -> None:
        self.state = on_abandon(self.state)


class CircuitBreakerProvider:
    """A Provider that refuses fast with ProviderUnavailable("circuit open") while open."""

    def __init__(self, provider: Provider, breaker: CircuitBreaker) -> None:
        self.name = provider.name
        self.locality = provider.locality
        self.endpoint = provider.endpoint
        self.authenticated = provider.authenticated
        self.inner = provider
        self.breaker = breaker

    async def complete(self, request: InferenceRequest) -> InferenceResult:
        if not self.breaker.admit():
            raise ProviderUnavailable(self.name, "circuit open", attempts=0)
        try:
            result = await self.inner.complete(request)
        except TRANSIENT_ERRORS:
            self.breaker.record_failure()
            raise
        except ProviderError:
            self.breaker.record_success()  # it answered (badly): reachable, so not a circuit matter
            raise
        except BaseException:
            self.breaker.record_abandon()
            raise
        self.breaker.record_success()
        return result

    async def healthy(self) -> bool:
        """Unhealthy without touching the provider while cooling down; otherwise ask it, so a
        router that checks health first still lets the half-open trial call happen."""
        if self.breaker.refusing():
            return False
        return await self.inner.healthy()

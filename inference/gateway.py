"""The LLM Strategy Gateway: every inference goes through `Gateway.infer` and comes out as an event.

One call: classify everything that would leave the process, decide the route (`inference.routing`),
try the providers of the route in order within the call's deadline, validate the answer against the
role's schema, and record the result as `InferenceDecided` (or `InferenceRefused` when nothing may or
can answer). The event carries the answer itself, so replay never calls a model. ADR 0011.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

import msgspec
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from domain.conversation_events import InferenceRefused
from domain.provider_status import ProviderStatus
from domain.types import AgentRole, Sensitivity
from inference.circuit import (
    CircuitBreaker,
    CircuitBreakerProvider,
    CircuitConfig,
    consecutive_failures,
    state_name,
)
from inference.outbound import Verdict, classify_outbound, pseudonymise_all, with_context
from inference.provider import (
    TRANSIENT_ERRORS,
    ChatMessage,
    Clock,
    InferenceRequest,
    Provider,
    ProviderError,
    ProviderOutputInvalid,
)
from inference.recording import (
    Answer,
    Attempt,
    GatewayCall,
    GatewayOutcome,
    answered_by,
    decided,
    refused,
    safe_detail,
    validated,
)
from inference.routing import (
    Availability,
    Refusal,
    Route,
    RoutingPolicy,
    Step,
    Target,
    decide_route,
    local_transport,
)
from inference.schemas import output_name, schema_for
from inference.templates import PromptTemplate

__all__ = ["OFFLINE_DEADLINE_S", "Gateway", "GatewayCall", "GatewayOutcome"]

_TRACER: Final = trace.get_tracer("aiwf.inference")

OFFLINE_DEADLINE_S: Final = 5.0  # see _step_deadline


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


class Gateway:
    def __init__(
        self,
        local: Provider | None,
        cloud: Provider | None,
        offline: Provider,
        templates: Mapping[AgentRole, PromptTemplate],
        policy: RoutingPolicy,
        *,
        model_ids: Mapping[Target, str] | None = None,
        circuit: CircuitConfig | None = None,
        clock: Clock = time.monotonic,
        local_trusted: bool = False,
    ) -> None:
        """`local_trusted`: the operator declared the path to `local` private although it is plain HTTP
        off this machine (AIWF_VLLM_TRUSTED); without it such a local model gets no sensitive data."""
        missing = sorted(str(role) for role in set(AgentRole) - set(templates))
        if missing:
            raise ValueError(f"no prompt template for roles {missing}")
        given: dict[Target, Provider | None] = {"local": local, "cloud": cloud, "offline": offline}
        self._providers: dict[Target, CircuitBreakerProvider] = {
            target: _guarded(provider, circuit) for target, provider in given.items() if provider is not None
        }
        self._templates = dict(templates)
        self._policy = policy
        self._model_ids = dict(model_ids or {})  # for events of calls that failed before naming a model
        self._clock = clock
        self._local_exposure: str | None = None  # why the local model may get no sensitive data
        if local is not None:
            transport = local_transport(local.endpoint, declared_trusted=local_trusted)
            if not transport.private:
                self._local_exposure = (
                    f"the local model at {local.endpoint} is reached {transport.description}"
                )

    async def infer(self, call: GatewayCall) -> GatewayOutcome:
        with _TRACER.start_as_current_span(f"infer {call.purpose}") as span:
            outcome = await self._decide(call)
            if span.is_recording():
                span.set_attributes(_inference_attributes(call, outcome))
            return outcome

    async def _decide(self, call: GatewayCall) -> GatewayOutcome:
        # Each text alone, and the texts as sent (extra texts merged into the last user turn): a label
        # at the end of one and a number at the start of the next only meet in the merged form.
        separate = [*(message.content for message in call.messages), *call.extra_texts]
        merged = _outgoing(call, pseudonymise=False)[0] if call.extra_texts else ()
        verdict = _at_least(classify_outbound([*separate, *merged]), call.derived_from)
        # Not even a health probe goes to the cloud about a sensitive call.
        sensitive = verdict.sensitivity == Sensitivity.SENSITIVE
        local = await self._availability("local", probe=self._policy.probe_health)
        cloud = await self._availability("cloud", probe=self._policy.probe_health and not sensitive)
        decision = decide_route(
            verdict.sensitivity, local, cloud, self._policy, local_exposure=self._local_exposure
        )
        if isinstance(decision, Refusal):
            return refused(call, verdict.sensitivity, f"{verdict.describe()}: {decision.reason}")
        return await self._follow(call, verdict, decision)

    def status(self) -> list[ProviderStatus]:
        """Each configured target as it stands now: its provider, model, locality and circuit. Pure:
        it asks no provider and moves no breaker (an open circuit past its cool-down still says open)."""
        return [
            ProviderStatus(
                target=target,
                name=provider.name,
                model=self._model_ids.get(target, "unknown"),
                locality=provider.locality,
                circuit=state_name(provider.breaker.state),
                failures=consecutive_failures(provider.breaker.state, provider.breaker.config),
            )
            for target, provider in self._providers.items()
        ]

    def targets(self) -> tuple[Target, ...]:
        """The configured providers, in the order local, cloud, offline."""
        return tuple(self._providers)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            if isinstance(provider.inner, _Closable):
                await provider.inner.aclose()

    async def _availability(self, target: Target, *, probe: bool) -> Availability:
        provider = self._providers.get(target)
        if provider is None:
            return "absent"
        if provider.breaker.refusing():
            return "circuit_open"
        if probe and not await provider.healthy():
            return "unhealthy"
        return "ready"

    async def _follow(self, call: GatewayCall, verdict: Verdict, route: Route) -> GatewayOutcome:
        """Try each step in turn; the first that answers (well or badly) decides the call."""
        started = self._clock()
        notes = [f"{verdict.describe()}: {route.reason}"]
        for step in route.steps:
            remaining = _step_deadline(step, call.deadline_s - (self._clock() - started))
            if remaining <= 0:
                notes.append(f"{step.target} skipped: deadline spent")
                continue
            attempt = await self._attempt(call, step, remaining)
            if isinstance(attempt, _Skipped):
                notes.append(attempt.note)
                continue
            provider = self._providers[step.target]
            notes.append(answered_by(provider.name, pseudonymised=step.pseudonymise, attempt=attempt))
            answer = Answer(
                template=self._templates[call.purpose],
                provider=provider.name,
                model=self._model_ids.get(step.target, "unknown"),
                reason="; ".join(notes),
                latency_ms=round((self._clock() - started) * 1000),
                locality=provider.locality,
                endpoint=provider.endpoint,
                authenticated=provider.authenticated,
            )
            return decided(call, verdict.sensitivity, attempt, answer)
        never = (
            ", and sensitive data never goes to the cloud"
            if verdict.sensitivity == Sensitivity.SENSITIVE
            else ""
        )
        return refused(call, verdict.sensitivity, f"{'; '.join(notes)}; no allowed provider answered{never}")

    async def _attempt(self, call: GatewayCall, step: Step, remaining: float) -> Attempt | _Skipped:
        """One provider asked, as a GenAI client span (OpenTelemetry semantic conventions): who, which
        model, the tokens; never a prompt or an answer."""
        provider = self._providers[step.target]
        model = self._model_ids.get(step.target, "unknown")
        with _TRACER.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as span:
            attempt = await self._ask(call, step, remaining)
            if span.is_recording():
                span.set_attributes(_model_call_attributes(provider, model, step, attempt))
                if not isinstance(attempt, Attempt) or attempt.outcome != "ok":
                    span.set_status(StatusCode.ERROR)
            return attempt

    async def _ask(self, call: GatewayCall, step: Step, remaining: float) -> Attempt | _Skipped:
        provider = self._providers[step.target]
        texts, mapping = _outgoing(call, pseudonymise=step.pseudonymise)
        # Last line of defence: whatever the route says, nothing classified non-public reaches a cloud.
        if provider.locality == "cloud" and classify_outbound(texts).sensitivity != Sensitivity.PUBLIC:
            return _Skipped(note=f"{provider.name} skipped: the outgoing text is not public")
        request = _request(call, self._templates[call.purpose], texts, remaining)
        try:
            async with asyncio.timeout(remaining):
                result = await provider.complete(request)
        except TimeoutError:
            return _Skipped(note=f"{provider.name} unavailable (deadline exceeded)")
        except TRANSIENT_ERRORS as err:
            return _Skipped(note=f"{provider.name} unavailable ({safe_detail(err.reason)})")
        except ProviderOutputInvalid as err:
            return Attempt(result=None, outcome="invalid_output", note=safe_detail(err.reason))
        except ProviderError as err:
            return Attempt(result=None, outcome="error", note=safe_detail(err.reason))
        except Exception as err:  # a provider bug still ends as an event, not as a lost call
            return Attempt(result=None, outcome="error", note=f"unexpected {type(err).__name__}")
        return validated(call.purpose, result, mapping)


def _inference_attributes(call: GatewayCall, outcome: GatewayOutcome) -> dict[str, str | int]:
    """The call as the gateway decided it: our own attributes beside the GenAI ones."""
    event = outcome.event
    attributes: dict[str, str | int] = {
        "aiwf.inference.id": call.inference_id,
        "aiwf.inference.purpose": str(call.purpose),
        "aiwf.sensitivity": str(event.sensitivity),
    }
    if isinstance(event, InferenceRefused):
        attributes["aiwf.route.reason"] = event.reason
        attributes["aiwf.inference.outcome"] = "refused"
    else:
        attributes["aiwf.route.reason"] = event.route_reason
        attributes["aiwf.inference.outcome"] = event.outcome
        attributes["gen_ai.response.model"] = event.model
    return attributes


def _model_call_attributes(
    provider: CircuitBreakerProvider, model: str, step: Step, attempt: Attempt | _Skipped
) -> dict[str, str | int | bool]:
    attributes: dict[str, str | int | bool] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider.name,
        "gen_ai.provider.name": provider.name,
        "gen_ai.request.model": model,
        "aiwf.locality": provider.locality,
    }
    if step.pseudonymise:
        attributes["aiwf.pseudonymised"] = True
    if provider.endpoint is not None and (host := urlsplit(provider.endpoint)).hostname:
        attributes["server.address"] = host.hostname
        if host.port is not None:
            attributes["server.port"] = host.port
    if isinstance(attempt, _Skipped):  # not asked (its text not public, its deadline spent) or not reached
        attributes["error.type"] = "skipped"
        return attributes
    if attempt.outcome != "ok":
        attributes["error.type"] = attempt.outcome
    if attempt.result is not None:
        usage = attempt.result.usage
        attributes["gen_ai.response.model"] = attempt.result.model
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
    return attributes


def _at_least(verdict: Verdict, derived_from: Sensitivity) -> Verdict:
    if derived_from.rank <= verdict.sensitivity.rank:
        return verdict
    kinds = (*verdict.kinds, f"derived from {derived_from} data")
    return msgspec.structs.replace(verdict, sensitivity=derived_from, kinds=kinds)


class _Skipped(msgspec.Struct, frozen=True, kw_only=True):
    note: str  # why the step fell through to the next one


def _step_deadline(step: Step, remaining: float) -> float:
    """The offline planner answers in milliseconds, in this process: it still runs when a slow cloud
    and local model have spent the caller's deadline, since an answer a few ms late beats none."""
    return max(remaining, OFFLINE_DEADLINE_S) if step.target == "offline" else remaining


def _guarded(provider: Provider, circuit: CircuitConfig | None) -> CircuitBreakerProvider:
    if isinstance(provider, CircuitBreakerProvider):
        return provider
    return CircuitBreakerProvider(provider, CircuitBreaker(circuit))


def _outgoing(call: GatewayCall, *, pseudonymise: bool) -> tuple[tuple[str, ...], dict[str, str]]:
    """The message texts as they will be sent (extra texts merged in), and the placeholder mapping."""
    texts = tuple(message.content for message in with_context(call.messages, call.extra_texts))
    if not pseudonymise:
        return texts, {}
    return pseudonymise_all(texts)


def _request(
    call: GatewayCall, template: PromptTemplate, texts: Sequence[str], deadline_s: float
) -> InferenceRequest:
    roles = [message.role for message in with_context(call.messages, call.extra_texts)]
    return InferenceRequest(
        purpose=str(call.purpose),
        system=template.text,
        messages=tuple(ChatMessage(role=role, content=text) for role, text in zip(roles, texts, strict=True)),
        output_name=output_name(call.purpose),
        output_schema=msgspec.Raw(schema_for(call.purpose)),
        max_tokens=call.max_tokens,
        deadline_s=deadline_s,
    )

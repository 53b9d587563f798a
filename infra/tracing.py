"""OpenTelemetry traces: configured from the standard `OTEL_*` variables, off when they are unset.

Our code speaks the OpenTelemetry API only; this module installs the SDK and its OTLP (HTTP/protobuf)
exporter in a process when the operator asked for traces. A trace follows a user message across
processes through the W3C `traceparent` every event carries: a step's span is the child of the span
that appended its cause, and the events it appends carry its own context in turn (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import msgspec
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

_PROXY: Final = trace.get_tracer("aiwf")  # until a provider is installed
_EXPORTERS: Final = ("otlp", "console", "none")


class TracingRefused(ValueError):
    """An `OTEL_*` setting this platform cannot honour: said at start, never ignored."""


class TracingPlan(msgspec.Struct, frozen=True, kw_only=True):
    exporters: tuple[str, ...]  # "otlp", "console"; empty: tracing off


class _State:
    enabled = False
    tracer: trace.Tracer = _PROXY  # the installed provider's own, once there is one: no proxy per span


def plan_from(env: Mapping[str, str]) -> TracingPlan:
    """Which exporters the environment asks for. Traces are on when `OTEL_TRACES_EXPORTER` names one, or
    when an OTLP endpoint is set (the exporter then defaults to otlp); `OTEL_SDK_DISABLED=true` wins."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TracingPlan(exporters=())
    named = [name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if not named:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        named = ["otlp"] if endpoint else []
    unknown = sorted(set(named) - set(_EXPORTERS))
    if unknown:
        raise TracingRefused(
            f"OTEL_TRACES_EXPORTER: {', '.join(unknown)} unknown (known: otlp, console, none)"
        )
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if "otlp" in named and protocol not in (None, "", "http/protobuf"):
        raise TracingRefused(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is shipped")
    return TracingPlan(exporters=tuple(name for name in dict.fromkeys(named) if name != "none"))


def configure_tracing(service: str, env: Mapping[str, str] | None = None) -> TracerProvider | None:
    """The SDK installed for this process when the environment asks for traces; None when it does not.
    `service` names the process's role (api, worker...) when `OTEL_SERVICE_NAME` does not."""
    source = os.environ if env is None else env
    plan = plan_from(source)
    if not plan.exporters:
        return None
    exporters: list[SpanExporter] = []
    for name in plan.exporters:
        if name == "otlp":
            # Only where traces are on: the exporter brings protobuf, a tenth of a second to import.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            exporters.append(OTLPSpanExporter())
        else:
            exporters.append(ConsoleSpanExporter())
    attributes = {SERVICE_INSTANCE_ID: f"{service}-{os.getpid()}"}
    if not source.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = f"aiwf-{service}"
    provider = TracerProvider(resource=Resource.create(attributes))
    install(provider, [BatchSpanProcessor(exporter) for exporter in exporters])
    return provider


def install(provider: TracerProvider, processors: Iterable[SpanProcessor] = ()) -> None:
    """`provider` becomes the process's; from then on spans are recorded and events carry their context."""
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _State.tracer = trace.get_tracer("aiwf")
    _State.enabled = True


def uninstall() -> None:
    """No more spans opened here. The OpenTelemetry API keeps the first provider for the life of the
    process: whatever still asks it (a library's own spans) goes to its sampler."""
    _State.enabled = False


def tracer() -> trace.Tracer:
    return _State.tracer


def enabled() -> bool:
    """Whether spans may be recorded here: work done only for a span (parsing a context, links) is
    skipped when not."""
    return _State.enabled


def context_of(traceparent: str | None) -> Context | None:
    """The remote parent a `traceparent` names; None when tracing is off or the value is not valid."""
    if not _State.enabled or not traceparent:
        return None
    remote = _remote(traceparent)
    return None if remote is None else trace.set_span_in_context(NonRecordingSpan(remote))


@functools.lru_cache(maxsize=4096)
def _remote(traceparent: str) -> SpanContext | None:
    """W3C trace context version 00, parsed once per value: an event's context is read by every
    projector and process manager that handles it."""
    parts = traceparent.split("-")
    if (
        len(parts) != 4
        or parts[0] != "00"
        or len(parts[1]) != 32
        or len(parts[2]) != 16
        or len(parts[3]) != 2
    ):
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    remote = SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & TraceFlags.SAMPLED)
    )
    return remote if remote.is_valid else None


def links_to(traceparents: Iterable[str | None]) -> list[Link]:
    """One link per distinct trace context: a batch span points at each event it handled."""
    return [Link(remote) for tp in dict.fromkeys(traceparents) if tp and (remote := _remote(tp)) is not None]


def traceparent_of_span(span: Span, fallback: str | None) -> str | None:
    """What the events appended under `span` carry: its own context when it has one, so the steps they
    cause become its children; otherwise `fallback` (tracing off: the cause's context passes on)."""
    context = span.get_span_context()
    if not context.is_valid:
        return fallback
    return _format(context)


def current_traceparent(fallback: str | None) -> str | None:
    return traceparent_of_span(trace.get_current_span(), fallback)


def _format(context: SpanContext) -> str:
    flags = int(context.trace_flags) & int(TraceFlags.SAMPLED)
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"


@contextlib.contextmanager
def event_span(name: str, traceparent: str | None, attributes: Mapping[str, str | int]) -> Iterator[None]:
    """The span of work done because of one event: the child of the span that appended it."""
    if not _State.enabled:
        yield
        return
    with _State.tracer.start_as_current_span(
        name, context=context_of(traceparent), kind=SpanKind.CONSUMER, attributes=attributes
    ):
        yield


@contextlib.contextmanager
def batch_span(
    name: str, carried: Iterable[str | None], attributes: Mapping[str, str | int]
) -> Iterator[None]:
    """The span of a batch of events: linked to each event's context, and the child of it when the
    whole batch belongs to one trace (one message's events, the usual case), so that trace shows it.
    `carried` (the events' traceparents) is read only when traces are on."""
    if not _State.enabled:
        yield
        return
    traceparents = list(carried)
    links = links_to(traceparents)
    traces = {link.context.trace_id for link in links}
    # One trace: the batch is its child, and a link would say nothing more. Several: linked to each.
    parent = links[0].context if len(traces) == 1 else None
    with _State.tracer.start_as_current_span(
        name,
        context=None if parent is None else trace.set_span_in_context(NonRecordingSpan(parent)),
        kind=SpanKind.CONSUMER,
        links=[] if parent is not None else links,
        attributes={**attributes, "messaging.batch.message_count": len(traceparents)},
    ):
        yield


@contextlib.contextmanager
def inner_span(name: str, attributes: Mapping[str, str | int]) -> Iterator[Span]:
    """A span inside the current one (a step's part worth seeing apart); a span that records nothing
    when traces are off."""
    if not _State.enabled:
        yield trace.INVALID_SPAN
        return
    with _State.tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span

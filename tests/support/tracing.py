"""Spans captured in memory by the OpenTelemetry SDK, for the tests that read them.

The API takes one tracer provider per process, so it is installed once and a sampler switches
recording on only inside `captured_spans()`: the other tests run with traces off, as a platform does
when no `OTEL_*` variable is set."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from infra import tracing


class _Switch(Sampler):
    capturing = False

    def should_sample(  # noqa: PLR0917 - the SDK calls it with these, positionally
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if not self.capturing:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)  # the span keeps what it was given

    def get_description(self) -> str:
        return "captured_spans() switch"


_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider(sampler=_SWITCH)
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@contextlib.contextmanager
def captured_spans() -> Iterator[InMemorySpanExporter]:
    tracing.install(_PROVIDER)
    _SWITCH.capturing = True
    _EXPORTER.clear()
    try:
        yield _EXPORTER
    finally:
        _SWITCH.capturing = False
        tracing.uninstall()
        _EXPORTER.clear()


def texts_of(spans: Sequence[ReadableSpan]) -> list[str]:
    """Everything a span exporter would send of each span that a person could read: names, attribute
    values, event names and attributes, status descriptions."""
    texts: list[str] = []
    for span in spans:
        texts.append(span.name)
        texts.extend(str(value) for value in (span.attributes or {}).values())
        for event in span.events:
            texts.append(event.name)
            texts.extend(str(value) for value in (event.attributes or {}).values())
        if span.status.description:
            texts.append(span.status.description)
    return texts

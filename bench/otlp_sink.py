"""A collector that keeps nothing: answers every OTLP/HTTP export 200 and counts requests and bytes, so a
benchmark with traces on pays for building, batching and sending spans, not for storing them.

    python -m bench.otlp_sink PORT        GET /stats → {"requests": N, "bytes": B}
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec


class Sink(BaseHTTPRequestHandler):
    requests = 0
    received = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Sink.requests += 1
        Sink.received += len(body)
        self._answer(b"", "application/x-protobuf")

    def do_GET(self) -> None:
        self._answer(
            msgspec.json.encode({"requests": Sink.requests, "bytes": Sink.received}), "application/json"
        )

    def _answer(self, body: bytes, media: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()

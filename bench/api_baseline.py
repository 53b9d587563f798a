"""The same-run baseline of the API benchmark: a bare Litestar app, one route, a small constant Struct.

    python -m bench.api_baseline --port P

It is served the way `aiwf run` serves the API (`api/server.py`): one uvicorn server inside
`asyncio.run`, the same uvicorn settings, the same event loop and HTTP implementation. No middleware,
no authentication, no database: what is left is Litestar + uvicorn + msgspec.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import msgspec
import uvicorn
from litestar import Litestar, get


class Conversation(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    tenant: str
    status: str
    title: str | None
    message_count: int
    last_version: int


CONSTANT = Conversation(
    conversation_id="01a21202-22b6-7733-bdf6-d5d101bfb4f3",
    tenant="dev",
    status="open",
    title="baseline",
    message_count=0,
    last_version=1,
)


@get("/v1/conversations/{conversation_id:str}", sync_to_thread=False)
def one(conversation_id: str) -> Conversation:
    del conversation_id
    return CONSTANT


def create_app() -> Litestar:
    return Litestar(route_handlers=[one], debug=False)


def server(host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(  # the settings of api/server.py
        create_app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_baseline")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    print(f"baseline: serving on http://{args.host}:{args.port}", flush=True)
    try:
        asyncio.run(server(args.host, args.port).serve())
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The Litestar application: thin controllers over commands and read models, RFC 9457 errors, API keys."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from api.audit import AuditController
from api.auth import bearer_auth
from api.context import request_context
from api.contract import COMMAND, READ_AFTER, document
from api.conversations import ConversationsController
from api.credentials import CredentialsController
from api.deps import ApiDeps, command_request, read_after
from api.event_schemas import EventSchemas, SchemasController
from api.events import EventsController
from api.me import me
from api.media import refuse_other_media
from api.openapi_page import assets as openapi_assets
from api.openapi_page import openapi_config
from api.operations import operations
from api.ops import asyncapi_route, live, metrics, ready
from api.problems import EXCEPTION_HANDLERS
from api.sboms import SbomController
from api.subjects import SubjectsController
from api.tracing import traced
from api.verifications import verify
from api.webapp import routes as webapp_routes
from api.workflows import WorkflowsController
from infra import tracing

VERSION = "0.1.0"


def create_app(deps: ApiDeps, asyncapi: dict[str, Any]) -> Litestar:
    auth = bearer_auth(deps.keys, deps.key_rate, deps.address_rate)
    schemas = EventSchemas(deps.store.registry, deps.store.schemas)
    app = Litestar(
        route_handlers=[
            ConversationsController,
            WorkflowsController,
            SbomController,
            SubjectsController,
            CredentialsController,
            EventsController,
            SchemasController,
            AuditController,
            verify,
            me,
            operations,
            *webapp_routes(),
            openapi_assets(),
            live,
            ready,
            metrics,
            asyncapi_route(asyncapi),
        ],
        dependencies={
            "deps": Provide(lambda: deps, sync_to_thread=False),
            "schemas": Provide(lambda: schemas, sync_to_thread=False),
            COMMAND: Provide(command_request, sync_to_thread=False),
            READ_AFTER: Provide(read_after, sync_to_thread=False),
        },
        before_request=refuse_other_media,
        middleware=[DefineMiddleware(auth)],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=deps.limits.max_body_bytes,
        openapi_config=openapi_config(VERSION),
        debug=False,
        logging_config=None,  # the process's logging (AIWF_LOG_LEVEL, AIWF_JSON_LOGS) stays in force
    )
    document(app)  # now, not at the first request: a route whose contract cannot be written fails start-up
    return observe_every_request(app)


def observe_every_request(app: Litestar) -> Litestar:
    """The request id, the access log, the latency histogram and (traces on) the server span, around
    routing: Litestar runs an application's middleware only once a route matched, so a path no route
    matches (a 404, a 405) would pass none of them."""
    handler = request_context(app.asgi_handler)
    app.asgi_handler = traced(handler) if tracing.enabled() else handler
    return app

"""The OpenAPI document as the contract a typed client is generated from (docs/adr/0027): every operation
lists every status it can answer, each problem as `application/problem+json`, and whether it needs a key.

What a route's guards, path and parameters imply is derived here, once, from the same facts the guards
act on (`PUBLIC_PATHS`, the route's roles, its `command` and `read_after` dependencies); what only a
handler knows it declares itself with `responses=problems(...)`. What Litestar cannot say is written into
the built document: that a public operation needs no key (`security: []`, an empty list Litestar drops),
that an operation without a body answers no 400 (Litestar lists one wherever a parameter is validated),
the headers of an answer, that U+0000 is refused in a path or a query, and the exact schema of a request
body (msgspec's own, from the very type the body is decoded with: Litestar drops `forbid_unknown_fields`
and the constraints of dict keys and values). OPTIONS is made to list every method of its path."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any, Final, get_args

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute

from api.auth import PUBLIC_PATHS
from api.problems import PROBLEM_JSON, Problem
from domain.text import NO_NUL
from domain.types import Role

API_KEY: Final = "apiKey"
COMMAND: Final = "command"  # the dependency of every command route (api/commanding.py)
READ_AFTER: Final = "read_after"  # the dependency of every read that honours a consistency token
_PUBLIC = [re.compile(pattern) for pattern in PUBLIC_PATHS]
_HEADERS: Final = {
    401: {"WWW-Authenticate": '`Bearer realm="aiwf"`'},
    429: {"Retry-After": "seconds to wait"},
    503: {"Retry-After": "seconds to wait, when waiting helps"},
}
_TOKEN_HEADER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    description="the body's `consistency_token`: send it as X-Consistency-Token to read your write",
    required=True,
)
_ETAG_HEADER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    description="the entity tag of what is served: send it as If-None-Match to get a 304 while it is current",
    required=True,
)
CONDITIONAL = "if_none_match"  # the parameter of a route that answers 304 (api/etags.py)


def problems(reasons: Mapping[int, str]) -> dict[int, ResponseSpec]:
    """What a handler answers beyond what its guards and parameters imply, and why."""
    return {status: _problem(why) for status, why in reasons.items()}


def json_document(media_type: str, description: str) -> ResponseSpec:
    """A success that is a JSON document served as stored bytes (a schema, an SBOM): any object."""
    return ResponseSpec(
        data_container=dict[str, Any], media_type=media_type, description=description, generate_examples=False
    )


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem, media_type=PROBLEM_JSON, description=description, generate_examples=False
    )


def is_public(path: str) -> bool:
    """As the authentication middleware decides it: the same patterns, matched the same way."""
    return any(pattern.search(path) for pattern in _PUBLIC)


def reasons_of(handler: HTTPRouteHandler, path: str) -> dict[int, list[str]]:
    """Every problem a route's guards and parameters can answer, and why."""
    reasons: dict[int, list[str]] = defaultdict(list)
    names = handler.parsed_fn_signature.parameters
    if not is_public(path):
        reasons[503].append("Redis or PostgreSQL could not be reached just now: retry after `Retry-After`")
        reasons[401].append("no valid API key: send `Authorization: Bearer <key>`")
        reasons[429].append("too many requests from this key, or from this address without a known key")
        reasons[422].append("a parameter does not match its schema (`errors` names it), or holds U+0000")
        roles: frozenset[Role] = handler.opt.get("roles", frozenset())
        if roles != frozenset(Role):
            reasons[403].append(f"the key's role is not one of: {', '.join(sorted(roles)) or 'none'}")
    if "{" in path:
        reasons[404].append("no such resource" if is_public(path) else "no such resource of the key's tenant")
    if "data" in names:
        reasons[400].append("the body is not JSON")
        reasons[415].append("the body is not `application/json`")
        reasons[422].append("the body does not match its schema")
    if "data" in names or COMMAND in names:  # a command reads its body to hash it with its Idempotency-Key
        reasons[413].append("the body is larger than AIWF_MAX_BODY_BYTES")
    if COMMAND in names:
        reasons[409].append(
            "not possible in the resource's state, or a request with this Idempotency-Key runs"
        )
        reasons[422].append("this Idempotency-Key was used for another request")
    if READ_AFTER in names:
        reasons[503].append("the read model has not folded the consistency token yet: retry")
    return reasons


def document(app: Litestar) -> OpenAPI:
    """Give every operation its answers and security, then build the document and finish it."""
    routes = list(_operations(app))
    for handler, path, _ in routes:
        declared = handler.responses or {}
        derived = {status: "; ".join(why) for status, why in reasons_of(handler, path).items()}
        handler.responses = {
            **problems(derived),
            **{
                status: dataclasses.replace(spec, description=f"{derived[status]}; {spec.description}")
                if status in derived and spec.data_container is Problem
                else spec
                for status, spec in declared.items()
            },
        }
    _list_every_method_in_allow(app)
    openapi = app.openapi_schema
    for handler, path, method in routes:
        operation = getattr(openapi.paths[path], method) if openapi.paths else None
        if isinstance(operation, Operation):
            _finish(operation, handler, path, openapi)
    return openapi


def _list_every_method_in_allow(app: Litestar) -> None:
    """Litestar answers OPTIONS with the methods of the route its path's first handler made; a second
    handler on the path (a collection's GET and POST) makes a new route, and OPTIONS kept the first
    one's methods. Each route's own answer is made again, for the route as it is."""
    for route in app.routes:
        if isinstance(route, HTTPRoute) and "OPTIONS" in route.route_handler_map:
            handler, _ = route.route_handler_map["OPTIONS"]
            if handler.handler_name == "options_handler":  # Litestar's own, not one of ours
                handler._fn = route.create_options_handler(route.path).fn


def _operations(app: Litestar) -> Iterator[tuple[HTTPRouteHandler, str, str]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if handler.resolve_include_in_schema():
                    yield handler, route.path_format or "/", method.lower()


def _finish(operation: Operation, handler: HTTPRouteHandler, path: str, openapi: OpenAPI) -> None:
    if is_public(path):
        operation.security = []
    for parameter in operation.parameters or ():
        if isinstance(parameter, Parameter) and isinstance(parameter.schema, Schema):
            parameter.schema = _not_null(parameter.schema)
            if parameter.param_in in {"path", "query"} and not is_public(path):
                _refuse_nul(parameter.schema)
    _finish_responses(operation, handler)
    body = handler.parsed_fn_signature.parameters.get("data")
    for struct in _structs(body.annotation) if body is not None else ():
        if struct.__name__ not in openapi.components.schemas:
            raise LookupError(f"{struct.__name__}: not the name Litestar gave the body's component")
        openapi.components.schemas[struct.__name__] = _exact_schema(struct)


def _finish_responses(operation: Operation, handler: HTTPRouteHandler) -> None:
    responses = operation.responses = dict(sorted((operation.responses or {}).items()))
    if 400 not in (handler.responses or {}):
        responses.pop("400", None)  # Litestar's, for a validated parameter: ours are 422 problems
    accepted = responses.get("202")
    if COMMAND in handler.parsed_fn_signature.parameters and isinstance(accepted, OpenAPIResponse):
        accepted.headers = {"X-Consistency-Token": _TOKEN_HEADER}
    if CONDITIONAL in handler.parsed_fn_signature.parameters:
        for tag in ("200", "304"):
            tagged = responses.get(tag)
            if isinstance(tagged, OpenAPIResponse):
                tagged.headers = {"ETag": _ETAG_HEADER}
    for status, headers in _HEADERS.items():
        response = responses.get(str(status))
        if isinstance(response, OpenAPIResponse):
            response.headers = {
                name: OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=why)
                for name, why in headers.items()
            }


def _not_null(schema: Schema) -> Schema:
    """An optional text parameter is absent or text: Litestar's `oneOf: [string, null]` invites clients
    (and fuzzers) to send the text `null`, which is not absent. (A number's stays: `null` reads as absent.)"""
    kept = [
        one for one in schema.one_of or () if not (isinstance(one, Schema) and one.type == OpenAPIType.NULL)
    ]
    if len(kept) != 1 or not isinstance(kept[0], Schema) or kept[0].type != OpenAPIType.STRING:
        return schema
    outer = {
        field.name: getattr(schema, field.name)
        for field in dataclasses.fields(Schema)
        if field.name != "one_of" and getattr(schema, field.name) is not None
    }
    return dataclasses.replace(kept[0], **outer)


def _refuse_nul(schema: Schema) -> None:
    """The authentication middleware refuses U+0000 in any path or query value (api/auth.py refuse_nul):
    a text parameter without a pattern of its own says so with NO_NUL (those with one exclude it)."""
    if schema.type == OpenAPIType.STRING and schema.pattern is None and schema.enum is None:
        schema.pattern = NO_NUL


def _structs(annotation: Any) -> Iterator[type[msgspec.Struct]]:
    """The Structs of a body's type (`T`, `T | None`, `Annotated[...]`)."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        yield annotation
    for arg in get_args(annotation):
        yield from _structs(arg)


def _exact_schema(struct: type[msgspec.Struct]) -> Schema:
    (ref,), components = msgspec.json.schema_components([struct], ref_template="#/components/schemas/{name}")
    name = str(ref["$ref"]).rsplit("/", 1)[1]
    if set(components) != {name}:
        raise TypeError(f"{struct.__name__}: a request body refers to other types; give them components too")
    schema = _schema(components[name])
    if not isinstance(schema, Schema):
        raise TypeError(f"{struct.__name__}: its schema is a reference")
    return schema


def _camel(name: str) -> str:
    first, *rest = name.removeprefix("schema_").split("_")
    return first + "".join(part.title() for part in rest)


_KEYS = {field.metadata.get("alias", _camel(field.name)): field.name for field in dataclasses.fields(Schema)}


def _schema(node: Mapping[str, Any]) -> Schema | Reference:
    """A JSON Schema (as msgspec writes it) as Litestar's OpenAPI objects; an unknown keyword is an error."""
    if "$ref" in node:
        return Reference(ref=node["$ref"])
    unknown = set(node) - set(_KEYS)
    if unknown:
        raise TypeError(f"JSON Schema keywords {sorted(unknown)} have no place in Litestar's Schema")
    return Schema(**{_KEYS[key]: _value(key, value) for key, value in node.items()})


def _value(key: str, value: Any) -> Any:
    if key in {"properties", "patternProperties", "dependentSchemas"}:
        return {name: _schema(sub) for name, sub in value.items()}
    if key in {"anyOf", "oneOf", "allOf", "prefixItems"}:
        return [_schema(sub) for sub in value]
    if isinstance(value, dict) and key not in {"default", "const", "enum", "examples"}:
        return _schema(value)
    return value

"""A fake n8n 2.8.4 public API on loopback: a real HTTP server for tests of code that talks to n8n.

It is `http.server.ThreadingHTTPServer` on 127.0.0.1 and a free port, in a background thread, keeping
the rules of n8n's public API that a client can break (read from n8n's `public-api/v1/openapi.yml` and
handlers, and measured on a real 2.8.4):

- `/api/v1/...` wants `X-N8N-API-KEY: <api_key>`, else 401. As in 2.8.4, `GET /rest/settings` (no key)
  does not tell the version; `GET /` (the editor page) does, in its `n8n:config:sentry` meta tag.
- `POST`/`PUT /api/v1/workflows[/{id}]` take exactly `name`, `nodes`, `connections`, `settings`: another
  field is 400 "request/body must NOT have additional properties" ("request/body/active is read-only"
  for n8n's read-only ones), a missing one 400 "request/body must have required property 'settings'";
  nodes and settings have n8n's closed schemas too. (Real n8n also takes `staticData`; the fake does
  not.) A created workflow is inactive, with a 16-character id and a `versionId` that every update
  changes.
- `POST .../{id}/activate` refuses, as n8n does, a workflow without a trigger node (a `...Trigger` type
  other than the manual one, a Webhook, Cron or Interval), then asks `activation_rule(workflow)`: a
  message refuses with 400 that message. An update of an active workflow is checked the same way.
  `.../deactivate`, `DELETE`, `GET`/`PUT .../{id}/tags` (body `[{"id": ...}]`; an unknown id is 404).
- `GET /api/v1/workflows?name=&tags=a,b&active=` (name: a part of it, any case; tags: all of them) and
  every list answer `{"data": [...], "nextCursor": ...}` in pages of at most `page_size`.
- Tags: list, create (`{"name"}`, 201; the same name again 409 "Tag already exists").
- Credentials: list (id, name, type, never data), create (`{"name", "type", "data"}`, data checked
  against the type's JSON Schema: 400 naming the fields), `GET /credentials/schema/{type}`, delete.
  Known types: `CREDENTIAL_SCHEMAS` and the constructor's `credential_schemas`.
- Executions: list (`workflowId`, `status`, newest first, `lastId` cursors), get. Seed them with
  `add_execution`; a `POST /webhook/<path>` to an active workflow's Webhook node records one too.

API:

    with FakeN8n(page_size=2) as n8n:
        client = N8nClient(N8nInstance(url=n8n.url, api_key=n8n.api_key))
        n8n.fail_next("POST", "/api/v1/workflows", status=503, times=2)
        ...
        assert n8n.count("POST", "/api/v1/workflows") == 1   # a create is not replayed after a 503

    FakeN8n(*, api_key="fake-n8n-key", page_size=100, version="2.8.4",
            activation_rule=None, credential_schemas=None)   # a context manager: starts, then stops
    .url, .api_key, .activation_rule (settable), .down (settable: True drops every request)

    Scripting: each scripted answer is used by one matching request, first scripted first. `path`
    matches itself and everything beneath it, by segment ("/api/v1/workflows" and "/api/v1/workflows/"
    match POST /api/v1/workflows and /api/v1/workflows/7/activate); method "*" matches any.
      fail_next(method, path, *, status=503, times=1, message=None, retry_after=None,
                stack=True, body=None)      # n8n-like {"message", "stack"}; or `body` as text/plain
      answer_next(method, path, *, status, body, times=1, headers=None)   # any answer (str: text)
      delay_next(method, path, *, seconds, times=1)   # answers for real, `seconds` late
      drop_next(method, path, *, times=1)             # reads the request, closes without answering

    Inspection: .requests -> list[Request(method, path, query, body, status, scripted)] (every request
      that arrived, in order; status None: dropped), .count(method, path) (arrivals at exactly that path),
      .workflows / .credentials / .tags (copies by id; credentials keep the `data` sent).
    Seeding: .add_execution(workflow_id, *, status="success", mode="trigger") -> execution id.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

ActivationRule = Callable[[dict[str, Any]], str | None]
Answer = tuple[int, Any]

MAX_LIMIT = 250
WORKFLOW_FIELDS = ("name", "nodes", "connections", "settings")
NODE_FIELDS = frozenset(
    [
        "id",
        "name",
        "webhookId",
        "disabled",
        "notesInFlow",
        "notes",
        "type",
        "typeVersion",
        "executeOnce",
        "alwaysOutputData",
        "retryOnFail",
        "maxTries",
        "waitBetweenTries",
        "continueOnFail",
        "onError",
        "position",
        "parameters",
        "credentials",
    ]
)
SETTINGS_FIELDS = frozenset(
    [
        "saveExecutionProgress",
        "saveManualExecutions",
        "saveDataErrorExecution",
        "saveDataSuccessExecution",
        "executionTimeout",
        "errorWorkflow",
        "timezone",
        "executionOrder",
        "callerPolicy",
        "callerIds",
        "timeSavedPerExecution",
        "availableInMCP",
    ]
)
EXECUTION_STATUSES = ("canceled", "error", "running", "success", "waiting")


def _strings(*names: str) -> dict[str, Any]:
    return {name: {"type": "string"} for name in names}


# As n8n 2.8.4 answers GET /api/v1/credentials/schema/{type} for these types.
CREDENTIAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "httpHeaderAuth": {
        "additionalProperties": False,
        "type": "object",
        "properties": {**_strings("name", "value"), "useCustomAuth": {"type": "notice"}},
        "required": [],
    },
    "httpBasicAuth": {
        "additionalProperties": False,
        "type": "object",
        "properties": _strings("user", "password"),
        "required": [],
    },
    "slackApi": {
        "additionalProperties": False,
        "type": "object",
        "properties": {**_strings("accessToken", "signatureSecret"), "notice": {"type": "notice"}},
        "allOf": [
            {
                "if": {"properties": {"signatureSecret": {"enum": [""]}}},
                "then": {"allOf": [{"required": ["notice"]}]},
                "else": {"allOf": [{"not": {"required": ["notice"]}}]},
            }
        ],
        "required": ["accessToken"],
    },
}
# Fields of n8n's workflow schema a client may not write.
READ_ONLY_FIELDS = ("id", "active", "createdAt", "updatedAt", "tags", "shared", "activeVersion")
# Trigger-like node types that do not make a workflow activatable (n8n ignores them there).
NOT_ACTIVATING = frozenset({"n8n-nodes-base.manualTrigger", "n8n-nodes-base.executeWorkflowTrigger"})
ACTIVATING_TYPES = frozenset({"n8n-nodes-base.webhook", "n8n-nodes-base.cron", "n8n-nodes-base.interval"})
NO_TRIGGER = (
    "Workflow cannot be activated because it has no trigger node."
    " At least one trigger, webhook, or polling node is required."
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None  # what was answered; None when the connection was dropped
    scripted: bool = False  # answered by fail_next/answer_next, not by the fake's n8n


@dataclass
class _Script:
    method: str
    path: str
    times: int
    status: int | None = None  # None: handled for real (after `delay`), unless `drop`
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and _beneath(path, self.path)


def _beneath(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or not prefix


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class FakeN8n:
    def __init__(
        self,
        *,
        api_key: str = "fake-n8n-key",
        page_size: int = 100,
        version: str = "2.8.4",
        activation_rule: ActivationRule | None = None,
        credential_schemas: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.api_key = api_key
        self.page_size = page_size
        self.version = version
        self.activation_rule = activation_rule
        self.down = False
        self._schemas = {**CREDENTIAL_SCHEMAS, **(credential_schemas or {})}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._scripts: list[_Script] = []
        self._requests: list[Request] = []
        self._workflows: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, dict[str, Any]] = {}
        self._credentials: dict[str, dict[str, Any]] = {}
        self._executions: dict[int, dict[str, Any]] = {}
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-n8n", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeN8n:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stopping.set()  # wakes delayed answers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- scripting ---

    def answer_next(
        self,
        method: str,
        path: str,
        *,
        status: int,
        body: Any,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer `status` with `body` (a str as text/plain, anything else as JSON) instead of n8n."""
        if isinstance(body, str):
            raw, kind = body.encode(), "text/plain; charset=utf-8"
        else:
            raw, kind = json.dumps(body).encode(), "application/json; charset=utf-8"
        sent = (("Content-Type", kind), *(headers or {}).items())
        self._script(_Script(method, path, times, status=status, body=raw, headers=sent))

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 503,
        times: int = 1,
        message: str | None = None,
        retry_after: float | None = None,
        stack: bool = True,
        body: str | None = None,
    ) -> None:
        """An n8n-like error: `{"message", "stack"}` (the stack as n8n outside production mode writes
        it), or `body` as text; `retry_after` seconds in a Retry-After header."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        if body is None:
            text = message or _REASONS.get(status, "Something went wrong")
            error: dict[str, Any] = {"message": text}
            if stack:
                error["stack"] = _stack_trace(text)
            self.answer_next(method, path, status=status, body=error, times=times, headers=headers)
        else:
            self.answer_next(method, path, status=status, body=body, times=times, headers=headers)

    def delay_next(self, method: str, path: str, *, seconds: float, times: int = 1) -> None:
        self._script(_Script(method, path, times, delay=seconds))

    def drop_next(self, method: str, path: str, *, times: int = 1) -> None:
        self._script(_Script(method, path, times, drop=True))

    def _script(self, script: _Script) -> None:
        with self._lock:
            self._scripts.append(script)

    def _take_script(self, method: str, path: str) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if script.times > 0 and script.matches(method, path):
                    script.times -= 1
                    return script
        return None

    # --- inspection and seeding ---

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def count(self, method: str, path: str) -> int:
        """Requests that arrived for exactly this method and path, whatever was answered (attempts)."""
        return sum(1 for r in self.requests if r.method == method and r.path.rstrip("/") == path.rstrip("/"))

    @property
    def workflows(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: self._render_workflow(w) for k, w in self._workflows.items()}

    @property
    def credentials(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._credentials)

    @property
    def tags(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._tags)

    def add_execution(self, workflow_id: str, *, status: str = "success", mode: str = "trigger") -> str:
        with self._lock:
            return self._add_execution(workflow_id, status, mode)

    def _add_execution(self, workflow_id: str, status: str, mode: str) -> str:
        number = max(self._executions, default=0) + 1
        now = _now()
        done = status not in ("running", "waiting", "new")
        self._executions[number] = {
            "id": str(number),
            "workflowId": workflow_id,
            "status": status,
            "finished": status == "success",
            "mode": mode,
            "startedAt": now,
            "stoppedAt": now if done else None,
            "retryOf": None,
            "retrySuccessId": None,
            "waitTill": None,
            "customData": {},
        }
        return str(number)

    # --- serving ---

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def _answer(self, method: str, path: str, query: dict[str, str], raw: bytes, key: str | None) -> Answer:
        if path.startswith("/api/v1/") and key is None:
            return 401, {"message": "'X-N8N-API-KEY' header required"}
        if path.startswith("/api/v1/") and key != self.api_key:
            return 401, {"message": "unauthorized"}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {"message": "Invalid JSON in request body"}
        for route_method, pattern, handler in _ROUTES:
            found = pattern.fullmatch(path)
            if found and route_method == method:
                try:
                    with self._lock:
                        return handler(self, *(unquote(g) for g in found.groups()), query=query, body=body)
                except _Refused as refused:
                    return refused.status, {"message": refused.message}
        if path.startswith("/webhook/"):
            with self._lock:
                return self._webhook(method, unquote(path.removeprefix("/webhook/")))
        return 404, {"message": "not found"}

    # --- workflows ---

    def _render_workflow(self, stored: dict[str, Any]) -> dict[str, Any]:
        rendered = copy.deepcopy(stored)
        rendered["tags"] = [copy.deepcopy(self._tags[t]) for t in stored["tags"] if t in self._tags]
        return rendered

    def _workflow(self, workflow_id: str) -> dict[str, Any]:
        if workflow_id not in self._workflows:
            raise _Refused(404, "Not Found")
        return self._workflows[workflow_id]

    def _create_workflow(self, *, query: dict[str, str], body: Any) -> Answer:
        _check_workflow(body)
        now = _now()
        workflow_id = _new_id()
        self._workflows[workflow_id] = {
            "id": workflow_id,
            **_with_node_ids(body),
            "active": False,
            "activeVersionId": None,
            "versionId": str(uuid.uuid4()),
            "isArchived": False,
            "staticData": None,
            "pinData": {},
            "meta": None,
            "triggerCount": 0,
            "tags": [],
            "createdAt": now,
            "updatedAt": now,
        }
        return 200, self._render_workflow(self._workflows[workflow_id])

    def _list_workflows(self, *, query: dict[str, str], body: Any) -> Answer:
        found = list(self._workflows.values())
        if "name" in query:
            part = query["name"].strip().lower()
            found = [w for w in found if part in w["name"].lower()]
        if query.get("tags"):
            names = {name.strip() for name in query["tags"].split(",")}
            wanted = {t["id"] for t in self._tags.values() if t["name"] in names}
            found = [w for w in found if wanted and wanted <= set(w["tags"])]
        if "active" in query:
            found = [w for w in found if w["active"] == _boolean(query, "active")]
        return 200, self._offset_page([self._render_workflow(w) for w in found], query)

    def _get_workflow(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        return 200, self._render_workflow(self._workflow(workflow_id))

    def _update_workflow(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        stored = self._workflow(workflow_id)
        _check_workflow(body)
        updated = {**stored, **_with_node_ids(body), "versionId": str(uuid.uuid4()), "updatedAt": _now()}
        if updated["active"]:
            self._may_activate(updated)
            updated["activeVersionId"] = updated["versionId"]
        self._workflows[workflow_id] = updated
        return 200, self._render_workflow(updated)

    def _delete_workflow(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        stored = self._workflow(workflow_id)
        del self._workflows[workflow_id]
        return 200, self._render_workflow(stored)

    def _may_activate(self, workflow: dict[str, Any]) -> None:
        if not any(_activates(node) for node in workflow["nodes"]):
            raise _Refused(400, NO_TRIGGER)
        refusal = self.activation_rule(self._render_workflow(workflow)) if self.activation_rule else None
        if refusal:
            raise _Refused(400, refusal)

    def _activate(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        stored = self._workflow(workflow_id)
        self._may_activate(stored)
        stored.update(active=True, activeVersionId=stored["versionId"], updatedAt=_now())
        return 200, self._render_workflow(stored)

    def _deactivate(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        stored = self._workflow(workflow_id)
        stored.update(active=False, activeVersionId=None, updatedAt=_now())
        return 200, self._render_workflow(stored)

    def _get_workflow_tags(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        return 200, self._render_workflow(self._workflow(workflow_id))["tags"]

    def _set_workflow_tags(self, workflow_id: str, *, query: dict[str, str], body: Any) -> Answer:
        stored = self._workflow(workflow_id)
        if not isinstance(body, list) or not all(isinstance(t, dict) and set(t) == {"id"} for t in body):
            raise _Refused(400, "request/body must be array of {id}")
        ids = [t["id"] for t in body]
        if any(tag_id not in self._tags for tag_id in ids):
            raise _Refused(404, "Some tags not found")
        stored["tags"] = list(dict.fromkeys(ids))
        return 200, self._render_workflow(stored)["tags"]

    # --- tags ---

    def _list_tags(self, *, query: dict[str, str], body: Any) -> Answer:
        return 200, self._offset_page(copy.deepcopy(list(self._tags.values())), query)

    def _create_tag(self, *, query: dict[str, str], body: Any) -> Answer:
        if not isinstance(body, dict) or "name" not in body:
            raise _Refused(400, "request/body must have required property 'name'")
        if set(body) - {"name"}:
            raise _Refused(400, "request/body must NOT have additional properties")
        name = str(body["name"]).strip()
        if any(t["name"] == name for t in self._tags.values()):
            raise _Refused(409, "Tag already exists")
        now = _now()
        tag = {"id": _new_id(), "name": name, "createdAt": now, "updatedAt": now}
        self._tags[tag["id"]] = tag
        return 201, copy.deepcopy(tag)

    # --- credentials ---

    def _list_credentials(self, *, query: dict[str, str], body: Any) -> Answer:
        listed = [
            {k: c[k] for k in ("id", "name", "type", "createdAt", "updatedAt")} | {"shared": []}
            for c in reversed(self._credentials.values())  # n8n: newest first
        ]
        return 200, self._offset_page(listed, query)

    def _create_credential(self, *, query: dict[str, str], body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _Refused(400, "request/body must be object")
        for field in ("name", "type", "data"):
            if field not in body:
                raise _Refused(400, f"request/body must have required property '{field}'")
        if body["type"] not in self._schemas:
            raise _Refused(400, "req.body.type is not a known type")
        problems = _data_problems(self._schemas[body["type"]], body["data"])
        if problems:
            raise _Refused(400, ",".join(f"request.body.data {p}" for p in problems))
        now = _now()
        credential = {
            "id": _new_id(),
            "name": body["name"],
            "type": body["type"],
            "data": copy.deepcopy(body["data"]),
            "createdAt": now,
            "updatedAt": now,
        }
        self._credentials[credential["id"]] = credential
        return 200, {k: v for k, v in credential.items() if k != "data"}

    def _credential_schema(self, kind: str, *, query: dict[str, str], body: Any) -> Answer:
        if kind not in self._schemas:
            raise _Refused(404, "Not Found")
        return 200, copy.deepcopy(self._schemas[kind])

    def _delete_credential(self, credential_id: str, *, query: dict[str, str], body: Any) -> Answer:
        if credential_id not in self._credentials:
            raise _Refused(404, "Not Found")
        credential = self._credentials.pop(credential_id)
        return 200, {k: v for k, v in credential.items() if k != "data"}

    # --- executions ---

    def _list_executions(self, *, query: dict[str, str], body: Any) -> Answer:
        status = query.get("status")
        if status is not None and status not in EXECUTION_STATUSES:
            allowed = ", ".join(EXECUTION_STATUSES)
            raise _Refused(400, f"request/query/status must be equal to one of the allowed values: {allowed}")
        cursor = _cursor(query)
        last_id = int(cursor.get("lastId", 0)) if cursor else 0
        limit = min(int(cursor["limit"]) if cursor else _limit(query), self.page_size)
        found = [
            e
            for number, e in sorted(self._executions.items(), reverse=True)
            if (not last_id or number < last_id)
            and e["workflowId"] == query.get("workflowId", e["workflowId"])
            and e["status"] == (status or e["status"])
        ]
        page = found[:limit]
        more = len(found) > limit
        next_cursor = _encode({"lastId": page[-1]["id"], "limit": limit}) if more else None
        return 200, {"data": copy.deepcopy(page), "nextCursor": next_cursor}

    def _get_execution(self, execution_id: str, *, query: dict[str, str], body: Any) -> Answer:
        found = self._executions.get(int(execution_id)) if execution_id.isdigit() else None
        if found is None:
            raise _Refused(404, "Not Found")
        return 200, copy.deepcopy(found)

    def _webhook(self, method: str, path: str) -> Answer:
        for workflow in self._workflows.values():
            if workflow["active"] and _listens(workflow, method, path):
                self._add_execution(workflow["id"], "success", "webhook")
                return 200, {"message": "Workflow was started"}
        return 404, {
            "code": 404,
            "message": f'The requested webhook "{method} {path}" is not registered.',
            "hint": "The workflow must be active for a production URL to run successfully.",
        }

    def _settings(self, *, query: dict[str, str], body: Any) -> Answer:
        """The settings n8n gives anyone: its version only to a browser session, so not here."""
        return 200, {"data": {"settingsMode": "public", "defaultLocale": "en", "previewMode": False}}

    def _editor(self, *, query: dict[str, str], body: Any) -> Answer:
        """The editor page, with the version in the Sentry config n8n writes into it."""
        sentry = json.dumps({"dsn": "", "environment": "development", "release": f"n8n@{self.version}"})
        meta = f'<meta name="n8n:config:sentry" content="{base64.b64encode(sentry.encode()).decode()}">'
        return 200, f"<!DOCTYPE html><html><head>{meta}<title>n8n.io</title></head><body></body></html>"

    def _offset_page(self, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        cursor = _cursor(query)
        offset = int(cursor.get("offset", 0)) if cursor else 0
        limit = min(int(cursor["limit"]) if cursor else _limit(query), self.page_size)
        more = len(items) > offset + limit
        next_cursor = _encode({"limit": limit, "offset": offset + limit}) if more else None
        return {"data": items[offset : offset + limit], "nextCursor": next_cursor}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeN8n) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout) closes its end; writing to it then fails, and that is fine."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without this, 40 ms per answer
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `requests`, not stderr."""

    def _serve(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        script = fake._take_script(self.command, parts.path)
        record = Request(self.command, parts.path, query, _parsed(raw), None)
        if fake.down or (script is not None and script.drop):
            fake._record(record)
            self.close_connection = True  # nothing written: the client sees the connection dropped
            return
        if script is not None and script.status is not None:
            fake._record(
                Request(record.method, record.path, query, record.body, script.status, scripted=True)
            )
            self._send(script.status, script.body, script.headers)
            return
        if script is not None and script.delay:
            fake._stopping.wait(script.delay)
        status, payload = fake._answer(
            self.command, parts.path, query, raw, self.headers.get("X-N8N-API-KEY")
        )
        fake._record(Request(record.method, record.path, query, record.body, status))
        if isinstance(payload, str):
            self._send(status, payload.encode(), (("Content-Type", "text/html; charset=utf-8"),))
        else:
            self._send(status, json.dumps(payload).encode(), (("Content-Type", "application/json"),))

    def _send(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_ROUTE_TABLE: list[tuple[str, str, Callable[..., Answer]]] = [
    ("GET", r"/", FakeN8n._editor),
    ("GET", r"/rest/settings", FakeN8n._settings),
    ("GET", r"/api/v1/workflows", FakeN8n._list_workflows),
    ("POST", r"/api/v1/workflows", FakeN8n._create_workflow),
    ("GET", r"/api/v1/workflows/([^/]+)", FakeN8n._get_workflow),
    ("PUT", r"/api/v1/workflows/([^/]+)", FakeN8n._update_workflow),
    ("DELETE", r"/api/v1/workflows/([^/]+)", FakeN8n._delete_workflow),
    ("POST", r"/api/v1/workflows/([^/]+)/activate", FakeN8n._activate),
    ("POST", r"/api/v1/workflows/([^/]+)/deactivate", FakeN8n._deactivate),
    ("GET", r"/api/v1/workflows/([^/]+)/tags", FakeN8n._get_workflow_tags),
    ("PUT", r"/api/v1/workflows/([^/]+)/tags", FakeN8n._set_workflow_tags),
    ("GET", r"/api/v1/tags", FakeN8n._list_tags),
    ("POST", r"/api/v1/tags", FakeN8n._create_tag),
    ("GET", r"/api/v1/credentials", FakeN8n._list_credentials),
    ("POST", r"/api/v1/credentials", FakeN8n._create_credential),
    ("GET", r"/api/v1/credentials/schema/([^/]+)", FakeN8n._credential_schema),
    ("DELETE", r"/api/v1/credentials/([^/]+)", FakeN8n._delete_credential),
    ("GET", r"/api/v1/executions", FakeN8n._list_executions),
    ("GET", r"/api/v1/executions/([^/]+)", FakeN8n._get_execution),
]
_ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in _ROUTE_TABLE]

_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _check_workflow(body: Any) -> None:
    """n8n's `workflow` schema as a client meets it: the four writable fields, nodes and settings closed."""
    if not isinstance(body, dict):
        raise _Refused(400, "request/body must be object")
    for field in WORKFLOW_FIELDS:
        if field not in body:
            raise _Refused(400, f"request/body must have required property '{field}'")
    for field in body:
        if field in READ_ONLY_FIELDS:
            raise _Refused(400, f"request/body/{field} is read-only")
        if field not in WORKFLOW_FIELDS:
            raise _Refused(400, "request/body must NOT have additional properties")
    kinds = {"name": (str, "string"), "nodes": (list, "array"), "connections": (dict, "object")}
    kinds["settings"] = (dict, "object")
    for field, (kind, spelled) in kinds.items():
        if not isinstance(body[field], kind):
            raise _Refused(400, f"request/body/{field} must be {spelled}")
    for index, node in enumerate(body["nodes"]):
        if not isinstance(node, dict):
            raise _Refused(400, f"request/body/nodes/{index} must be object")
        if set(node) - NODE_FIELDS:
            raise _Refused(400, f"request/body/nodes/{index} must NOT have additional properties")
    if set(body["settings"]) - SETTINGS_FIELDS:
        raise _Refused(400, "request/body/settings must NOT have additional properties")


def _with_node_ids(body: dict[str, Any]) -> dict[str, Any]:
    """The four fields, each node given an id when it has none (as n8n's addNodeIds does)."""
    written = copy.deepcopy({field: body[field] for field in WORKFLOW_FIELDS})
    for node in written["nodes"]:
        node.setdefault("id", str(uuid.uuid4()))
    return written


def _listens(workflow: dict[str, Any], method: str, path: str) -> bool:
    """A Webhook node with a webhookId listens on its path; without, on `<workflow id>/<node name>/<path>`."""
    for node in workflow["nodes"]:
        if node.get("type") != "n8n-nodes-base.webhook" or node.get("disabled"):
            continue
        parameters = node.get("parameters", {})
        own = str(parameters.get("path", "")).strip("/")
        listened = own if node.get("webhookId") else f"{workflow['id']}/{node.get('name', '')}/{own}"
        if listened == path.strip("/") and parameters.get("httpMethod", "GET") == method:
            return True
    return False


def _data_problems(schema: dict[str, Any], data: Any) -> list[str]:
    """The messages of the `jsonschema` package n8n checks `data` with, for the rules its schemas use:
    required, additionalProperties false, string types and allOf of if(enum)/then(required)."""
    if not isinstance(data, dict):
        return ["is not of a type(s) object"]
    properties: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))
    for condition in schema.get("allOf", []):
        if _holds(condition.get("if", {}), data):
            then = condition.get("then", {}).get("allOf", [])
            required += [name for part in then for name in part.get("required", [])]
    problems = [f'requires property "{name}"' for name in dict.fromkeys(required) if name not in data]
    if schema.get("additionalProperties") is False:
        problems += [
            f'is not allowed to have the additional property "{k}"' for k in data if k not in properties
        ]
    for name, value in data.items():
        if properties.get(name, {}).get("type") == "string" and not isinstance(value, str):
            problems.append(f"is not of a type(s) string: {name}")
    return problems


def _holds(test: dict[str, Any], data: dict[str, Any]) -> bool:
    """A JSON Schema `if` of enums: it holds unless a present field is outside its enum."""
    return all(
        name not in data or data[name] in prop.get("enum", [data[name]])
        for name, prop in test.get("properties", {}).items()
    )


def _activates(node: dict[str, Any]) -> bool:
    kind = str(node.get("type", ""))
    if node.get("disabled") or kind in NOT_ACTIVATING:
        return False
    return kind in ACTIVATING_TYPES or kind.endswith("Trigger")


def _cursor(query: dict[str, str]) -> dict[str, Any] | None:
    if not query.get("cursor"):
        return None
    try:
        decoded = json.loads(base64.b64decode(query["cursor"], validate=True))
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict) or "limit" not in decoded:
        raise _Refused(400, "An invalid cursor was provided")
    return decoded


def _encode(cursor: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(cursor).encode()).decode()


def _limit(query: dict[str, str]) -> int:
    raw = query.get("limit", "100")
    try:
        limit = float(raw)
    except ValueError:
        raise _Refused(400, "request/query/limit must be number") from None
    if limit > MAX_LIMIT:
        raise _Refused(400, f"request/query/limit must be <= {MAX_LIMIT}")
    return max(1, int(limit))


def _boolean(query: dict[str, str], name: str) -> bool:
    if query[name] not in ("true", "false"):
        raise _Refused(400, f"request/query/{name} must be boolean")
    return query[name] == "true"


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _new_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stack_trace(message: str) -> str:
    frames: Iterator[str] = (
        f"    at {where} (/usr/local/lib/node_modules/n8n/dist/{file}.js:{line}:17)"
        for where, file, line in (
            ("WorkflowService.update", "workflows/workflow.service", 231),
            ("async Object.handler", "public-api/v1/handlers/workflows/workflows.handler", 88),
            ("async Layer.handle", "node_modules/express/lib/router/layer", 95),
        )
    )
    return "\n".join([f"Error: {message}", *frames])

"""Real HTTP servers on 127.0.0.1 that speak just enough of two inference APIs for provider tests.

Each server answers from a scripted queue per (method, path), falls back to a standing reply,
and records every request it receives (method, path, headers, raw body bytes), so tests assert
on exactly what went over the wire. `AnthropicServer` speaks the Messages API, `OpenAIServer`
the OpenAI chat-completions dialect served by vLLM.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # held before answering, to play a slow server


class ReceivedRequest(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


_NOT_SCRIPTED = Reply(status=404, body=b'{"type":"error","error":{"type":"not_found_error","message":"x"}}')


class ScriptedServer:
    """A ThreadingHTTPServer on an ephemeral loopback port, run in a background thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # another address of this machine plays a sidecar off the loopback
        self.requests: list[ReceivedRequest] = []
        self._queues: dict[tuple[str, str], deque[Reply]] = {}
        self._standing: dict[tuple[str, str], Reply] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> None:
        self._httpd = _HTTPServer((self.host, 0), _Handler)
        self._httpd.script = self
        # A short poll keeps shutdown() (once per test) from costing the default half second.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()  # releases handlers still holding a delayed reply
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def enqueue(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._queues.setdefault((method, path), deque()).extend(replies)

    def serve_always(self, method: str, path: str, reply: Reply) -> None:
        with self._lock:
            self._standing[(method, path)] = reply

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [request for request in self.requests if path is None or request.path == path]

    def take_reply(self, request: ReceivedRequest) -> Reply:
        key = (request.method, request.path)
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
            return self._standing.get(key, _NOT_SCRIPTED)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    script: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are the point of some tests: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = ReceivedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers=tuple(self.headers.items()),
            body=self.rfile.read(length),
        )
        script = self.server.script
        reply = script.take_reply(request)
        if reply.delay_s and script.stopping.wait(reply.delay_s):
            return
        with contextlib.suppress(OSError):  # the client gave up first (timeout tests)
            self._write(reply)

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


# --- Anthropic Messages API -------------------------------------------------------------------


class AnthropicUsage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int = 120
    output_tokens: int = 40
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class ToolUseBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="tool_use"):
    id: str = "toolu_01A09q90qw90lq917835lq9"
    name: str
    input: msgspec.Raw


class TextBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="text"):
    text: str


class ThinkingBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="thinking"):
    thinking: str = ""
    signature: str = "sig"


class AnthropicMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: str = "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: tuple[ToolUseBlock | TextBlock | ThinkingBlock, ...]
    stop_reason: str = "tool_use"
    stop_sequence: str | None = None
    usage: AnthropicUsage = AnthropicUsage()


class AnthropicErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    message: str


class AnthropicError(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["error"] = "error"
    error: AnthropicErrorDetail


class AnthropicModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["model"] = "model"
    id: str
    display_name: str = "Claude"
    created_at: str = "2026-09-28T00:00:00Z"


class AnthropicModelPage(msgspec.Struct, frozen=True, kw_only=True):
    data: tuple[AnthropicModelInfo, ...]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


class AnthropicServer(ScriptedServer):
    MESSAGES = "/v1/messages"

    def serve_models(self, *model_ids: str) -> None:
        page = AnthropicModelPage(data=tuple(AnthropicModelInfo(id=model_id) for model_id in model_ids))
        self.serve_always("GET", "/v1/models", Reply(body=msgspec.json.encode(page)))

    def reply_message(self, message: AnthropicMessage, *, delay_s: float = 0.0) -> None:
        self.enqueue("POST", self.MESSAGES, Reply(body=msgspec.json.encode(message), delay_s=delay_s))

    def reply_tool_use(
        self, name: str, tool_input: object, *, model: str, usage: AnthropicUsage | None = None
    ) -> None:
        block = ToolUseBlock(name=name, input=msgspec.Raw(msgspec.json.encode(tool_input)))
        self.reply_message(AnthropicMessage(model=model, content=(block,), usage=usage or AnthropicUsage()))

    def reply_error(self, status: int, error_type: str, *, retry_after: str | None = None) -> None:
        body = AnthropicError(error=AnthropicErrorDetail(type=error_type, message=f"scripted {error_type}"))
        headers = (("retry-after", retry_after),) if retry_after is not None else ()
        self.enqueue(
            "POST", self.MESSAGES, Reply(status=status, body=msgspec.json.encode(body), headers=headers)
        )

    def messages_received(self) -> list[ReceivedRequest]:
        return self.received(self.MESSAGES)


# --- OpenAI chat completions (vLLM) ------------------------------------------------------------


class ChatAnswer(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["assistant"] = "assistant"
    content: str | None


class ChatChoice(msgspec.Struct, frozen=True, kw_only=True):
    index: int = 0
    message: ChatAnswer
    finish_reason: str = "stop"


class PromptTokensDetails(msgspec.Struct, frozen=True, kw_only=True):
    cached_tokens: int


class ChatUsage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int = 300
    completion_tokens: int = 25
    total_tokens: int = 325
    prompt_tokens_details: PromptTokensDetails | None = None


class ChatCompletion(msgspec.Struct, frozen=True, kw_only=True):
    id: str = "chatcmpl-0123456789"
    object: Literal["chat.completion"] = "chat.completion"
    created: int = 1_767_225_600
    model: str
    choices: tuple[ChatChoice, ...]
    usage: ChatUsage = ChatUsage()


class ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "vllm"
    max_model_len: int = 32768


class ModelList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: tuple[ModelCard, ...]


class OpenAIServer(ScriptedServer):
    CHAT = "/v1/chat/completions"

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.serve_always("GET", "/health", Reply(status=200))

    def serve_models(self, *model_ids: str) -> None:
        models = ModelList(data=tuple(ModelCard(id=model_id) for model_id in model_ids))
        self.serve_always("GET", "/v1/models", Reply(body=msgspec.json.encode(models)))

    def reply_content(
        self, content: str | None, *, model: str, usage: ChatUsage | None = None, status: int = 200
    ) -> None:
        choice = ChatChoice(message=ChatAnswer(content=content))
        completion = ChatCompletion(model=model, choices=(choice,), usage=usage or ChatUsage())
        self.enqueue("POST", self.CHAT, Reply(status=status, body=msgspec.json.encode(completion)))

    def reply_status(self, status: int, *, retry_after: str | None = None) -> None:
        headers = (("retry-after", retry_after),) if retry_after is not None else ()
        body = b'{"object":"error","message":"scripted","type":"ServiceUnavailable","code":503}'
        self.enqueue("POST", self.CHAT, Reply(status=status, body=body, headers=headers))

    def chats_received(self) -> list[ReceivedRequest]:
        return self.received(self.CHAT)

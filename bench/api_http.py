"""HTTP/1.1 over raw asyncio for the API benchmark: a keep-alive client, the Python load generator (used
when `wrk` is absent) and the SSE subscribers. Loopback only: every address here is 127.0.0.1.

No httpx on the hot paths: httpx costs about ten times more client CPU per request than these few lines,
and on two cores the client's CPU is taken from the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import msgspec

HOST = "127.0.0.1"


class HttpError(RuntimeError):
    """The connection broke or the answer was not HTTP/1.1 as expected."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {HOST}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> Response:
        self.writer.write(raw)
        return await self.read_response()

    async def read_response(self) -> Response:
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            self.closed = True
            raise HttpError(f"no response: {exc!r}") from None
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            self.closed = True
            raise HttpError(f"not HTTP: {status_line!r}")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.closed = True
            raise HttpError(f"truncated body: {exc!r}") from None
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(int(parts[1]), headers, body)

    async def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return bytes(body)
            body += (await self.reader.readexactly(size + 2))[:-2]

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


# --- the Python load generator (the stand-in for wrk) -------------------------------------------------


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def merge(self, other: LoadResult) -> None:
        self.requests += other.requests
        self.seconds = max(self.seconds, other.seconds)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.errors += other.errors
        self.latencies_ms += other.latencies_ms


async def _hammer(port: int, raw: bytes, connections: int, seconds: float) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + seconds

    async def one_connection() -> None:
        conn: Conn | None = None
        while time.perf_counter() < deadline:
            try:
                if conn is None or conn.closed:
                    conn = await Conn.open(port)
                sent = time.perf_counter()
                response = await conn.send(raw)
            except (HttpError, OSError):
                result.errors += 1
                conn = None
                await asyncio.sleep(0.01)
                continue
            result.latencies_ms.append((time.perf_counter() - sent) * 1000)
            result.requests += 1
            result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
        if conn is not None:
            await conn.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def _hammer_process(port: int, raw: bytes, connections: int, seconds: float) -> LoadResult:
    return asyncio.run(_hammer(port, raw, connections, seconds))


def python_load(port: int, raw: bytes, *, processes: int, connections: int, seconds: float) -> LoadResult:
    """`processes` processes (like wrk's threads), `connections` keep-alive connections in all, each
    sending `raw` again as soon as the previous answer is in (closed loop, like wrk)."""
    context = multiprocessing.get_context("spawn")
    per = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    with context.Pool(processes) as pool:
        parts = pool.starmap(_hammer_process, [(port, raw, n, seconds) for n in per])
    total = LoadResult()
    for part in parts:
        total.merge(part)
    return total


# --- SSE subscribers, in a process of their own ------------------------------------------------------


class _Envelope(msgspec.Struct):
    id: str


_envelope = msgspec.json.Decoder(_Envelope)


class _Subscriber(asyncio.Protocol):
    """Keeps every chunk with the monotonic time it arrived; parsing waits until the end, so the time
    taken per delivery on the hot path is one `perf_counter()` and one list append."""

    def __init__(self, raw_request: bytes, ready: asyncio.Future[int]) -> None:
        self.raw_request, self.ready = raw_request, ready
        self.chunks: list[tuple[float, bytes]] = []
        self.head = b""
        self.status = 0
        self.closed_at: float | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.raw_request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.status:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head.split(b" ", 2)[1])
            rest = self.head[end + 4 :]
            if not self.ready.done():
                self.ready.set_result(self.status)
            if rest:
                self.chunks.append((now, rest))
            return
        self.chunks.append((now, data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_at = time.perf_counter()
        if not self.ready.done():
            self.ready.set_result(0)

    def deliveries(self) -> list[tuple[str, float]]:
        """(CloudEvent id, monotonic time its SSE message was complete), in arrival order."""
        found: list[tuple[str, float]] = []
        buffer = bytearray()
        times: list[tuple[int, float]] = []  # (end offset in buffer, arrival time)
        for at, data in self.chunks:
            buffer += data
            times.append((len(buffer), at))
        start = 0
        while True:  # Litestar ends SSE lines with CRLF; each event's JSON is one `data:` line
            begin = buffer.find(b"\ndata: ", start)
            if begin < 0:
                return found
            end = buffer.find(b"\r\n", begin + 7)
            if end < 0:
                return found
            start = end
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                found.append((_envelope.decode(buffer[begin + 7 : end]).id, _time_at(times, end + 1)))


def _time_at(times: Sequence[tuple[int, float]], offset: int) -> float:
    low, high = 0, len(times) - 1
    while low < high:  # the first chunk whose end is past `offset`
        middle = (low + high) // 2
        if times[middle][0] > offset:
            high = middle
        else:
            low = middle + 1
    return times[low][1]


@dataclass
class FanOut:
    opened: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    connect_seconds: float = 0.0
    closed_by_server: int = 0
    deliveries: list[list[tuple[str, float]]] = field(default_factory=list)
    bytes_received: int = 0
    chunks_received: int = 0
    client_cpu_s: float = 0.0  # CPU of the subscriber process from "ready" to "finish"


async def _subscribe_all(port: int, raw: bytes, count: int, at_once: int, pipe: Connection) -> FanOut:
    loop = asyncio.get_running_loop()
    subs: list[_Subscriber] = []
    out = FanOut()
    gate = asyncio.Semaphore(at_once)  # subscriptions being opened at once (until their 200 is in)

    async def one() -> None:
        async with gate:
            ready: asyncio.Future[int] = loop.create_future()
            sub = _Subscriber(raw, ready)
            try:
                await loop.create_connection(lambda: sub, HOST, port)
                status = await asyncio.wait_for(ready, timeout=30)
            except (OSError, TimeoutError) as exc:
                out.failed[type(exc).__name__] = out.failed.get(type(exc).__name__, 0) + 1
                return
            if status != 200:
                out.failed[f"HTTP {status}"] = out.failed.get(f"HTTP {status}", 0) + 1
                return
            subs.append(sub)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    out.connect_seconds = time.perf_counter() - started
    out.opened = len(subs)
    pipe.send(("ready", out.opened, out.failed))
    cpu_at_ready = time.process_time()
    while True:  # the parent posts events now; we receive, and answer "closed?" until "finish"
        told = asyncio.Event()
        loop.add_reader(pipe.fileno(), told.set)
        await told.wait()
        loop.remove_reader(pipe.fileno())
        if pipe.recv() == "finish":
            break
        pipe.send(("closed", sum(1 for s in subs if s.closed_at is not None)))
    out.client_cpu_s = time.process_time() - cpu_at_ready
    out.closed_by_server = sum(1 for s in subs if s.closed_at is not None)
    for sub in subs:
        if sub.transport is not None:
            sub.transport.close()
    out.deliveries = [sub.deliveries() for sub in subs]
    out.bytes_received = sum(len(d) for s in subs for _, d in s.chunks)
    out.chunks_received = sum(len(s.chunks) for s in subs)
    return out


def _subscriber_process(port: int, raw: bytes, count: int, at_once: int, pipe: Connection) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    result = asyncio.run(_subscribe_all(port, raw, count, at_once, pipe))
    pipe.send(("done", result))


class Subscribers:
    """`count` SSE connections held by a child process, opened `at_once` at a time; `ready()` once they
    answered 200, `finish()` to close them and collect every delivery with its arrival time (monotonic
    clock, the same in every process)."""

    def __init__(self, port: int, raw: bytes, count: int, at_once: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_subscriber_process, args=(port, raw, count, at_once, child), daemon=True
        )

    def start(self) -> None:
        self._process.start()

    def ready(self, timeout: float) -> tuple[int, dict[str, int]]:
        if not self._pipe.poll(timeout):
            raise TimeoutError("the SSE subscribers did not connect in time")
        _, opened, failed = self._pipe.recv()
        return opened, failed

    def closed(self) -> int:
        """How many of the open subscriptions the server has closed so far."""
        self._pipe.send("closed?")
        if not self._pipe.poll(60):
            raise TimeoutError("the SSE subscriber process did not answer")
        return int(self._pipe.recv()[1])

    def finish(self, timeout: float = 300) -> FanOut:
        self._pipe.send("finish")
        if not self._pipe.poll(timeout):
            raise TimeoutError("the SSE subscriber process did not report")
        _, result = self._pipe.recv()
        self._process.join(30)
        if not isinstance(result, FanOut):
            raise TypeError(f"the subscriber process sent {type(result).__name__}")
        return result

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

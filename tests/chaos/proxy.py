"""A TCP proxy on loopback that slows or cuts the connections through it, in front of Redis or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from infra.stopping import STOP_TIMEOUT_S, settle

CHUNK = 65536


@dataclass
class FaultProxy:
    target_port: int
    latency_s: float = 0.0  # added before each chunk is passed on, both ways
    resets: int = 0
    _server: asyncio.Server | None = field(default=None, init=False)
    _links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set, init=False)
    _pumps: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def reset_all(self) -> int:
        """Cut every connection at once, without a goodbye (the kernel sends a reset); returns how many."""
        cut = len(self._links)
        for client, upstream in list(self._links):
            client.transport.abort()
            upstream.transport.abort()
        self._links.clear()
        self.resets += cut
        return cut

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset_all()
        await settle(self._pumps, STOP_TIMEOUT_S, "proxy pumps", cancel_first=True)

    async def _link(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client.transport.abort()
            return
        link = (client, upstream)
        self._links.add(link)
        for reader, writer in ((client_reader, upstream), (upstream_reader, client)):
            pump = asyncio.create_task(self._pump(reader, writer, link))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(CHUNK):
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                writer.write(chunk)
                await writer.drain()
        if link in self._links:  # one side ended: end the other, as a TCP peer would see it
            self._links.discard(link)
            for side in link:
                side.close()

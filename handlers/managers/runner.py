"""A process manager on the handler runtime: its own consumer group on every partition log, ordered
per partition (one holder, fenced by its lease), the events of different conversations handled
concurrently, those of one conversation one after another, in log order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from domain.envelope import Envelope
from domain.errors import ShreddedSubject
from handlers.managers.steps import ManagerDeps
from handlers.runtime.records import LogRecord
from infra import tracing
from infra.main_job_metrics import timed_step

log = logging.getLogger(__name__)
Handler = Callable[[ManagerDeps, Envelope], Awaitable[None]]
CONCURRENT_STREAMS = 16


def group_of(manager: str) -> str:
    """The consumer group a process manager reads the partition logs with."""
    return f"manager.{manager}"


class ManagerProcessor:
    def __init__(
        self, name: str, deps: ManagerDeps, handles: Callable[[Envelope], bool], handle: Handler
    ) -> None:
        self.name, self.group = name, group_of(name)
        self._deps, self._handles, self._handle = deps, handles, handle
        self._slots = asyncio.Semaphore(CONCURRENT_STREAMS)

    async def on_acquired(self, partition: int, epoch: int) -> int:
        return epoch  # fencing is the store's: derived ids make a former holder's appends no-ops

    def orders(self, records: Sequence[LogRecord]) -> bool:
        """Only the events it handles: a batch of others changes nothing, whatever precedes it."""
        return any(r.envelope is not None and self._handles(r.envelope) for r in records)

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        """Every record of ours counts: a step already done finds it done and changes nothing."""
        streams: dict[str, list[Envelope]] = {}
        for record in records:
            if record.envelope is not None and self._handles(record.envelope):
                streams.setdefault(record.envelope.stream, []).append(record.envelope)
        try:
            async with asyncio.TaskGroup() as group:
                for envelopes in streams.values():
                    group.create_task(self._in_order(envelopes))
        except ExceptionGroup as failed:  # the batch is redone; its first failure says why
            raise failed.exceptions[0] from failed
        return sum(1 for r in records if r.envelope is not None)

    async def _in_order(self, envelopes: Sequence[Envelope]) -> None:
        async with self._slots:
            for envelope in envelopes:
                try:
                    with (
                        self._span(envelope),
                        timed_step(self.name),
                    ):
                        await self._handle(self._deps, envelope)
                except ShreddedSubject as erased:  # nothing may be written for it any more: done with it
                    log.info("%s: %s %s skipped: %s", self.name, envelope.type, envelope.id, erased)

    def _span(self, envelope: Envelope) -> contextlib.AbstractContextManager[None]:
        if not tracing.enabled():  # not even the span's name and attributes are built
            return contextlib.nullcontext()
        return tracing.event_span(f"{self.name} {envelope.type}", envelope.traceparent, self._about(envelope))

    def _about(self, envelope: Envelope) -> dict[str, str | int]:
        about: dict[str, str | int] = {
            "aiwf.manager": self.name,
            "aiwf.event.type": envelope.type,
            "aiwf.event.id": envelope.id,
            "aiwf.stream": envelope.stream,
        }
        agent = getattr(envelope.data, "agent", None)  # which specialist a delegation asks
        if agent is not None:
            about["aiwf.agent"] = str(agent)
        return about

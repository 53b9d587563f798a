"""Whose fault a failed batch is: the infrastructure's (retry, never dead-letter) or the event's.

A healthy event must never be dead-lettered because the worker was fenced, PostgreSQL restarted or Redis
was unreachable: those failures say nothing about the event, and they are retried without counting.
"""

from __future__ import annotations

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from handlers.runtime.lease import Held, LeaseLost

_TRANSIENT: tuple[type[BaseException], ...] = (
    LeaseLost,
    Held,  # another consumer carries the step out now: redo it once it is done
    OSError,  # ConnectionError, socket errors
    TimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # a connection closed or released under us
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown, query canceled
    asyncpg.InsufficientResourcesError,  # disk full, out of memory
    asyncpg.TransactionRollbackError,  # serialization failure, deadlock
)


def is_transient(exc: BaseException) -> bool:
    """True when the failure is the infrastructure's, so retrying later may succeed."""
    return isinstance(exc, _TRANSIENT)

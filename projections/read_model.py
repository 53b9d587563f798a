"""How a read model meets PostgreSQL: two shapes cover every model so far.

- `DocumentModel`: one row per key, folded (`evolve(row | None, event) -> row | None`). A batch loads the
  rows it touches in one query, folds in memory, and upserts what changed.
- `AppendModel`: rows derived from single events (`rows_of(event)`), copied in with COPY. Exactly-once
  comes from the projector's checkpoint, so no conflict handling is needed.

A model derived from others of its projector (the SBOMs, projections/sbom_model.py) keeps the same
`ReadModel` contract.

Table names are passed in, so the same code fills the live tables and the shadow tables of a rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from projections.events import ProjectedEvent

Row = TypeVar("Row", bound=msgspec.Struct)
# A connection of its own or one borrowed from a pool: both run the same statements.
if TYPE_CHECKING:
    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]
else:
    Conn = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class RowCodec(Generic[Row]):
    """Row Struct ↔ table record. The default maps Struct fields to columns one to one."""

    row_type: type[Row]
    columns: tuple[str, ...]
    to_record: Callable[[Row], tuple[Any, ...]]
    from_record: Callable[[Any], Row]  # an asyncpg Record


def plain_codec(row_type: type[Row]) -> RowCodec[Row]:
    columns = row_type.__struct_fields__
    return RowCodec(
        row_type=row_type,
        columns=columns,
        to_record=msgspec.structs.astuple,
        from_record=lambda record: row_type(**{c: record[c] for c in columns}),
    )


@dataclass(frozen=True)
class DocumentModel(Generic[Row]):
    table: str
    key: str
    codec: RowCodec[Row]
    key_of: Callable[[ProjectedEvent], str | None]
    evolve: Callable[[Row | None, ProjectedEvent], Row | None]

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table,)

    def touches(self, event: ProjectedEvent) -> bool:
        return self.key_of(event) is not None

    async def apply(self, conn: Conn, events: Sequence[ProjectedEvent], names: Mapping[str, str]) -> None:
        touched = [(key, e) for e in events if (key := self.key_of(e)) is not None]
        if not touched:
            return
        table = names[self.table]
        rows = await self._load(conn, table, {key for key, _ in touched})
        changed: dict[str, Row] = {}
        for key, event in touched:
            row = self.evolve(rows.get(key), event)
            if row is not None:
                rows[key] = changed[key] = row
        await self._upsert(conn, table, changed.values())

    async def _load(self, conn: Conn, table: str, keys: set[str]) -> dict[str, Row]:
        columns = ", ".join(self.codec.columns)
        sql = f"SELECT {columns} FROM {table} WHERE {self.key} = ANY($1::text[])"
        records = await conn.fetch(sql, list(keys))
        return {record[self.key]: self.codec.from_record(record) for record in records}

    async def _upsert(self, conn: Conn, table: str, rows: Any) -> None:
        columns = self.codec.columns
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != self.key)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {updates}"
        )
        await conn.executemany(sql, [self.codec.to_record(row) for row in rows])


@dataclass(frozen=True)
class AppendModel(Generic[Row]):
    table: str
    codec: RowCodec[Row]
    rows_of: Callable[[ProjectedEvent], list[Row]]
    # A rebuild indexes append-only tables once filled, unless another model of the projector reads
    # them while it folds (then every chunk would scan the whole table).
    read_while_folding: bool = False

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table,)

    def touches(self, event: ProjectedEvent) -> bool:
        return bool(self.rows_of(event))

    async def apply(self, conn: Conn, events: Sequence[ProjectedEvent], names: Mapping[str, str]) -> None:
        records = [self.codec.to_record(row) for event in events for row in self.rows_of(event)]
        if records:
            await conn.copy_records_to_table(
                names[self.table], records=records, columns=list(self.codec.columns)
            )


class ReadModel(Protocol):
    """What a projector asks of a read model: its tables, and how a batch of events changes them."""

    @property
    def tables(self) -> tuple[str, ...]: ...

    def touches(self, event: ProjectedEvent) -> bool:
        """Whether `apply` would change anything for this event (a pure function of the event)."""

    async def apply(self, conn: Conn, events: Sequence[ProjectedEvent], names: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class ProjectorSpec:
    """Read models folded together, in one transaction, under one checkpoint per partition."""

    name: str
    models: tuple[ReadModel, ...]

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(t for model in self.models for t in model.tables)

    def touches(self, events: Sequence[ProjectedEvent]) -> bool:
        """Whether folding `events` changes any read model (else only the checkpoint moves)."""
        return any(model.touches(event) for event in events for model in self.models)

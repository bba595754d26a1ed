"""The durable local copy of the list, and its cursor, behind a narrow interface.

SQLite by default (WAL, synchronous=FULL), PostgreSQL when the store URL
says so. Every change page and its cursor commit in one transaction. A
snapshot is written as the next *generation* of rows and becomes the list in
one transaction at its end, when `sync_state` names the new generation and
the old rows go. An interrupted sync therefore leaves the list and cursor
exactly as they were after the last committed page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from reclaim.hashing import SignalType
from reclaim.matcher.records import ListRecord
from reclaim.matcher.tables import list_records, metadata, sync_state

KINDS = {kind.value: kind for kind in SignalType}
Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where the local copy stands."""

    source: str | None
    cursor: str | None
    synced_at: datetime | None
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Applied:
    """What one committed page changed: records now listed, and those gone."""

    listed: tuple[ListRecord, ...]
    gone: tuple[ListRecord, ...]


def digest(value: str) -> int:
    """The key a value is looked up by: 64 bits of its SHA-256, signed."""
    return int.from_bytes(
        hashlib.sha256(value.encode()).digest()[:8], "big", signed=True
    )


def open_engine(url: str) -> Engine:
    """An engine on the store; SQLite files get WAL and durable commits."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Columns added since a store was created (create_all adds only tables)."""
    present = {c["name"] for c in inspect(engine).get_columns("matches")}
    if "related" not in present:
        with engine.begin() as connection:
            connection.execute(
                text("ALTER TABLE matches ADD COLUMN related TEXT NOT NULL DEFAULT ''")
            )


class ListStore:
    """The list's records and cursor in the local database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        _add_missing_columns(engine)
        # The driver's placeholder: qmark (sqlite3) or format (psycopg).
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def state(self) -> SyncState:
        """The stored cursor (None before the first sync)."""
        with self.engine.connect() as connection:
            return self._state(connection)

    def _state(self, connection: Connection) -> SyncState:
        row = connection.execute(select(sync_state).where(sync_state.c.id == 1)).first()
        if row is None:
            return SyncState(None, None, None, 0)
        return SyncState(row.source, row.cursor, row.synced_at, row.generation)

    def count(self) -> int:
        """How many records are listed."""
        with self.engine.connect() as connection:
            generation = self._state(connection).generation
            query = (
                select(func.count())
                .select_from(list_records)
                .where(list_records.c.generation == generation)
            )
            return int(connection.scalar(query) or 0)

    def records(self) -> Iterator[ListRecord]:
        """Every listed record, in storage order (for building the index)."""
        # Plain DBAPI rows: at a million records the ORM-free Core path still
        # costs seconds more than the driver itself.
        mark = self._mark
        sql = (
            "SELECT kind, value, program, quality FROM list_records "
            f"WHERE generation = {mark} ORDER BY id"
        )
        with self.engine.connect() as connection:
            generation = self._state(connection).generation
            result = connection.execution_options(yield_per=50_000).exec_driver_sql(
                sql, (generation,)
            )
            pdq = SignalType.PDQ
            for kind, value, program, quality in result:
                kind_type = pdq if kind == "pdq" else KINDS[kind]
                yield ListRecord(kind_type, value, program, True, quality)

    def _insert(
        self, connection: Connection, rows: Sequence[tuple[object, ...]]
    ) -> None:
        """Insert rows of `_row` through the driver's executemany."""
        mark = self._mark
        sql = (
            "INSERT INTO list_records "
            "(generation, kind, program, digest, value, quality) VALUES "
            f"({', '.join([mark] * 6)})"
        )
        connection.exec_driver_sql(sql, list(rows))

    def apply(
        self, records: Sequence[ListRecord], *, cursor: str, source: str
    ) -> Applied:
        """Apply one page of changes and store its cursor, atomically."""
        listed: dict[Key, ListRecord] = {}
        gone: dict[Key, ListRecord] = {}
        # Within a page the last state of a key wins.
        for record in records:
            listed.pop(record.key, None)
            gone.pop(record.key, None)
            (listed if record.active else gone)[record.key] = record
        with self.engine.begin() as connection:
            generation = self._state(connection).generation
            present = self._present(connection, [*listed, *gone], generation)
            removed = [r for k, r in gone.items() if k in present]
            for record in removed:
                connection.execute(
                    delete(list_records).where(
                        list_records.c.generation == generation,
                        list_records.c.kind == record.kind.value,
                        list_records.c.program == record.program,
                        list_records.c.digest == digest(record.value),
                    )
                )
            new = [r for k, r in listed.items() if k not in present]
            if new:
                self._insert(connection, [_row(r, generation) for r in new])
            self._set_state(connection, cursor, source, generation)
        return Applied(tuple(new), tuple(removed))

    def _present(
        self, connection: Connection, keys: Sequence[Key], generation: int
    ) -> set[Key]:
        found: set[Key] = set()
        names = list({digest(value) for _, value, _ in keys})
        for start in range(0, len(names), 500):
            rows = connection.execute(
                select(
                    list_records.c.kind, list_records.c.value, list_records.c.program
                ).where(
                    list_records.c.generation == generation,
                    list_records.c.digest.in_(names[start : start + 500]),
                )
            )
            for kind, value, program in rows:
                found.add((kind, value, program))
        return found

    def begin_snapshot(self) -> int:
        """Start writing a snapshot; returns the generation to stage it as."""
        with self.engine.begin() as connection:
            current = self._state(connection).generation
            # Rows of an earlier snapshot that was cut before it finished.
            connection.execute(
                delete(list_records).where(list_records.c.generation > current)
            )
        return current + 1

    def stage(self, records: Iterable[ListRecord], *, generation: int) -> None:
        """Write snapshot records (not listed until `finish_snapshot`)."""
        rows = [_row(r, generation) for r in records if r.active]
        if rows:
            with self.engine.begin() as connection:
                self._insert(connection, rows)

    def finish_snapshot(self, *, generation: int, cursor: str, source: str) -> None:
        """Make the staged generation the list and store its cursor."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(list_records).where(list_records.c.generation != generation)
            )
            self._set_state(connection, cursor, source, generation)

    def _set_state(
        self, connection: Connection, cursor: str, source: str, generation: int
    ) -> None:
        now = datetime.now(UTC)
        values = {
            "cursor": cursor,
            "source": source,
            "synced_at": now,
            "generation": generation,
        }
        updated = connection.execute(
            sync_state.update().where(sync_state.c.id == 1).values(**values)
        )
        if not updated.rowcount:
            connection.execute(insert(sync_state).values(id=1, **values))

    def reset(self) -> None:
        """Forget the list and cursor (the next sync starts from a snapshot)."""
        with self.engine.begin() as connection:
            connection.execute(delete(list_records))
            connection.execute(delete(sync_state))


_KIND_TEXT = {kind: kind.value for kind in SignalType}
_sha256 = hashlib.sha256
_from_bytes = int.from_bytes


def _row(record: ListRecord, generation: int) -> tuple[object, ...]:
    # Inlined `digest`: this runs once per record of a snapshot.
    value = record.value
    key = _from_bytes(_sha256(value.encode()).digest()[:8], "big", signed=True)
    return (
        generation,
        _KIND_TEXT[record.kind],
        record.program,
        key,
        value,
        record.quality,
    )

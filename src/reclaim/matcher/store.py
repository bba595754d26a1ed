"""The durable local copy of the list, and its cursors, behind a narrow interface.

SQLite by default (WAL, synchronous=FULL), PostgreSQL when the store URL
says so. A `ListStore` is one source's part of the store: its rows, cursor
and generation. Every change page and its cursor commit in one transaction.
A snapshot is written as the source's next *generation* of rows and becomes
its list in one transaction at its end, when `source_state` names the new
generation and the old rows go. An interrupted sync therefore leaves the
list and cursor exactly as they were after the last committed page.

The matcher has no migration tool yet: `prepare` makes every schema change
additively (new tables, new columns with defaults, an index) and moves a
single-source store's cursor to the source "default", so a store made by an
older matcher keeps its list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
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
from reclaim.index import DEFAULT_SOURCE, ListRecord
from reclaim.matcher.desk import tables as _desk_tables
from reclaim.matcher.removals import tables as _removal_tables
from reclaim.matcher.tables import list_records, metadata, source_state, sync_state

#: Imported for their tables on `metadata`, which `prepare` creates.
_FEATURE_TABLES = (_desk_tables, _removal_tables)

KINDS = {kind.value: kind for kind in SignalType}
Key = tuple[str, str, str]  # type, value, program
Row = tuple[str, str, str, str]  # type, value, program, entry


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where one source's part of the local copy stands.

    `source` is the identity the source had when synced (kind and address).
    """

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
        # hide_parameters: no error or log shows the hashes bound to a query.
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def prepare(engine: Engine) -> None:
    """Create the tables, and bring a store made by an older matcher up to date.

    Every change is additive, so an older matcher's data stays as it was.
    """
    metadata.create_all(engine)
    columns = {
        "matches": {
            "related": "TEXT NOT NULL DEFAULT ''",
            "listings": "TEXT NOT NULL DEFAULT ''",
            "origin": "VARCHAR(16) NOT NULL DEFAULT 'upload'",
            "source": "VARCHAR(32) NOT NULL DEFAULT ''",
            "variant": "VARCHAR(32)",
        },
        "outbox": {"match_id": "BIGINT"},
        "list_records": {
            "source": f"VARCHAR(32) NOT NULL DEFAULT '{DEFAULT_SOURCE}'",
            "entry": "VARCHAR(200) NOT NULL DEFAULT ''",
            "listed_at": _TIMESTAMP[engine.dialect.name],
        },
    }
    inspector = inspect(engine)
    for table, wanted in columns.items():
        present = {c["name"] for c in inspector.get_columns(table)}
        for name, definition in wanted.items():
            if name not in present:
                with engine.begin() as connection:
                    connection.execute(
                        text(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
                    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_list_records_entry "
                "ON list_records (source, entry)"
            )
        )
        connection.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_list_records_listed_at "
                "ON list_records (listed_at)"
            )
        )
        connection.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_matches_created_at "
                "ON matches (created_at)"
            )
        )
        old = connection.execute(select(sync_state).where(sync_state.c.id == 1)).first()
        if old is not None:
            # A single-source store: its cursor becomes the source "default"'s.
            taken = connection.execute(
                select(source_state.c.name).where(source_state.c.name == DEFAULT_SOURCE)
            ).first()
            if taken is None:
                connection.execute(
                    insert(source_state).values(
                        name=DEFAULT_SOURCE,
                        identity=old.source,
                        cursor=old.cursor,
                        generation=old.generation,
                        synced_at=old.synced_at,
                    )
                )
            connection.execute(delete(sync_state))


def stored_sources(engine: Engine) -> set[str]:
    """The names of the sources the store holds rows or a cursor of."""
    with engine.connect() as connection:
        names = set(connection.scalars(select(source_state.c.name)))
        names.update(connection.scalars(select(list_records.c.source).distinct()))
    return names


def forget_sources(engine: Engine, names: Iterable[str]) -> None:
    """Drop these sources' rows and cursors (no longer in the config)."""
    for name in names:
        ListStore(engine, name=name, prepared=True).reset()


def listed_records(engine: Engine, names: Iterable[str]) -> Iterator[ListRecord]:
    """Every listed record of these sources (for building the matchable list)."""
    for name in names:
        yield from ListStore(engine, name=name, prepared=True).records()


class ListStore:
    """One source's records and cursor in the local database."""

    def __init__(
        self, engine: Engine, *, name: str = DEFAULT_SOURCE, prepared: bool = False
    ) -> None:
        self.engine = engine
        self.name = name
        if not prepared:
            prepare(engine)
        # The driver's placeholder: qmark (sqlite3) or format (psycopg).
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def state(self) -> SyncState:
        """The stored cursor (None before the first sync)."""
        with self.engine.connect() as connection:
            return self._state(connection)

    def _state(self, connection: Connection) -> SyncState:
        row = connection.execute(
            select(source_state).where(source_state.c.name == self.name)
        ).first()
        if row is None:
            return SyncState(None, None, None, 0)
        return SyncState(row.identity, row.cursor, row.synced_at, row.generation)

    def _mine(self, generation: int) -> Any:
        return (list_records.c.source == self.name) & (
            list_records.c.generation == generation
        )

    def count(self) -> int:
        """How many records this source lists."""
        with self.engine.connect() as connection:
            generation = self._state(connection).generation
            query = (
                select(func.count())
                .select_from(list_records)
                .where(self._mine(generation))
            )
            return int(connection.scalar(query) or 0)

    def records(self) -> Iterator[ListRecord]:
        """Every record this source lists, in storage order (for the index)."""
        # Plain DBAPI rows: at a million records the ORM-free Core path still
        # costs seconds more than the driver itself.
        mark = self._mark
        sql = (
            "SELECT kind, value, program, quality FROM list_records "
            f"WHERE source = {mark} AND generation = {mark} ORDER BY id"
        )
        name = self.name
        with self.engine.connect() as connection:
            generation = self._state(connection).generation
            result = connection.execution_options(yield_per=50_000).exec_driver_sql(
                sql, (name, generation)
            )
            pdq = SignalType.PDQ
            for kind, value, program, quality in result:
                kind_type = pdq if kind == "pdq" else KINDS[kind]
                yield ListRecord(kind_type, value, program, True, quality, name)

    def _insert(
        self, connection: Connection, rows: Sequence[tuple[object, ...]]
    ) -> None:
        """Insert rows of `_row` through the driver's executemany, stamped
        with the time they were listed here."""
        mark = self._mark
        sql = (
            "INSERT INTO list_records (generation, kind, program, digest, value, "
            f"quality, source, entry, listed_at) VALUES ({', '.join([mark] * 9)})"
        )
        now = _stamp(self.engine, datetime.now(UTC))
        connection.exec_driver_sql(sql, [(*row, now) for row in rows])

    def apply(
        self,
        records: Sequence[ListRecord],
        *,
        cursor: str,
        source: str,
        entries: Sequence[str] = (),
    ) -> Applied:
        """Apply one page of changes and store its cursor, atomically.

        `source` is the source's identity (see `SyncState`); `entries` are
        upstream entries the page restates in full (see `records.Page`).
        What is listed or gone is a hash of this source that no entry listed
        before and one does now, or the other way round.
        """
        name = self.name
        wanted: dict[Row, ListRecord] = {}
        dropped: dict[Row, ListRecord] = {}
        # Within a page the last state of a row wins.
        for record in records:
            if record.source != name:
                record = replace(record, source=name)
            row = (record.kind.value, record.value, record.program, record.entry)
            wanted.pop(row, None)
            dropped.pop(row, None)
            (wanted if record.active else dropped)[row] = record
        restated = set(entries)
        with self.engine.begin() as connection:
            generation = self._state(connection).generation
            held = self._entry_rows(connection, restated, generation)
            keys = {row[:3] for row in (*wanted, *dropped, *held)}
            before = self._rows(connection, keys, generation)
            leaving = {r for r in dropped if r in before}
            leaving.update(r for r in held if r not in wanted)
            for kind, value, program, entry in leaving:
                connection.execute(
                    delete(list_records).where(
                        self._mine(generation),
                        list_records.c.kind == kind,
                        list_records.c.program == program,
                        list_records.c.digest == digest(value),
                        list_records.c.entry == entry,
                    )
                )
            new = [r for row, r in wanted.items() if row not in before]
            if new:
                self._insert(connection, [_row(r, generation) for r in new])
            after = (before - leaving) | set(wanted)
            self._set_state(connection, cursor, source, generation)
        had = {row[:3] for row in before}
        has = {row[:3] for row in after}
        listed: dict[Key, ListRecord] = {}
        for record in new:
            listed.setdefault(record.key[:3], record)
        return Applied(
            tuple(r for k, r in listed.items() if k not in had),
            tuple(
                ListRecord(KINDS[kind], value, program, False, source=name)
                for kind, value, program in sorted(had - has)
            ),
        )

    def _entry_rows(
        self, connection: Connection, entries: set[str], generation: int
    ) -> set[Row]:
        """The rows the given upstream entries list now."""
        return self._rows_where(
            connection, list_records.c.entry, sorted(entries), generation
        )

    def _rows(
        self, connection: Connection, keys: Iterable[Key], generation: int
    ) -> set[Row]:
        """This source's rows of the given hashes (one per entry listing it)."""
        wanted = set(keys)
        names = sorted({digest(value) for _, value, _ in wanted})
        found = self._rows_where(connection, list_records.c.digest, names, generation)
        return {(k, v, p, e) for k, v, p, e in found if (k, v, p) in wanted}

    def _rows_where(
        self,
        connection: Connection,
        column: Any,
        names: Sequence[str | int],
        generation: int,
    ) -> set[Row]:
        """This source's rows whose `column` is one of `names` (500 a query)."""
        found: set[Row] = set()
        for start in range(0, len(names), 500):
            rows = connection.execute(
                select(
                    list_records.c.kind,
                    list_records.c.value,
                    list_records.c.program,
                    list_records.c.entry,
                ).where(
                    self._mine(generation),
                    column.in_(names[start : start + 500]),
                )
            )
            found.update((k, v, p, e) for k, v, p, e in rows)
        return found

    def entries_of(
        self, hashes: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, ...]]:
        """The upstream entries that list each (type, value), where any do."""
        wanted = set(hashes)
        found: dict[tuple[str, str], set[str]] = {}
        names = sorted({digest(value) for _, value in wanted})
        with self.engine.connect() as connection:
            generation = self._state(connection).generation
            for start in range(0, len(names), 500):
                rows = connection.execute(
                    select(
                        list_records.c.kind,
                        list_records.c.value,
                        list_records.c.entry,
                    ).where(
                        self._mine(generation),
                        list_records.c.entry != "",
                        list_records.c.digest.in_(names[start : start + 500]),
                    )
                )
                for kind, value, entry in rows:
                    if (kind, value) in wanted:
                        found.setdefault((kind, value), set()).add(entry)
        return {key: tuple(sorted(entries)) for key, entries in found.items()}

    def begin_snapshot(self) -> int:
        """Start writing a snapshot; returns the generation to stage it as."""
        with self.engine.begin() as connection:
            current = self._state(connection).generation
            # Rows of an earlier snapshot that was cut before it finished.
            connection.execute(
                delete(list_records).where(
                    list_records.c.source == self.name,
                    list_records.c.generation > current,
                )
            )
        return current + 1

    def stage(self, records: Iterable[ListRecord], *, generation: int) -> None:
        """Write snapshot records (not listed until `finish_snapshot`)."""
        name = self.name
        rows = [
            _row(r if r.source == name else replace(r, source=name), generation)
            for r in records
            if r.active
        ]
        if rows:
            with self.engine.begin() as connection:
                self._insert(connection, rows)

    def finish_snapshot(self, *, generation: int, cursor: str, source: str) -> None:
        """Make the staged generation the list and store its cursor."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(list_records).where(
                    list_records.c.source == self.name,
                    list_records.c.generation != generation,
                )
            )
            self._set_state(connection, cursor, source, generation)

    def _set_state(
        self, connection: Connection, cursor: str, source: str, generation: int
    ) -> None:
        values = {
            "cursor": cursor,
            "identity": source,
            "synced_at": datetime.now(UTC),
            "generation": generation,
        }
        updated = connection.execute(
            source_state.update()
            .where(source_state.c.name == self.name)
            .values(**values)
        )
        if not updated.rowcount:
            connection.execute(insert(source_state).values(name=self.name, **values))

    def reset(self) -> None:
        """Forget this source's list and cursor (the next sync starts afresh)."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(list_records).where(list_records.c.source == self.name)
            )
            connection.execute(
                delete(source_state).where(source_state.c.name == self.name)
            )


#: The column type of an added timestamp, as each database spells it.
_TIMESTAMP = {
    "sqlite": "DATETIME",
    "postgresql": "TIMESTAMP WITH TIME ZONE",
}


def _stamp(engine: Engine, moment: datetime) -> object:
    """A time as the driver takes it in raw SQL: SQLite stores the text
    SQLAlchemy's own DateTime writes (naive UTC), PostgreSQL the value."""
    if engine.dialect.name == "sqlite":
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def listed_since(
    engine: Engine,
    names: Iterable[str],
    since: datetime | None,
    until: datetime | None = None,
) -> Iterator[ListRecord]:
    """The records of these sources stored here at or after `since` and
    before `until` (no bound when None; rows of older stores, with no time,
    only when both are None)."""
    for name in names:
        store = ListStore(engine, name=name, prepared=True)
        with engine.connect() as connection:
            generation = store._state(connection).generation
            query = select(
                list_records.c.kind,
                list_records.c.value,
                list_records.c.program,
                list_records.c.quality,
            ).where(store._mine(generation))
            # As UTC: SQLite's DATETIME keeps the wall-clock time and drops the
            # offset, and listed_at is stored in UTC.
            if since is not None:
                query = query.where(list_records.c.listed_at >= since.astimezone(UTC))
            if until is not None:
                query = query.where(list_records.c.listed_at < until.astimezone(UTC))
            for kind, value, program, quality in connection.execute(
                query.order_by(list_records.c.id)
            ):
                yield ListRecord(KINDS[kind], value, program, True, quality, name)


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
        record.source,
        record.entry,
    )

"""The durable local copy of the list, and its cursor, behind a narrow interface.

SQLite by default (WAL, synchronous=FULL), PostgreSQL when the store URL
says so. Every change page and its cursor commit in one transaction; a
snapshot streams into a staging table and replaces the list in one
transaction at its end. An interrupted sync therefore leaves the list and
cursor exactly as they were after the last committed page.
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
    select,
)
from sqlalchemy.engine import make_url

from reclaim.hashing import SignalType
from reclaim.matcher.records import ListRecord
from reclaim.matcher.tables import list_records, metadata, snapshot_staging, sync_state

KINDS = {kind.value: kind for kind in SignalType}


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where the local copy stands."""

    source: str | None
    cursor: str | None
    synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What one committed page changed: records now listed, and those gone."""

    listed: tuple[ListRecord, ...]
    gone: tuple[ListRecord, ...]


def digest(value: str) -> str:
    """The key a value is stored under (SHA-256 hex)."""
    return hashlib.sha256(value.encode()).hexdigest()


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


class ListStore:
    """The list's records and cursor in the local database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def state(self) -> SyncState:
        """The stored cursor (None before the first sync)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(sync_state).where(sync_state.c.id == 1)
            ).first()
        if row is None:
            return SyncState(None, None, None)
        return SyncState(row.source, row.cursor, row.synced_at)

    def count(self) -> int:
        """How many records are listed."""
        with self.engine.connect() as connection:
            return int(
                connection.scalar(select(func.count()).select_from(list_records)) or 0
            )

    def records(self) -> Iterator[ListRecord]:
        """Every listed record, in storage order (for building the index)."""
        query = select(
            list_records.c.kind,
            list_records.c.value,
            list_records.c.program,
            list_records.c.quality,
        ).order_by(list_records.c.id)
        with self.engine.connect() as connection:
            result = connection.execution_options(yield_per=20_000).execute(query)
            for kind, value, program, quality in result:
                yield ListRecord(KINDS[kind], value, program, True, quality)

    def apply(
        self, records: Sequence[ListRecord], *, cursor: str, source: str
    ) -> Applied:
        """Apply one page of changes and store its cursor, atomically."""
        listed: dict[tuple[str, str, str], ListRecord] = {}
        gone: dict[tuple[str, str, str], ListRecord] = {}
        # Within a page the last state of a key wins.
        for record in records:
            listed.pop(record.key, None)
            gone.pop(record.key, None)
            (listed if record.active else gone)[record.key] = record
        with self.engine.begin() as connection:
            keys = [*listed, *gone]
            present = self._present(connection, keys)
            removed = [r for k, r in gone.items() if k in present]
            for record in removed:
                connection.execute(delete(list_records).where(*_key_clause(record)))
            new = [r for k, r in listed.items() if k not in present]
            if new:
                connection.execute(insert(list_records), [_row(r) for r in new])
            self._set_cursor(connection, cursor, source)
        return Applied(tuple(new), tuple(removed))

    def _present(
        self, connection: Connection, keys: Sequence[tuple[str, str, str]]
    ) -> set[tuple[str, str, str]]:
        found: set[tuple[str, str, str]] = set()
        by_digest = {
            digest(value): (kind, value, program) for kind, value, program in keys
        }
        names = list(by_digest)
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            rows = connection.execute(
                select(
                    list_records.c.kind, list_records.c.program, list_records.c.value
                ).where(list_records.c.digest.in_(chunk))
            )
            for kind, program, value in rows:
                found.add((kind, value, program))
        return found

    def begin_snapshot(self) -> None:
        """Empty the staging table for a new snapshot."""
        with self.engine.begin() as connection:
            connection.execute(delete(snapshot_staging))

    def stage(self, records: Iterable[ListRecord]) -> None:
        """Add snapshot records to the staging table (not yet listed)."""
        rows = [_row(r) for r in records if r.active]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(insert(snapshot_staging), rows)

    def finish_snapshot(self, *, cursor: str, source: str) -> None:
        """Replace the list with the staged snapshot and store its cursor."""
        columns = ["kind", "program", "digest", "value", "quality"]
        with self.engine.begin() as connection:
            connection.execute(delete(list_records))
            # Deduplicated by key: a snapshot lists each record once, but a
            # retried stream must not break the unique constraint.
            first = (
                select(func.min(snapshot_staging.c.id))
                .group_by(
                    snapshot_staging.c.kind,
                    snapshot_staging.c.program,
                    snapshot_staging.c.digest,
                )
                .scalar_subquery()
            )
            chosen = (
                select(*(snapshot_staging.c[c] for c in columns))
                .where(snapshot_staging.c.id.in_(first))
                .order_by(snapshot_staging.c.id)
            )
            connection.execute(insert(list_records).from_select(columns, chosen))
            connection.execute(delete(snapshot_staging))
            self._set_cursor(connection, cursor, source)

    def _set_cursor(self, connection: Connection, cursor: str, source: str) -> None:
        now = datetime.now(UTC)
        updated = connection.execute(
            sync_state.update()
            .where(sync_state.c.id == 1)
            .values(cursor=cursor, source=source, synced_at=now)
        )
        if not updated.rowcount:
            connection.execute(
                insert(sync_state).values(
                    id=1, cursor=cursor, source=source, synced_at=now
                )
            )

    def reset(self) -> None:
        """Forget the list and cursor (the next sync starts from a snapshot)."""
        with self.engine.begin() as connection:
            connection.execute(delete(list_records))
            connection.execute(delete(snapshot_staging))
            connection.execute(delete(sync_state))


def _key_clause(record: ListRecord) -> tuple[Any, ...]:
    return (
        list_records.c.kind == record.kind.value,
        list_records.c.program == record.program,
        list_records.c.digest == digest(record.value),
    )


def _row(record: ListRecord) -> dict[str, object]:
    return {
        "kind": record.kind.value,
        "program": record.program,
        "digest": digest(record.value),
        "value": record.value,
        "quality": record.quality,
    }

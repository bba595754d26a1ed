"""Database engines and transactions for SQLite and PostgreSQL.

SQLite runs in WAL mode with `synchronous=FULL` (an answered request survives
a power cut), foreign keys on, and write transactions opened with
`BEGIN IMMEDIATE`, so two writers queue instead of failing. Reads use plain
`BEGIN` and never block writers. PostgreSQL uses psycopg 3.

Every engine hides SQL parameters (`hide_parameters=True`): a database error's
text, and so any traceback logged for it, shows the statement but never the
values bound to it (hashes, case numbers, PIN hashes). PostgreSQL repeats
values in its DETAIL line ("Key (number)=(...) already exists"), so that line
is dropped from an error's text too (it stays in `error.orig.diag`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DataError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from reclaim.registry.errors import InvalidRequestError

logger = logging.getLogger(__name__)

_WRITE = "reclaim_write"


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, configured for the registry."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    engine = create_engine(
        url, pool_size=10, max_overflow=20, hide_parameters=HIDE_PARAMETERS
    )
    _ping_when_idle(engine)
    event.listen(engine, "handle_error", _drop_detail)
    return engine


def _drop_detail(context: ExceptionContext) -> None:
    """Keep only the first line of PostgreSQL's message: the rest (DETAIL,
    HINT, CONTEXT) may quote the values of a row."""
    # SQLAlchemy's exception copied the driver's text when it was made.
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is None or not error.args or not isinstance(error.args[0], str):
            continue
        error.args = (error.args[0].split("\n", 1)[0], *error.args[1:])


#: No error message or log shows the values bound to a statement.
HIDE_PARAMETERS = True

#: A pooled connection unused for this long is checked before it is lent.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check connections that sat idle, not every checkout.

    `pool_pre_ping` costs a round trip per transaction (a quarter of a
    millisecond of CPU, a tenth of a case creation). Busy connections are
    proven by use, and a disconnect mid-use invalidates the whole pool; an idle
    one may have been cut by a restart, so it is pinged, and replaced if dead.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("returned", 0.0)
        if idle < IDLE_PING_SECONDS and not dbapi_connection.closed:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()
        except Exception as error:  # noqa: BLE001 - any failure means "dead"
            raise DisconnectionError(f"stale connection: {error}") from error

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned"] = time.monotonic()


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=HIDE_PARAMETERS,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


class Database:
    """Opens read and write transactions on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = sessionmaker(
            bind=engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )
        self._reader = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error.

        A value the database cannot store (PostgreSQL: a NUL byte in text, a
        number out of range) is the request's fault, not the server's: it
        becomes InvalidRequestError, and the connection stays usable.
        """
        try:
            with self._writer() as session, session.begin():
                yield session
        except DataError as error:
            reason = str(error.orig).split("\n", 1)[0]
            raise InvalidRequestError(
                f"the database refused a value of this request ({reason}); "
                "nothing was stored: remove NUL bytes and out-of-range numbers"
            ) from error

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Session]:
        """A read transaction; `snapshot=True` sees one consistent point in time.

        SQLite transactions are always snapshots; on PostgreSQL the snapshot
        is REPEATABLE READ, read only.
        """
        bind = self.engine
        if snapshot and is_postgres(bind):
            bind = bind.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with Session(bind=bind, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

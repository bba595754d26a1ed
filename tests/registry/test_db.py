"""Pooled PostgreSQL connections: a connection cut while idle is replaced."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from reclaim.registry import db
from tests.conftest import PG_ADMIN, postgres_database


def test_a_connection_cut_while_idle_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with postgres_database() as url:
        engine = db.make_engine(url)
        try:
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # Busy connections are not pinged; one idle past the limit is.
            monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
            with engine.connect() as connection:
                again = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            assert again != pid
        finally:
            engine.dispose()


def test_a_busy_connection_is_not_pinged_and_a_cut_one_resets_the_pool() -> None:
    from sqlalchemy.exc import OperationalError

    with postgres_database() as url:
        engine = db.make_engine(url)
        try:
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # Returned a moment ago, so lent without a ping: the cut shows.
            with pytest.raises(OperationalError), engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            # The disconnect invalidated the pool: the next one is fresh.
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()

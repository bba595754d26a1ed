"""The audit trail: append-only in the database itself, and times to the minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from reclaim.registry import audit, db, schema
from reclaim.registry.feed import utcnow
from reclaim.registry.models import AuditEvent
from reclaim.registry.service import Registry
from tests.conftest import random_pdq

RNG = np.random.default_rng(314)


def refused(engine: Engine, statement: str) -> str:
    """The database's refusal of `statement`, which must fail."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
        connection.execute(text(statement))
    return str(caught.value.orig)


def add_event(engine: Engine) -> None:
    """An operator event appended by hand."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (at, action, actor, detail) "
                "VALUES (:at, 'key_issued', 'operator', '{}')"
            ),
            {"at": utcnow()},
        )


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditEvent)))


def test_events_cannot_be_changed_or_deleted(registry: Registry) -> None:
    registry.create_case(
        "adult", [{"type": "pdq", "value": random_pdq(RNG), "quality": 100}]
    )
    registry.add_platform("Example Social", ["adult"])
    engine = registry.db.engine
    before = count(engine)
    assert before >= 3  # the case, the platform and its key
    for statement in (
        "UPDATE audit_events SET detail = '{}'",
        "UPDATE audit_events SET case_number = NULL WHERE case_number IS NOT NULL",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE action = 'case_created'",
    ):
        assert "audit_events is append-only" in refused(engine, statement)
    if db.is_postgres(engine):
        assert "append-only" in refused(engine, "TRUNCATE audit_events")
    assert count(engine) == before
    # Appending still works, through the code and by hand.
    with registry.db.write() as session:
        audit.record(session, audit.Action.KEY_ISSUED, audit.Actor.OPERATOR)
    add_event(engine)
    assert count(engine) == before + 2


def test_downgrading_below_0003_lifts_the_guard(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        schema.upgrade(engine)
        add_event(engine)
        config = schema._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_events SET detail = 'changed'"))
            connection.execute(text("DELETE FROM audit_events"))
        schema.upgrade(engine)
        add_event(engine)  # row triggers fire only for rows
        assert "append-only" in refused(engine, "DELETE FROM audit_events")
    finally:
        engine.dispose()


def test_event_times_are_whole_minutes(registry: Registry) -> None:
    start = utcnow()
    case = registry.create_case(
        "adult", [{"type": "pdq", "value": random_pdq(RNG), "quality": 100}]
    )
    registry.add_hashes(case.number, case.pin, [{"type": "md5", "value": "ab" * 16}])
    registry.withdraw_case(case.number, case.pin)
    _, key = registry.add_platform("Example Social", ["adult"])
    registry.exchange_fetch(
        registry.authenticate(key), start_timestamp=0, token=None, page_size=10
    )
    events = registry.audit_log(limit=100)
    assert {e.action for e in events} >= {
        "case_created",
        "hashes_added",
        "case_withdrawn",
        "platform_fetched",
    }
    for event in events:
        assert (event.at.second, event.at.microsecond) == (0, 0), event
        # Cut down: never later than the event itself.
        assert start - timedelta(minutes=1) < event.at <= utcnow()


def test_upgrading_coarsens_existing_times(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        config = schema._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        precise = datetime(2026, 3, 1, 10, 37, 20, 123456, tzinfo=UTC)
        mark = datetime(2026, 3, 1, 10, 40, tzinfo=UTC)
        with engine.begin() as connection:
            for n, at in enumerate((precise, mark), start=1):
                connection.execute(
                    text(
                        "INSERT INTO audit_events (at, action, actor, case_number, "
                        "detail) VALUES (:at, 'case_created', 'person', :n, '{}')"
                    ),
                    {"at": at, "n": f"C{n}"},
                )
                connection.execute(
                    text(
                        "INSERT INTO hashes (id, signal_type, digest, value, "
                        "program, status, case_count, quarantined, change, "
                        "updated_at) VALUES (:n, 'md5', :d, :v, 'adult', "
                        "'active', 1, false, :n, :at)"
                    ),
                    {"n": n, "d": f"{n:064x}", "v": f"{n:032x}", "at": at},
                )
        schema.upgrade(engine)
        with engine.connect() as connection:
            logged = connection.execute(
                select(AuditEvent.case_number, AuditEvent.at).order_by(AuditEvent.id)
            ).all()
            stamped = connection.execute(
                text("SELECT id, updated_at FROM hashes ORDER BY id")
            ).all()

        def utc(value: datetime | str) -> datetime:
            if isinstance(value, str):  # SQLite text, read without the ORM
                value = datetime.fromisoformat(value)
            return value if value.tzinfo else value.replace(tzinfo=UTC)

        # Audit times cut down; record times rounded up (they only move later,
        # so no platform's time cursor skips them); whole minutes stay.
        assert [(n, utc(at)) for n, at in logged] == [
            ("C1", datetime(2026, 3, 1, 10, 37, tzinfo=UTC)),
            ("C2", mark),
        ]
        assert [(n, utc(at)) for n, at in stamped] == [
            (1, datetime(2026, 3, 1, 10, 38, tzinfo=UTC)),
            (2, mark),
        ]
    finally:
        engine.dispose()

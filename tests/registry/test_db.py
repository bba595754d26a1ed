"""Engines: idle PostgreSQL connections are replaced; errors show no values."""

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


def test_a_database_error_shows_no_values(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the error's text nor a logged traceback carries a bound value
    (SQL parameters hidden; PostgreSQL's DETAIL line, which quotes the row,
    dropped)."""
    import logging
    import traceback

    from sqlalchemy.exc import IntegrityError

    from reclaim.registry import schema

    secret = "CASE7SECRET9"  # a value that must never reach an error or a log
    insert = text(
        "INSERT INTO cases (number, pin_hash, program, status, created_at) "
        "VALUES (:number, :pin, 'adult', 'active', CURRENT_TIMESTAMP)"
    )
    engine = db.make_engine(database_url)
    try:
        schema.upgrade(engine)
        with engine.begin() as connection:
            connection.execute(insert, {"number": secret, "pin": secret + "pin"})
        with pytest.raises(IntegrityError) as caught, engine.begin() as connection:
            connection.execute(insert, {"number": secret, "pin": secret + "pin"})
        error = caught.value
        with caplog.at_level(logging.ERROR):
            logging.getLogger("reclaim.api.errors").error(
                "internal error: %s", type(error).__name__, exc_info=error
            )
        shown = "".join(traceback.format_exception(error)) + caplog.text
        assert "INSERT INTO cases" in shown  # the statement is shown
        assert "unique" in shown.lower()  # and what went wrong
        assert secret not in shown
    finally:
        engine.dispose()


def test_every_engine_hides_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reclaim.matcher.store import open_engine

    for engine in (
        db.make_engine(f"sqlite:///{tmp_path}/registry.db"),
        open_engine(f"sqlite:///{tmp_path}/matcher.db"),
    ):
        try:
            assert engine.hide_parameters
        finally:
            engine.dispose()


def test_a_nul_reaching_postgresql_is_refused_and_the_registry_goes_on() -> None:
    """PostgreSQL text cannot hold NUL: past the API's checks, it is still a
    request error (422), nothing is stored, and the next write works."""
    import numpy as np

    from reclaim.api.schemas import ExchangeFeedbackIn
    from reclaim.api.stopncii_wire import feedback_items
    from reclaim.registry.errors import InvalidRequestError
    from tests.conftest import generous_settings, migrated_registry, random_pdq

    value = random_pdq(np.random.default_rng(0))
    with postgres_database() as url, migrated_registry(generous_settings(url)) as reg:
        reg.create_case("adult", [{"type": "pdq", "value": value, "quality": 100}])
        platform = reg.authenticate(reg.add_platform("Example Social", ["adult"])[1])
        entry = {"hashValue": value, "feedbackValue": "Blocked", "tags": ["a\x00b"]}
        # Past the API's checks: the model built without validation, as a
        # bug in a route could.
        unchecked = ExchangeFeedbackIn.model_construct(**entry)  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError, match="NUL") as caught:
            reg.exchange_feedback(platform, feedback_items([unchecked]))
        assert value not in str(caught.value)
        assert [e.action for e in reg.audit_log()].count("feedback_given") == 0
        clean = ExchangeFeedbackIn.model_validate({**entry, "tags": ["ab"]})
        assert reg.exchange_feedback(platform, feedback_items([clean])) == (1, [])

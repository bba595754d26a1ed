"""Migrations: an existing database upgrades in place, with its data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text

from reclaim.registry import db, schema


def test_upgrading_from_0001_numbers_existing_hashes_as_items(
    database_url: str,
) -> None:
    engine = db.make_engine(database_url)
    try:
        config = schema._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO cases (id, number, program, status, created_at) "
                    "VALUES (1, 'A', 'adult', 'active', :t), "
                    "(2, 'B', 'adult', 'active', :t)"
                ),
                {"t": start},
            )
            for hash_id in (1, 2, 3):
                connection.execute(
                    text(
                        "INSERT INTO hashes (id, signal_type, digest, value, "
                        "program, status, case_count, quarantined, change, "
                        "updated_at) VALUES (:i, 'md5', :d, :v, 'adult', "
                        "'active', 1, false, :i, :t)"
                    ),
                    {
                        "i": hash_id,
                        "d": f"{hash_id:064x}",
                        "v": f"{hash_id:032x}",
                        "t": start,
                    },
                )
            links = [(1, 3, 0), (1, 1, 1), (1, 2, 1), (2, 2, 0)]
            for case_id, hash_id, minutes in links:
                connection.execute(
                    text(
                        "INSERT INTO case_hashes (case_id, hash_id, added_at) "
                        "VALUES (:c, :h, :t)"
                    ),
                    {
                        "c": case_id,
                        "h": hash_id,
                        "t": start + timedelta(minutes=minutes),
                    },
                )
        before, after = schema.upgrade(engine)
        assert (before, after) == ("0001", schema.head_revision())
        schema.check(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT case_id, hash_id, item FROM case_hashes ORDER BY 1, 2")
            ).all()
        # Per case, in the order added (ties by hash id): one item each.
        assert [tuple(r) for r in rows] == [(1, 1, 1), (1, 2, 2), (1, 3, 0), (2, 2, 0)]
    finally:
        engine.dispose()

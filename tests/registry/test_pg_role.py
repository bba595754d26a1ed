"""The registry runs on PostgreSQL as a runtime role with only the grants
docs/deploy.md gives it, migrated by an owner role; both made by the doc's SQL.

Roles are cluster-wide, so the doc's names get a random suffix here, and the
roles and the database are dropped afterwards.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors

from reclaim.api.app import create_app
from reclaim.registry import schema
from reclaim.registry.service import Registry
from tests.conftest import PG_ADMIN, _postgres_or_skip, generous_settings
from tests.registry.test_restore_drill import (
    ask,
    case_status,
    doc_block,
    follow,
    open_case,
    tool,
)


@pytest.fixture(scope="module")
def roles() -> Iterator[tuple[str, str, str]]:
    """(owner URL, runtime URL, database name) after the doc's SQL has run."""
    _postgres_or_skip()
    psql = tool("psql")
    tag = uuid.uuid4().hex[:10]
    owner, app, database = f"rt_owner_{tag}", f"rt_app_{tag}", f"rt_db_{tag}"

    def named(sql: str) -> str:
        sql = sql.replace("reclaim_owner", owner).replace("reclaim_app", app)
        return sql.replace("CREATE DATABASE reclaim ", f"CREATE DATABASE {database} ")

    def run_sql(sql: str, url: str) -> None:
        # Statement by statement, as psql runs a file (CREATE DATABASE cannot
        # run inside the transaction of a multi-statement -c).
        done = subprocess.run(
            [psql, url, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"],
            input=named(sql),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    run_sql(doc_block("pg-roles"), "postgresql://postgres@127.0.0.1:5432/postgres")
    base = "postgresql+psycopg://{}@127.0.0.1:5432/" + database
    try:
        owner_url = base.format(owner)
        migrator = Registry(generous_settings(owner_url))
        try:
            schema.upgrade(migrator.db.engine)
        finally:
            migrator.close()
        run_sql(
            doc_block("pg-grants"), f"postgresql://{owner}@127.0.0.1:5432/{database}"
        )
        yield owner_url, base.format(app), database
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{app}"')
            admin.execute(f'DROP ROLE IF EXISTS "{owner}"')


def test_the_registry_runs_as_the_runtime_role(roles: tuple[str, str, str]) -> None:
    _, runtime_url, _ = roles
    settings = generous_settings(runtime_url)
    registry = Registry(settings)
    try:
        # Operator commands, as `reclaim platforms add` runs them.
        key = registry.add_platform("Example Social", ["minor", "adult"])[1]
        app = create_app(settings, registry)
        (number, pin), other = open_case(app), open_case(app)
        assert case_status(app, number, pin).status_code == 200
        added = ask(
            app,
            "POST",
            f"/api/v1/cases/{number}/hashes",
            json={"pin": pin, "hashes": [{"type": "md5", "value": "ab" * 16}]},
        )
        assert added.status_code == 200, added.text
        withdrawn = ask(
            app, "POST", f"/api/v1/cases/{other[0]}/withdraw", json={"pin": other[1]}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        records = follow(app, key, 0)
        assert len(records) == 5
        headers = {"Authorization": f"Bearer {key}"}
        snapshot = ask(app, "GET", "/api/v1/platform/snapshot", headers=headers)
        assert snapshot.status_code == 200, snapshot.text
        value = next(r["value"] for r in records if r["status"] == "active")
        feedback = ask(
            app,
            "POST",
            "/api/v1/platform/feedback",
            headers=headers,
            json={"items": [{"type": "pdq", "value": value, "feedback": "blocked"}]},
        )
        assert feedback.status_code == 200, feedback.text
        key = registry.rotate_key("Example Social")[1]
        assert follow(app, key, 0)
        assert registry.audit_log(limit=100)
    finally:
        registry.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET detail = detail",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE alembic_version SET version_num = version_num",
        "CREATE TABLE extra (id int)",
        "DROP TABLE cases",
        "DROP TRIGGER audit_events_append_only ON audit_events",
    ],
)
def test_the_runtime_role_cannot(roles: tuple[str, str, str], statement: str) -> None:
    _, runtime_url, _ = roles
    url = runtime_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        # Refused for want of a grant or ownership, before any trigger runs.
        with pytest.raises(
            pg_errors.InsufficientPrivilege, match="permission denied|must be owner"
        ):
            conn.execute(statement)

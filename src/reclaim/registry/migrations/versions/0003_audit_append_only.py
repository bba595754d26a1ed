"""Audit trail: append-only, enforced by the database; coarse times.

Existing times are first made as coarse as new ones (`feed.TIME_UNIT`, a
minute, frozen here): record times rounded up to the minute (so no time
cursor a platform holds can skip a record: records only move later), audit
times cut down to the minute. The feed clock is left alone: it is at most
the present (or a sealed window's end), and the next change stamps the
minute after it. Then triggers refuse UPDATE
and DELETE of `audit_events` (and TRUNCATE on PostgreSQL), so no code path,
and no operator with a SQL shell short of dropping the trigger, can rewrite
history. Downgrading drops the triggers; the times stay coarse.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: The message both databases raise; tests look for it.
REFUSAL = "audit_events is append-only"

_PG_MINUTE = "date_trunc('minute', {0} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
_PG_COARSEN = (
    "UPDATE hashes SET updated_at = {m} + interval '1 minute' "
    "WHERE updated_at > {m}".format(m=_PG_MINUTE.format("updated_at")),
    "UPDATE audit_events SET at = {m} WHERE at > {m}".format(m=_PG_MINUTE.format("at")),
)
# SQLite keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' text (SQLAlchemy's
# format): the minute is the first 16 characters, the seconds the rest.
_SQLITE_COARSEN = (
    "UPDATE hashes SET updated_at = strftime('%Y-%m-%d %H:%M:00.000000', "
    "substr(updated_at, 1, 16), '+1 minute') "
    "WHERE CAST(substr(updated_at, 18) AS REAL) > 0",
    "UPDATE audit_events SET at = strftime('%Y-%m-%d %H:%M:00.000000', "
    "substr(at, 1, 16)) "
    "WHERE CAST(substr(at, 18) AS REAL) > 0",
)
_PG_UPGRADE = (
    f"""
    CREATE FUNCTION audit_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
)
_PG_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP FUNCTION IF EXISTS audit_events_append_only()",
)
_SQLITE_UPGRADE = tuple(
    f"""
    CREATE TRIGGER audit_events_no_{verb.lower()}
    BEFORE {verb} ON audit_events
    BEGIN
        SELECT RAISE(ABORT, '{REFUSAL}: {verb} refused');
    END
    """
    for verb in ("UPDATE", "DELETE")
)
_SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS audit_events_no_update",
    "DROP TRIGGER IF EXISTS audit_events_no_delete",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    coarsen = _PG_COARSEN if postgres else _SQLITE_COARSEN
    for statement in (*coarsen, *(_PG_UPGRADE if postgres else _SQLITE_UPGRADE)):
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_DOWNGRADE if postgres else _SQLITE_DOWNGRADE:
        op.execute(statement)

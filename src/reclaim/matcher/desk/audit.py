"""The desk's audit trail: who did what to which match, request or account.

Events are data, written in the same transaction as the change they record
(so a change that rolls back leaves no event). They name an actor (an
account name, "api" or "system"), an action and a subject, and carry a small
JSON detail with no media, contact details or passwords.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from reclaim.matcher.desk.tables import audit


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any]


def record(
    connection: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one event inside the caller's transaction."""
    connection.execute(
        insert(audit).values(
            at=datetime.now(UTC),
            actor=actor[:64],
            action=action[:32],
            subject=subject[:80],
            detail=json.dumps(dict(detail or {}), sort_keys=True),
        )
    )


def events(
    engine: Engine,
    *,
    subject: str | None = None,
    actor: str | None = None,
    limit: int = 200,
    before: int | None = None,
) -> list[AuditEvent]:
    """Events, newest first, optionally of one subject or actor."""
    query = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(audit.c.subject == subject)
    if actor is not None:
        query = query.where(audit.c.actor == actor)
    if before is not None:
        query = query.where(audit.c.id < before)
    with engine.connect() as connection:
        return [
            AuditEvent(
                row.id,
                row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
                row.actor,
                row.action,
                row.subject,
                json.loads(row.detail or "{}"),
            )
            for row in connection.execute(query)
        ]

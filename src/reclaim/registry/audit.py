"""The audit trail: typed events written in the same transaction as the change.

Events carry ids and counts, never hashes, PINs, keys or client addresses.
If the transaction rolls back, its events vanish with it. Times are whole
minutes (`feed.TIME_UNIT`, cut down): to the microsecond, a case's event
could be joined with a proxy's log to find the address that made the case,
and neighbouring events' times would place it as well, so every event is cut.
The table is append-only: database triggers refuse UPDATE and DELETE
(migration 0003).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reclaim.registry.feed import as_utc, floor_time, utcnow
from reclaim.registry.models import AuditEvent


class Action(enum.StrEnum):
    """What happened. Names are storage keys."""

    CASE_CREATED = "case_created"
    HASHES_ADDED = "hashes_added"
    CASE_WITHDRAWN = "case_withdrawn"
    PLATFORM_ADDED = "platform_added"
    KEY_ISSUED = "key_issued"
    KEY_REVOKED = "key_revoked"
    PLATFORM_REVOKED = "platform_revoked"
    PLATFORM_NAMED = "platform_named"
    PLATFORM_FETCHED = "platform_fetched"
    FEEDBACK_GIVEN = "feedback_given"
    PLATFORM_SUBMITTED = "platform_submitted"
    HASH_QUARANTINED = "hash_quarantined"
    QUARANTINE_RESOLVED = "quarantine_resolved"


class Actor(enum.StrEnum):
    """Who did it."""

    PERSON = "person"
    PLATFORM = "platform"
    OPERATOR = "operator"


def record(
    session: Session,
    action: Action,
    actor: Actor,
    *,
    platform_id: int | None = None,
    case_number: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit event to the current transaction."""
    # A plain INSERT: the ORM's unit of work costs more than the event.
    session.connection().execute(
        _INSERT,
        {
            "at": event_time(),
            "action": action.value,
            "actor": actor.value,
            "platform_id": platform_id,
            "case_number": case_number,
            "detail": detail_text(**detail),
        },
    )


def event_time() -> datetime:
    """The time an event made now is stored with: the current minute."""
    return floor_time(utcnow())


def detail_text(**detail: Any) -> str:
    """An event's details as stored: compact JSON with sorted keys."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"))


_INSERT = insert(AuditEvent)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit event as the operator reads it."""

    id: int
    at: datetime
    action: str
    actor: str
    platform_id: int | None
    case_number: str | None
    detail: dict[str, Any]


def read(
    session: Session, *, limit: int = 100, action: str | None = None
) -> Sequence[AuditEntry]:
    """The newest events first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action == action)
    return [
        AuditEntry(
            e.id,
            as_utc(e.at),
            e.action,
            e.actor,
            e.platform_id,
            e.case_number,
            json.loads(e.detail or "{}"),
        )
        for e in session.scalars(query)
    ]

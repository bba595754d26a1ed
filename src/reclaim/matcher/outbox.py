"""Durable outgoing messages (webhooks, feedback) retried until acknowledged.

A message is written in the same transaction as the match or decision it is
about, so nothing acknowledged is ever lost; it is deleted only when the
other side answers with success, and retried with capped exponential backoff
until then.

A decision made on the desk is *held*: its messages carry the match's id and
are not due until its undo window has passed, so undoing it (`withdraw_held`)
deletes exactly what it would have sent, before anything left.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from reclaim.matcher.tables import outbox

FEEDBACK = "feedback"
WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Message:
    """One message waiting to be sent."""

    id: int
    payload: dict[str, Any]
    attempts: int


def enqueue(
    connection: Connection,
    channel: str,
    payload: Mapping[str, Any],
    *,
    match_id: int | None = None,
    not_before: float = 0.0,
) -> None:
    """Add a message inside the caller's transaction.

    `not_before` (a Unix time) holds it until then; `match_id` names the
    decision it belongs to, so an undo can take it back while it is held.
    """
    connection.execute(
        insert(outbox).values(
            channel=channel,
            payload=json.dumps(payload, sort_keys=True),
            created_at=datetime.now(UTC),
            attempts=0,
            next_attempt=not_before,
            match_id=match_id,
        )
    )


def withdraw_held(connection: Connection, match_id: int) -> int:
    """Delete a decision's messages that have not been sent (inside the
    caller's transaction); returns how many there were."""
    deleted = connection.execute(
        delete(outbox).where(
            outbox.c.match_id == match_id,
            outbox.c.attempts == 0,
            outbox.c.next_attempt > time.time(),
        )
    )
    return int(deleted.rowcount)


class Outbox:
    """Reading, acknowledging and rescheduling queued messages."""

    def __init__(self, engine: Engine, *, max_backoff: float = 300.0) -> None:
        self.engine = engine
        self.max_backoff = max_backoff

    def due(self, channel: str, *, limit: int = 500) -> list[Message]:
        """Messages whose next attempt is due, oldest first."""
        query = (
            select(outbox.c.id, outbox.c.payload, outbox.c.attempts)
            .where(outbox.c.channel == channel, outbox.c.next_attempt <= time.time())
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [
                Message(row.id, json.loads(row.payload), row.attempts)
                for row in connection.execute(query)
            ]

    def done(self, ids: Sequence[int]) -> None:
        """Forget acknowledged messages."""
        if ids:
            with self.engine.begin() as connection:
                connection.execute(delete(outbox).where(outbox.c.id.in_(list(ids))))

    def retry_later(self, messages: Sequence[Message], error: str) -> float:
        """Reschedule failed messages; returns the longest delay given."""
        longest = 0.0
        with self.engine.begin() as connection:
            for message in messages:
                delay = min(2.0 ** min(message.attempts, 20), self.max_backoff)
                longest = max(longest, delay)
                connection.execute(
                    update(outbox)
                    .where(outbox.c.id == message.id)
                    .values(
                        attempts=message.attempts + 1,
                        next_attempt=time.time() + delay,
                        last_error=error[:300],
                    )
                )
        return longest

    def pending(self) -> dict[str, int]:
        """Messages waiting, per channel."""
        query = select(outbox.c.channel, func.count()).group_by(outbox.c.channel)
        counts = {FEEDBACK: 0, WEBHOOK: 0}
        with self.engine.connect() as connection:
            for channel, count in connection.execute(query):
                counts[channel] = int(count)
        return counts

    def retry_now(self) -> int:
        """Make every message that has failed due at once (an operator's
        'retry now' after fixing the other side); returns how many.

        Only failed messages: one never tried is either due already or held
        for a decision's undo window, and must not leave before it closes.
        """
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(outbox).where(outbox.c.attempts > 0).values(next_attempt=0.0)
            )
        return int(changed.rowcount)

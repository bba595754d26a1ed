"""Reporting outcomes upstream: drain the feedback outbox into the source.

Queued matches send `pending_review`, auto-actioned ones `blocked`, and a
reviewer's decision `blocked` or `not_blocked`. Messages stay in the outbox
until the source accepts them, so a registry outage delays feedback but never
loses it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from reclaim.hashing import SignalType
from reclaim.matcher.errors import SourceError
from reclaim.matcher.outbox import FEEDBACK, Outbox
from reclaim.matcher.records import Outcome
from reclaim.matcher.source import Source

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class Flushed:
    """What one flush did."""

    sent: int
    failed: int
    error: str | None = None


def flush_feedback(outbox: Outbox, source: Source) -> Flushed:
    """Send every due feedback message, a batch at a time."""
    sent = 0
    while True:
        batch = outbox.due(FEEDBACK, limit=BATCH)
        if not batch:
            return Flushed(sent, 0)
        outcomes = [
            Outcome(
                SignalType(m.payload["type"]), m.payload["value"], m.payload["feedback"]
            )
            for m in batch
        ]
        try:
            source.report(outcomes)
        except SourceError as error:
            delay = outbox.retry_later(batch, str(error))
            logger.warning(
                "feedback for %d matches not delivered, retrying in %.0f s: %s",
                len(batch),
                delay,
                error,
            )
            return Flushed(sent, len(batch), str(error))
        outbox.done([m.id for m in batch])
        sent += len(batch)

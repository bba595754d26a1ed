"""Reporting outcomes upstream: drain the feedback outbox into the sources.

Queued matches send `pending_review`, auto-actioned ones `blocked`, and a
reviewer's decision `blocked` or `not_blocked`. Each message names the source
that listed the hash and goes to that source only, in its own protocol
(sources with upstream entries, NCMEC, are told which entries list it).
Messages stay in the outbox until their source accepts them, so an outage
delays feedback but never loses it, and one source down delays no other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from reclaim.hashing import SignalType
from reclaim.matcher.errors import SourceError
from reclaim.matcher.outbox import FEEDBACK, Message, Outbox
from reclaim.matcher.records import Outcome
from reclaim.matcher.source import Source
from reclaim.matcher.store import ListStore

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class Flushed:
    """What one flush did."""

    sent: int
    failed: int
    error: str | None = None


def flush_feedback(
    outbox: Outbox,
    sources: Mapping[str, Source],
    *,
    stores: Mapping[str, ListStore] | None = None,
) -> Flushed:
    """Send every due feedback message to its source, a batch at a time.

    Messages from before several sources name none: they go to the first.
    `stores` tell entry-keyed sources which of their entries list a hash.
    """
    first = next(iter(sources))
    sent = failed = 0
    error: str | None = None
    while True:
        batch = outbox.due(FEEDBACK, limit=BATCH)
        if not batch:
            return Flushed(sent, failed, error)
        by_source: dict[str, list[Message]] = {}
        for message in batch:
            name = str(message.payload.get("source", first))
            by_source.setdefault(name, []).append(message)
        for name, messages in by_source.items():
            source = sources.get(name)
            if source is None:
                logger.warning(
                    "feedback for %d matches was for source %s, which is no "
                    "longer in the config: dropped",
                    len(messages),
                    name,
                )
                outbox.done([m.id for m in messages])
                continue
            store = (stores or {}).get(name)
            try:
                source.report(_outcomes(messages, store))
            except SourceError as problem:
                delay = outbox.retry_later(messages, str(problem))
                logger.warning(
                    "feedback for %d matches not delivered to source %s, retrying "
                    "in %.0f s: %s",
                    len(messages),
                    name,
                    delay,
                    problem,
                )
                failed += len(messages)
                error = f"{name}: {problem}"
                continue
            outbox.done([m.id for m in messages])
            sent += len(messages)


def _outcomes(messages: list[Message], store: ListStore | None) -> list[Outcome]:
    pairs = [(str(m.payload["type"]), str(m.payload["value"])) for m in messages]
    entries = store.entries_of(pairs) if store is not None else {}
    return [
        Outcome(
            SignalType(kind),
            value,
            str(m.payload["feedback"]),
            entries.get((kind, value), ()),
        )
        for m, (kind, value) in zip(messages, pairs, strict=True)
    ]

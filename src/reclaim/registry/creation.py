"""Opening a case on either database, once per Idempotency-Key.

SQLite writes a case in one write transaction (`cases.create`); PostgreSQL
in one statement (`pg_create`). With a key, the sealed answer
(`idempotency.py`) is written in that same transaction, so either the case
and its answer both exist or neither does, and a retry finds the answer:

* SQLite: write transactions queue (`BEGIN IMMEDIATE`), so looking the key
  up and creating the case in one transaction cannot race.
* PostgreSQL: the statement inserts the answer's row, whose key is unique. A
  second request with the same key queues behind the first (on the feed
  lock, then the key), fails without writing anything, and reads the first
  answer back. No request ever gets a second case for one key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reclaim.registry import audit, cases, idempotency, pg_create
from reclaim.registry.db import Database, is_postgres
from reclaim.registry.feed import as_utc, instance_secret, publish, utcnow
from reclaim.registry.idempotency import IdempotencyKey, Keyed, Stored
from reclaim.registry.identifiers import new_case_number, new_pin, normalise_pin
from reclaim.registry.secrets import hash_pin
from reclaim.registry.submissions import Program, SubmittedHash

logger = logging.getLogger(__name__)

#: Expired answers are purged at most this often (seconds), by a creation.
PURGE_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class NewCase:
    """A created case: the number and the PIN are shown to the person once.

    `replayed` is True when this is the first answer to the same request,
    sent again for a retry with its Idempotency-Key.
    """

    number: str
    pin: str
    view: cases.CaseView
    replayed: bool = False


#: Runs work in a write transaction, retrying races (`Registry._write`).
Writer = Callable[[Callable[[Session], NewCase]], NewCase]


class CaseCreator:
    """Creates cases on one database; keeps the registry secret it keys with."""

    def __init__(self, db: Database, *, keep: timedelta, write: Writer) -> None:
        self._db = db
        self._keep = keep
        self._write = write
        self._secret: str | None = None
        self._next_purge = 0.0
        self._purging = threading.Lock()

    def create(
        self,
        program: Program,
        hashes: Sequence[SubmittedHash],
        key: IdempotencyKey | None = None,
    ) -> NewCase:
        """A new case, or with `key` the first answer to the same request."""
        keyed = None
        if key is not None:
            keyed = Keyed.of(
                key,
                secret=self._registry_secret(),
                program=program,
                hashes=hashes,
                now=utcnow(),
                keep=self._keep,
            )
            self._purge_when_due()
        if is_postgres(self._db.engine):
            return self._in_one_statement(program, hashes, keyed)
        return self._write(
            lambda session: self._in_transaction(session, program, hashes, keyed)
        )

    def _registry_secret(self) -> str:
        if self._secret is None:
            with self._db.read() as session:
                self._secret = instance_secret(session)
        return self._secret

    def _purge_when_due(self) -> None:
        """Drop expired answers, at most every PURGE_EVERY seconds per process."""
        now = time.monotonic()
        if now < self._next_purge or not self._purging.acquire(blocking=False):
            return
        try:
            self._next_purge = now + PURGE_EVERY
            with self._db.write() as session:
                dropped = idempotency.purge(session, now=utcnow())
            if dropped:
                logger.info("purged %d expired idempotency answers", dropped)
        except SQLAlchemyError as error:
            # The creation itself does not depend on it; try again later.
            logger.warning("could not purge expired answers: %s", type(error).__name__)
        finally:
            self._purging.release()

    def _in_transaction(
        self,
        session: Session,
        chosen: Program,
        hashes: Sequence[SubmittedHash],
        keyed: Keyed | None,
    ) -> NewCase:
        if keyed is not None:
            stored = idempotency.find(session, keyed)
            if stored is not None and _live(stored):
                return _replay(session, keyed, stored)
            if stored is not None:
                idempotency.forget(session, keyed, now=utcnow())
        view, pin, changed = cases.create(session, chosen, hashes)
        audit.record(
            session,
            audit.Action.CASE_CREATED,
            audit.Actor.PERSON,
            case_number=view.number,
            program=chosen.value,
            hashes=len(hashes),
        )
        if keyed is not None:
            idempotency.store(session, keyed, view.number, pin)
        # Last: the feed lock is held from here until commit.
        publish(session, [record.id for record in changed])
        return NewCase(view.number, pin, view)

    def _in_one_statement(
        self,
        chosen: Program,
        hashes: Sequence[SubmittedHash],
        keyed: Keyed | None,
        *,
        attempts: int = 5,
    ) -> NewCase:
        """PostgreSQL: the whole creation is one round trip (`pg_create`)."""
        pin = new_pin()
        pin_hash = hash_pin(normalise_pin(pin))
        detail = audit.detail_text(program=chosen.value, hashes=len(hashes))
        for attempt in range(attempts):
            number, now = new_case_number(), utcnow()
            try:
                attached = pg_create.create_case(
                    self._db.engine,
                    number=number,
                    pin_hash=pin_hash,
                    program=chosen,
                    hashes=hashes,
                    now=now,
                    detail=detail,
                    answer=keyed.row(number, pin) if keyed is not None else None,
                )
                break
            except (
                psycopg.errors.UniqueViolation,
                psycopg.errors.DeadlockDetected,
                psycopg.errors.SerializationFailure,
            ):
                # A case number drawn twice, a race with a writer that locked
                # the same records first, or this key's answer committed by
                # another request: nothing was written.
                if keyed is not None:
                    first = self._first_answer(keyed)
                    if first is not None:
                        return first
                if attempt == attempts - 1:
                    raise
                logger.info("retrying a case creation (attempt %d)", attempt + 1)
        if all(a.fresh for a in attached):
            view = cases.new_case_view(None, number, chosen, now, attached)
        else:
            with self._db.read() as session:
                view = cases.new_case_view(session, number, chosen, now, attached)
        return NewCase(number, pin, view)

    def _first_answer(self, keyed: Keyed) -> NewCase | None:
        """The answer another request stored for this key; an expired one is
        dropped (and None returned) so the key can be used afresh."""
        with self._db.read() as session:
            stored = idempotency.find(session, keyed)
            if stored is not None and _live(stored):
                return _replay(session, keyed, stored)
        if stored is not None:
            with self._db.write() as session:
                idempotency.forget(session, keyed, now=utcnow())
        return None


def _live(stored: Stored) -> bool:
    return as_utc(stored.expires_at) > utcnow()


def _replay(session: Session, keyed: Keyed, stored: Stored) -> NewCase:
    """The first answer again, with the case as it is now."""
    answer = idempotency.unseal(keyed, stored)
    case = cases.open_case(session, answer.number, answer.pin)
    logger.info("case %s: creation answered again for a retry", case.number)
    return NewCase(answer.number, answer.pin, cases.view(session, case), replayed=True)

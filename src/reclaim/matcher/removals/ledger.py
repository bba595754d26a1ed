"""The removal store's base: reading requests, and writing steps of the record.

Every change writes, in one transaction, the change itself, its step in
`removal_events` (the record of reasonable efforts) and its line in the
desk's audit trail (`record`). Neither holds personal data: that lives only
in `removal_requests.personal`, read by `get(..., personal=True)` for leads
and admins. `insert_if_absent` is the one way rows guarded by a unique
index are written (copies, once-only notices): a row another process wrote
first is skipped, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from reclaim.matcher.config import RemovalsConfig
from reclaim.matcher.desk import audit
from reclaim.matcher.errors import UnknownRemovalError
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.model import (
    OPEN,
    Copy,
    Event,
    Item,
    Personal,
    PublicView,
    RemovalRequest,
    State,
)
from reclaim.matcher.times import aware

_PUBLIC_ID = re.compile(r"RR-[A-Z2-9]{10}")
#: Refusal for an unknown id and a wrong receipt alike: it reveals nothing.
NOT_FOUND = (
    "no removal request matches this number and receipt: check both, as "
    "shown when the request was sent"
)


@dataclass(frozen=True, slots=True)
class Found:
    """A copy found by a search, before it is recorded."""

    reference: str
    found_by: str
    distance: int | None = None
    match_id: int | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """What a webhook needs of a request inside a transaction."""

    id: int
    public_id: str
    deadline: datetime


class StoreBase:
    """The store's connection, settings and reads; the mixins change it."""

    def __init__(
        self, engine: Engine, config: RemovalsConfig, *, webhooks: bool
    ) -> None:
        self.engine = engine
        self.config = config
        self.webhooks = webhooks
        #: `[removals] reference_patterns`, compiled.
        self.patterns = [re.compile(p) for p in config.reference_patterns]
        #: Bumped on every change of open requests' hashes or states made in
        #: this process, so its watch list rebuilds at once; changes made by
        #: other processes are seen through `change_count`.
        self.version = 0

    def get(self, public_id: str, *, personal: bool = False) -> RemovalRequest:
        """One request with everything recorded on it (personal data only
        when asked: leads and admins). UnknownRemovalError if none."""
        with self.engine.connect() as connection:
            return self.read(connection, public_id, personal=personal)

    def read(
        self, connection: Connection, public_id: str, *, personal: bool = False
    ) -> RemovalRequest:
        """As `get`, on the caller's connection: a change reads the state it
        changes from inside its own transaction."""
        if not _PUBLIC_ID.fullmatch(public_id):
            raise UnknownRemovalError(
                f"{public_id[:20]!r} is not a removal request number: expected "
                "RR- and 10 letters or digits"
            )
        row = connection.execute(
            select(tables.requests).where(tables.requests.c.public_id == public_id)
        ).first()
        if row is None:
            raise UnknownRemovalError(f"no removal request is numbered {public_id}")
        return load(connection, row, personal=personal)

    def change_count(self) -> int:
        """How many changes of the open requests' hashes or states the store
        has seen, from any process (`mark_changed`)."""
        with self.engine.connect() as connection:
            count = connection.scalar(
                select(tables.changes.c.count).where(tables.changes.c.id == 1)
            )
        return int(count or 0)

    def check_receipt(self, public_id: str, receipt: str) -> PublicView:
        """What the requester may see of the request, if this is its
        receipt; one refusal otherwise."""
        given = digest(receipt[:100])
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tables.requests).where(
                    tables.requests.c.public_id == public_id[:20]
                )
            ).first()
            stored = row.receipt_digest if row is not None else None
            if not hmac.compare_digest(given, stored or "-" * 64):
                raise UnknownRemovalError(NOT_FOUND)
            return load(connection, row, personal=False).public()

    def open_hashes(self) -> list[tuple[str, str, str]]:
        """(public id, type, value) of every open request's hashes."""
        query = (
            select(
                tables.requests.c.public_id, tables.hashes.c.kind, tables.hashes.c.value
            )
            .join(tables.hashes, tables.hashes.c.request_id == tables.requests.c.id)
            .where(tables.requests.c.state.in_([s.value for s in OPEN]))
        )
        with self.engine.connect() as connection:
            return [(r.public_id, r.kind, r.value) for r in connection.execute(query)]

    def hashes_of(self, public_id: str) -> list[tuple[str, str]]:
        """The (type, value) hashes kept for a request."""
        request = self.get(public_id)
        with self.engine.connect() as connection:
            return [
                (r.kind, r.value)
                for r in connection.execute(
                    select(tables.hashes)
                    .where(tables.hashes.c.request_id == request.id)
                    .order_by(tables.hashes.c.id)
                )
            ]


def mark_changed(connection: Connection) -> None:
    """Count a change of the open requests' hashes or states, in the
    caller's transaction (so it is seen exactly when the change is)."""
    counter = tables.changes
    bump = update(counter).where(counter.c.id == 1).values(count=counter.c.count + 1)
    if connection.execute(bump).rowcount:
        return
    if not insert_if_absent(connection, counter, ["id"], {"id": 1, "count": 1}):
        connection.execute(bump)  # another process wrote the row first


def insert_if_absent(
    connection: Connection, table: Table, keys: list[str], values: Mapping[str, Any]
) -> bool:
    """Insert a row unless one with the same `keys` (a unique index) is
    there, committed by another process included; True when inserted."""
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = (
            make(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys)
            # A row back means it was written (rowcount is not to be trusted
            # here: PostgreSQL's driver may give -1).
            .returning(table.c.id)
        )
        return connection.execute(statement).first() is not None
    try:  # pragma: no cover - other databases: a savepoint around the insert
        with connection.begin_nested():
            connection.execute(insert(table).values(**values))
    except IntegrityError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def record(
    connection: Connection,
    number: int,
    public_id: str,
    actor: str,
    action: str,
    detail: Mapping[str, Any],
    *,
    at: datetime | None = None,
    once: str | None = None,
) -> bool:
    """Write one step to `removal_events` and the audit trail (one
    transaction). With `once`, only if no step of the request was written
    under that name before (in any process): False when it was."""
    values = {
        "request_id": number,
        "at": at or datetime.now(UTC),
        "actor": actor[:64],
        "action": action[:32],
        "detail": json.dumps(dict(detail), sort_keys=True),
        "once": once,
    }
    if once is None:
        connection.execute(insert(tables.events).values(**values))
    elif not insert_if_absent(
        connection, tables.events, ["request_id", "once"], values
    ):
        return False
    audit.record(
        connection,
        actor=actor,
        action=f"removal.{action}",
        subject=f"request:{public_id}",
        detail=detail,
    )
    return True


def load(connection: Connection, row: Any, *, personal: bool) -> RemovalRequest:
    """A request row with its items, hash counts, copies and record."""
    number = int(row.id)
    items = tuple(
        Item(r.location, r.reference)
        for r in connection.execute(
            select(tables.items)
            .where(tables.items.c.request_id == number)
            .order_by(tables.items.c.id)
        )
    )
    counts: dict[str, int] = {}
    for origin, count in connection.execute(
        select(tables.hashes.c.origin, func.count())
        .where(tables.hashes.c.request_id == number)
        .group_by(tables.hashes.c.origin)
    ):
        counts[origin] = int(count)
    copies = tuple(
        Copy(
            r.reference,
            r.found_by,
            r.distance,
            aware(r.found_at),
            aware(r.removed_at) if r.removed_at else None,
            r.removed_by,
        )
        for r in connection.execute(
            select(tables.copies)
            .where(tables.copies.c.request_id == number)
            .order_by(tables.copies.c.id)
        )
    )
    events = tuple(
        Event(aware(r.at), r.actor, r.action, json.loads(r.detail or "{}"))
        for r in connection.execute(
            select(tables.events)
            .where(tables.events.c.request_id == number)
            .order_by(tables.events.c.id)
        )
    )
    return RemovalRequest(
        id=number,
        public_id=row.public_id,
        state=State(row.state),
        reason=row.reason,
        role=row.requester_role,
        received_at=aware(row.received_at),
        deadline=aware(row.deadline),
        closed_at=aware(row.closed_at) if row.closed_at else None,
        redacted_at=aware(row.redacted_at) if row.redacted_at else None,
        personal=Personal.from_json(row.personal) if personal else None,
        items=items,
        hashes=counts,
        copies=copies,
        events=events,
    )


def digest(receipt: str) -> str:
    """How a receipt is stored: its SHA-256, hex."""
    return hashlib.sha256(receipt.encode()).hexdigest()

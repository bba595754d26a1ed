"""Removal requests in the matcher's store: filing, reading and changing them.

Every change writes, in one transaction, the change itself, its step in
`removal_events` (the record of reasonable efforts), its line in the desk's
audit trail and any webhook it owes (`removal.copies`). None of those three
holds personal data: that lives only in `removal_requests.personal`, read
by `get(..., personal=True)` for leads and admins, and blanked by
`clock.purge` after retention. No IP address is stored. The requester's
receipt is random, shown once, and stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reclaim.matcher.config import RemovalsConfig
from reclaim.matcher.desk import audit
from reclaim.matcher.errors import (
    RemovalError,
    RemovalStateError,
    UnknownRemovalError,
)
from reclaim.matcher.outbox import WEBHOOK, enqueue
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.model import (
    CLOSED,
    DEADLINE,
    OPEN,
    Copy,
    Event,
    Intake,
    Item,
    Personal,
    RemovalRequest,
    State,
    aware,
    iso,
    problems,
)

#: Letters of public ids: no 0/O or 1/I to misread on a phone.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
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


class RemovalStore:
    """Filing, reading and changing removal requests."""

    def __init__(
        self, engine: Engine, config: RemovalsConfig, *, webhooks: bool
    ) -> None:
        self.engine = engine
        self.config = config
        self.webhooks = webhooks
        self._patterns = [re.compile(p) for p in config.reference_patterns]
        #: Bumped on every change of open requests' hashes or states, so the
        #: watch list knows when to rebuild.
        self.version = 0

    # ---- filing ---------------------------------------------------------------

    def resolve(self, location: str) -> str | None:
        """The platform reference a location names (`reference_patterns`)."""
        for pattern in self._patterns:
            found = pattern.search(location)
            if found is not None:
                reference = found.group("reference")
                if reference and len(reference) <= 200:
                    return reference
        return None

    def file(
        self, intake: Intake, *, now: datetime | None = None
    ) -> tuple[RemovalRequest, str]:
        """Record a request, checked; returns it and its one-time receipt."""
        received = (now or datetime.now(UTC)).astimezone(UTC)
        receipt = secrets.token_urlsafe(24)
        missing = problems(intake)
        state = State.INVALID if missing else State.VALID
        for _ in range(5):
            public_id = "RR-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))
            try:
                with self.engine.begin() as connection:
                    number = self._insert(
                        connection, intake, public_id, receipt, received
                    )
                    self._event(
                        connection,
                        number,
                        public_id,
                        "requester",
                        "received",
                        {
                            "via": intake.via,
                            "items": len(intake.locations),
                            "hashes": len(intake.hashes),
                        },
                        at=received,
                    )
                    connection.execute(
                        update(tables.requests)
                        .where(tables.requests.c.id == number)
                        .values(
                            state=state.value,
                            reason="; ".join(missing) or None,
                            decided_at=received,
                            closed_at=received if state in CLOSED else None,
                        )
                    )
                    self._event(
                        connection,
                        number,
                        public_id,
                        "system",
                        "checked",
                        {"valid": not missing, "problems": missing},
                        at=received,
                    )
                    if intake.hashes:
                        self._event(
                            connection,
                            number,
                            public_id,
                            "requester",
                            "hashed",
                            {"hashes": len(intake.hashes), "from": "sent"},
                            at=received,
                        )
                    reported = [
                        Found(ref, "reported")
                        for ref in dict.fromkeys(
                            self.resolve(loc) for loc in intake.locations
                        )
                        if ref is not None
                    ]
                    self._add_copies(connection, number, reported, "system", received)
                break
            except IntegrityError:
                continue  # the random public id was taken: draw another
        else:  # pragma: no cover - 32^10 ids
            raise RemovalError("could not draw a free request number: try again")
        self.version += 1
        return self.get(public_id), receipt

    def _insert(
        self,
        connection: Connection,
        intake: Intake,
        public_id: str,
        receipt: str,
        received: datetime,
    ) -> int:
        key = connection.execute(
            insert(tables.requests).values(
                public_id=public_id,
                received_at=received,
                deadline=received + DEADLINE,
                state=State.RECEIVED.value,
                requester_role=intake.role,
                personal=intake.personal.to_json(),
                receipt_digest=_digest(receipt),
            )
        ).inserted_primary_key
        assert key is not None
        number = key[0]
        for location in intake.locations:
            connection.execute(
                insert(tables.items).values(
                    request_id=number,
                    location=location,
                    reference=self.resolve(location),
                )
            )
        for kind, value in intake.hashes:
            connection.execute(
                insert(tables.hashes).values(
                    request_id=number, kind=kind, value=value, origin="sent"
                )
            )
        return int(number)

    # ---- reading --------------------------------------------------------------

    def get(self, public_id: str, *, personal: bool = False) -> RemovalRequest:
        """One request with everything recorded on it (personal data only
        when asked: leads and admins). UnknownRemovalError if none."""
        if not _PUBLIC_ID.fullmatch(public_id):
            raise UnknownRemovalError(
                f"{public_id[:20]!r} is not a removal request number: expected "
                "RR- and 10 letters or digits"
            )
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tables.requests).where(tables.requests.c.public_id == public_id)
            ).first()
            if row is None:
                raise UnknownRemovalError(f"no removal request is numbered {public_id}")
            return _request(connection, row, personal=personal)

    def check_receipt(self, public_id: str, receipt: str) -> RemovalRequest:
        """The request, if this is its receipt; one refusal otherwise."""
        digest = _digest(receipt[:100])
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tables.requests).where(
                    tables.requests.c.public_id == public_id[:20]
                )
            ).first()
            stored = row.receipt_digest if row is not None else None
            if not hmac.compare_digest(digest, stored or "-" * 64):
                raise UnknownRemovalError(NOT_FOUND)
            return _request(connection, row, personal=False)

    def listed(
        self,
        *,
        state: str | None = None,
        due_within_hours: float | None = None,
        now: datetime | None = None,
        limit: int = 200,
    ) -> list[RemovalRequest]:
        """Requests, open ones first by deadline (overdue first), then the
        closed, newest first."""
        query = select(tables.requests)
        if state:
            query = query.where(tables.requests.c.state == state)
        if due_within_hours is not None:
            moment = (now or datetime.now(UTC)) + timedelta(hours=due_within_hours)
            query = query.where(
                tables.requests.c.state.in_([s.value for s in OPEN]),
                tables.requests.c.deadline <= moment,
            )
        with self.engine.connect() as connection:
            rows = connection.execute(
                query.order_by(tables.requests.c.deadline).limit(limit)
            ).all()
            found = [_request(connection, row, personal=False) for row in rows]
        opened = [r for r in found if r.open]
        closed = sorted(
            (r for r in found if not r.open), key=lambda r: r.received_at, reverse=True
        )
        return opened + closed

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

    # ---- changing -------------------------------------------------------------

    def add_hashes(
        self,
        public_id: str,
        found: Sequence[tuple[str, str]],
        *,
        origin: str,
        actor: str,
    ) -> int:
        """Keep hashes of the reported item (type, value); returns how many
        were new. Recorded as a `hashed` step."""
        request = self.get(public_id)
        with self.engine.begin() as connection:
            held = {
                (r.kind, r.value)
                for r in connection.execute(
                    select(tables.hashes).where(
                        tables.hashes.c.request_id == request.id
                    )
                )
            }
            fresh = [pair for pair in dict.fromkeys(found) if pair not in held]
            for kind, value in fresh:
                connection.execute(
                    insert(tables.hashes).values(
                        request_id=request.id, kind=kind, value=value, origin=origin
                    )
                )
            self._event(
                connection,
                request.id,
                public_id,
                actor,
                "hashed",
                {"hashes": len(fresh), "from": origin},
            )
        if fresh:
            self.version += 1
        return len(fresh)

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

    def add_copies(
        self, public_id: str, found: Iterable[Found], *, actor: str = "system"
    ) -> list[str]:
        """Record copies found (each reference once); returns the new ones.
        A valid request's new copies go to the platform (`removal.copies`)."""
        request = self.get(public_id)
        with self.engine.begin() as connection:
            return self._add_copies(
                connection, request.id, list(found), actor, datetime.now(UTC)
            )

    def note(
        self,
        public_id: str,
        action: str,
        detail: Mapping[str, Any],
        *,
        actor: str = "system",
    ) -> None:
        """Record a step of the search (`searched_catalog`, `watching_uploads`)."""
        request = self.get(public_id)
        with self.engine.begin() as connection:
            self._event(connection, request.id, public_id, actor, action, detail)

    def mark_removed(
        self,
        public_id: str,
        references: Sequence[str],
        *,
        actor: str,
        now: datetime | None = None,
    ) -> RemovalRequest:
        """Record copies taken down (a reference not listed yet is added as
        named by the platform); when every copy is down the request is
        `removed`, with its time to removal."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        request = self.get(public_id)
        if request.state in (State.REMOVED, State.REJECTED):
            raise RemovalStateError(
                f"request {public_id} is {request.state.value}: copies can no "
                "longer be marked removed"
            )
        if not references:
            raise RemovalError(
                "no references were given: name the content references removed"
            )
        held = {c.reference: c for c in request.copies}
        with self.engine.begin() as connection:
            self._add_copies(
                connection,
                request.id,
                [Found(r, "platform") for r in references if r not in held],
                actor,
                moment,
            )
            for reference in dict.fromkeys(references):
                changed = connection.execute(
                    update(tables.copies)
                    .where(
                        tables.copies.c.request_id == request.id,
                        tables.copies.c.reference == reference,
                        tables.copies.c.removed_at.is_(None),
                    )
                    .values(removed_at=moment, removed_by=actor[:64])
                ).rowcount
                if changed:
                    self._event(
                        connection,
                        request.id,
                        public_id,
                        actor,
                        "copy_removed",
                        {"reference": reference},
                        at=moment,
                    )
            left = connection.execute(
                select(func.count())
                .select_from(tables.copies)
                .where(
                    tables.copies.c.request_id == request.id,
                    tables.copies.c.removed_at.is_(None),
                )
            ).scalar_one()
            if not left:
                hours = (moment - request.received_at).total_seconds() / 3600
                self._set_state(
                    connection,
                    request,
                    State.REMOVED,
                    None,
                    actor,
                    moment,
                    {"hours_to_removal": round(hours, 2)},
                )
        self.version += 1
        return self.get(public_id)

    def decide(
        self,
        public_id: str,
        action: str,
        *,
        reason: str | None,
        actor: str,
        now: datetime | None = None,
    ) -> RemovalRequest:
        """A lead's (or the platform's) decision: valid, invalid or rejected,
        with a reason. A request made valid sends its copies for removal."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        target = State(action) if action in ("valid", "invalid", "rejected") else None
        if target is None:
            raise RemovalError(
                f"{action[:20]!r} is not a decision: expected valid, invalid or "
                "rejected"
            )
        reason = (reason or "").strip()
        if not reason:
            raise RemovalError(
                f"a request is made {action} only with a reason: say why (no "
                "personal data)"
            )
        request = self.get(public_id)
        if request.state in (State.REMOVED, State.REJECTED) or request.state is target:
            raise RemovalStateError(
                f"request {public_id} is {request.state.value}: it cannot be "
                f"made {action}"
            )
        with self.engine.begin() as connection:
            detail: dict[str, Any] = {"reason": reason}
            if target is not State.REJECTED:
                detail["valid"] = target is State.VALID
                detail["problems"] = [] if target is State.VALID else [reason]
            self._set_state(connection, request, target, reason, actor, moment, detail)
            if target is State.VALID:
                pending = [c.reference for c in request.copies if not c.removed_at]
                self._ask_takedown(connection, request, pending, actor)
        self.version += 1
        return self.get(public_id)

    # ---- inside a transaction ---------------------------------------------------

    def _set_state(
        self,
        connection: Connection,
        request: RemovalRequest,
        state: State,
        reason: str | None,
        actor: str,
        moment: datetime,
        detail: dict[str, Any],
    ) -> None:
        connection.execute(
            update(tables.requests)
            .where(tables.requests.c.id == request.id)
            .values(
                state=state.value,
                reason=reason,
                decided_at=moment,
                closed_at=moment if state in CLOSED else None,
            )
        )
        action = "closed" if state is State.REMOVED else state.value
        self._event(
            connection,
            request.id,
            request.public_id,
            actor,
            action,
            {"state": state.value, **detail},
            at=moment,
        )

    def _add_copies(
        self,
        connection: Connection,
        number: int,
        found: Sequence[Found],
        actor: str,
        moment: datetime,
    ) -> list[str]:
        row = connection.execute(
            select(tables.requests).where(tables.requests.c.id == number)
        ).one()
        held = set(
            connection.scalars(
                select(tables.copies.c.reference).where(
                    tables.copies.c.request_id == number
                )
            )
        )
        fresh: list[Found] = []
        for copy in found:
            if copy.reference in held or not copy.reference:
                continue
            held.add(copy.reference)
            fresh.append(copy)
            connection.execute(
                insert(tables.copies).values(
                    request_id=number,
                    reference=copy.reference[:200],
                    found_by=copy.found_by,
                    distance=copy.distance,
                    match_id=copy.match_id,
                    found_at=moment,
                )
            )
            self._event(
                connection,
                number,
                row.public_id,
                actor,
                "copy_found",
                {
                    "reference": copy.reference,
                    "found_by": copy.found_by,
                    "distance": copy.distance,
                },
                at=moment,
            )
        if fresh and row.state == State.VALID.value:
            self._ask_takedown(
                connection,
                _Head(number, row.public_id, aware(row.deadline)),
                [c.reference for c in fresh if c.found_by != "platform"],
                actor,
            )
        return [c.reference for c in fresh]

    def _ask_takedown(
        self,
        connection: Connection,
        request: _Head | RemovalRequest,
        references: Sequence[str],
        actor: str,
    ) -> None:
        """Tell the platform's takedown system what to remove (no personal data)."""
        if not references:
            return
        if self.webhooks:
            enqueue(
                connection,
                WEBHOOK,
                {
                    "event": "removal.copies",
                    "request": request.public_id,
                    "deadline": iso(request.deadline),
                    "references": list(references),
                },
            )
        self._event(
            connection,
            request.id,
            request.public_id,
            actor,
            "takedown_asked",
            {"references": list(references), "webhook": self.webhooks},
        )

    def _event(
        self,
        connection: Connection,
        number: int,
        public_id: str,
        actor: str,
        action: str,
        detail: Mapping[str, Any],
        *,
        at: datetime | None = None,
    ) -> None:
        """A step of the record of efforts, and its audit line."""
        record(connection, number, public_id, actor, action, detail, at=at)


@dataclass(frozen=True, slots=True)
class _Head:
    """What a webhook needs of a request inside a transaction."""

    id: int
    public_id: str
    deadline: datetime


def record(
    connection: Connection,
    number: int,
    public_id: str,
    actor: str,
    action: str,
    detail: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    """Write one step to `removal_events` and the audit trail (one transaction)."""
    connection.execute(
        insert(tables.events).values(
            request_id=number,
            at=at or datetime.now(UTC),
            actor=actor[:64],
            action=action[:32],
            detail=json.dumps(dict(detail), sort_keys=True),
        )
    )
    audit.record(
        connection,
        actor=actor,
        action=f"removal.{action}",
        subject=f"request:{public_id}",
        detail=detail,
    )


def _request(connection: Connection, row: Any, *, personal: bool) -> RemovalRequest:
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


def _digest(receipt: str) -> str:
    return hashlib.sha256(receipt.encode()).hexdigest()

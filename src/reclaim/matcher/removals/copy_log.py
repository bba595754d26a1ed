"""The copies recorded on a request, the takedowns asked and the removals done.

A copy is recorded once per request (the unique index `ux_removal_copies`;
`insert_if_absent`, so two processes finding the same copy at once both
succeed). The platform's takedown system is asked to remove a copy (the
`removal.copies` webhook: the request number, deadline and references, no
personal data) only once the request is `valid`: a person marked it so.
Copies found before that are asked for when it is marked valid; those
found later, as they are found. `asked_at` makes each copy asked for once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select, update

from reclaim.matcher.errors import RemovalError, RemovalStateError
from reclaim.matcher.outbox import WEBHOOK, enqueue
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.ledger import (
    Found,
    Head,
    StoreBase,
    insert_if_absent,
    mark_changed,
    record,
)
from reclaim.matcher.removals.model import (
    CLOSED,
    RemovalRequest,
    State,
    check_reference,
)
from reclaim.matcher.removals.schemas import MAX_REFERENCE
from reclaim.matcher.times import aware, iso

logger = logging.getLogger(__name__)


class CopyLog(StoreBase):
    """Recording copies, asking for their takedown, marking them removed."""

    def add_copies(
        self, public_id: str, found: Iterable[Found], *, actor: str = "system"
    ) -> list[str]:
        """Record copies found (each reference once); returns the new ones.
        A valid request's new copies go to the platform (`removal.copies`)."""
        request = self.get(public_id)
        with self.engine.begin() as connection:
            return insert_copies(
                connection,
                request.id,
                list(found),
                actor,
                datetime.now(UTC),
                webhooks=self.webhooks,
            )

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
        `removed`, with its time to removal. A reference the API would not
        take (empty, over 200 characters) is refused: RemovalError."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        references = [check_reference(r) for r in references]
        if not references:
            raise RemovalError(
                "no references were given: name the content references removed"
            )
        with self.engine.begin() as connection:
            request = self.read(connection, public_id)
            if request.state in (State.REMOVED, State.REJECTED):
                raise RemovalStateError(
                    f"request {public_id} is {request.state.value}: copies can no "
                    "longer be marked removed"
                )
            insert_copies(
                connection,
                request.id,
                [Found(r, "platform") for r in references],
                actor,
                moment,
                webhooks=self.webhooks,
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
                    record(
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
                set_state(
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


def insert_copies(
    connection: Connection,
    number: int,
    found: Sequence[Found],
    actor: str,
    moment: datetime,
    *,
    webhooks: bool,
) -> list[str]:
    """Record the copies not recorded yet (inside a transaction); a valid
    request's new ones (not named by the platform) are asked for at once."""
    row = connection.execute(
        select(tables.requests).where(tables.requests.c.id == number)
    ).one()
    fresh: list[Found] = []
    for copy in found:
        if not copy.reference or len(copy.reference) > MAX_REFERENCE:
            # Never cut short: a shortened reference names other content.
            logger.warning("a copy of request %s had no usable reference", number)
            continue
        added = insert_if_absent(
            connection,
            tables.copies,
            ["request_id", "reference"],
            {
                "request_id": number,
                "reference": copy.reference,
                "found_by": copy.found_by,
                "distance": copy.distance,
                "match_id": copy.match_id,
                "found_at": moment,
            },
        )
        if not added:
            continue  # recorded before, here or by another process
        fresh.append(copy)
        record(
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
        ask_takedown(
            connection,
            Head(number, row.public_id, aware(row.deadline)),
            [c.reference for c in fresh if c.found_by != "platform"],
            actor,
            webhooks=webhooks,
            moment=moment,
        )
    return [c.reference for c in fresh]


def ask_takedown(
    connection: Connection,
    request: Head | RemovalRequest,
    references: Sequence[str] | None,
    actor: str,
    *,
    webhooks: bool,
    moment: datetime | None = None,
) -> list[str]:
    """Tell the platform's takedown system what to remove (no personal
    data): these references, or (None) every copy not asked for nor
    removed yet. Each copy is asked for once; returns those asked now."""
    moment = moment or datetime.now(UTC)
    if references is None:
        references = list(
            connection.scalars(
                select(tables.copies.c.reference)
                .where(
                    tables.copies.c.request_id == request.id,
                    tables.copies.c.asked_at.is_(None),
                    tables.copies.c.removed_at.is_(None),
                    tables.copies.c.found_by != "platform",
                )
                .order_by(tables.copies.c.id)
            )
        )
    asked = [
        reference
        for reference in dict.fromkeys(references)
        if connection.execute(
            update(tables.copies)
            .where(
                tables.copies.c.request_id == request.id,
                tables.copies.c.reference == reference,
                tables.copies.c.asked_at.is_(None),
            )
            .values(asked_at=moment)
        ).rowcount
    ]
    if not asked:
        return []
    if webhooks:
        enqueue(
            connection,
            WEBHOOK,
            {
                "event": "removal.copies",
                "request": request.public_id,
                "deadline": iso(request.deadline),
                "references": asked,
            },
        )
    record(
        connection,
        request.id,
        request.public_id,
        actor,
        "takedown_asked",
        {"references": asked, "webhook": webhooks},
        at=moment,
    )
    return asked


def set_state(
    connection: Connection,
    request: RemovalRequest,
    state: State,
    reason: str | None,
    actor: str,
    moment: datetime,
    detail: dict[str, object],
) -> None:
    """Change a request's state from `request.state`, the state read in this
    transaction, with its step of the record. RemovalStateError (nothing
    changed: the caller's transaction rolls back) when another change
    committed meanwhile: a decision is never made on a state it did not see."""
    changed = connection.execute(
        update(tables.requests)
        .where(
            tables.requests.c.id == request.id,
            tables.requests.c.state == request.state.value,
        )
        .values(
            state=state.value,
            reason=reason,
            decided_at=moment,
            closed_at=moment if state in CLOSED else None,
        )
    ).rowcount
    if changed != 1:
        raise RemovalStateError(
            f"request {request.public_id} changed meanwhile (it was "
            f"{request.state.value} when read): reload it and try again"
        )
    mark_changed(connection)
    action = "closed" if state is State.REMOVED else state.value
    record(
        connection,
        request.id,
        request.public_id,
        actor,
        action,
        {"state": state.value, **detail},
        at=moment,
    )

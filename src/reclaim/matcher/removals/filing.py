"""Filing a removal request: the intake's limit, the check, one commit.

Anyone may file, so filing does as little as it can: it checks the four
parts (a missing part makes the request `invalid`, with the part named;
none missing leaves it `received`, complete, for a lead to check), stores
it with its items, the requester's hashes and the copies its locations
name, and commits. Nothing the reply needs is read after the commit, so a
stored request always gets its receipt. The search for copies is owed
(`searched_at` NULL) and done in the background. About `[removals]
max_per_hour` requests are filed in any hour, from everyone together
(never counted per address: no IP address is kept). One sender can use the
whole count up, and the count is read before the insert, so a few requests
arriving at the same moment can pass it by a few: a guard, not a promise.

The same submission is filed once: the public form carries a random
one-time token (an API client may send an `Idempotency-Key`), kept only as
its SHA-256 in a unique column, so a form sent again (a reload of the
receipt page) files nothing and is told which request it filed. With it is
kept the request's fingerprint (an HMAC keyed with the token): the same
token with a changed form (Back, fixed, sent again) is refused, not taken
for a repeat.
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reclaim.matcher.errors import (
    RemovalError,
    RemovalLimitError,
    SubmissionReusedError,
)
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.copy_log import CopyLog, insert_copies
from reclaim.matcher.removals.ledger import Found, digest, load, mark_changed, record
from reclaim.matcher.removals.model import (
    CLOSED,
    DEADLINE,
    Filed,
    Intake,
    PublicView,
    State,
    fingerprint,
    problems,
    validity_words,
)
from reclaim.matcher.removals.schemas import MAX_REFERENCE
from reclaim.matcher.times import aware

#: Letters of public ids: no 0/O or 1/I to misread on a phone.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: The window of `[removals] max_per_hour`.
HOUR = timedelta(hours=1)


class Filing(CopyLog):
    """Taking a request in."""

    def resolve(self, location: str) -> str | None:
        """The platform reference a location names (`reference_patterns`)."""
        for pattern in self.patterns:
            found = pattern.search(location)
            if found is not None:
                reference = found.group("reference")
                if reference and len(reference) <= MAX_REFERENCE:
                    return reference
        return None

    def room(self, *, now: datetime | None = None) -> None:
        """RemovalLimitError when `max_per_hour` requests arrived in the last
        hour (with the seconds until the oldest of them leaves the window).
        Read before filing, not with it: requests filed at the same moment
        all see room, so the hour can end a few past the limit."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        with self.engine.connect() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(tables.requests.c.received_at)).where(
                    tables.requests.c.received_at > moment - HOUR
                )
            ).one()
        if count < self.config.max_per_hour:
            return
        wait = HOUR - (moment - aware(oldest)) if oldest is not None else HOUR
        seconds = max(1, min(3600, math.ceil(wait.total_seconds())))
        raise RemovalLimitError(
            f"{count} removal requests arrived in the last hour, the most this "
            f"platform takes ([removals] max_per_hour = "
            f"{self.config.max_per_hour}): send it again in {seconds} seconds",
            retry_after=seconds,
        )

    def file(
        self,
        intake: Intake,
        *,
        submission: str | None = None,
        now: datetime | None = None,
    ) -> Filed:
        """Record a request, checked; returns what the requester may see of
        it and its one-time receipt. RemovalLimitError past the hour's limit.

        `submission` is the one-time token of the form (or the API client's
        Idempotency-Key) it came with: a token already used with the same
        request files nothing and answers the request it filed, without a
        receipt; with another request, SubmissionReusedError."""
        received = (now or datetime.now(UTC)).astimezone(UTC)
        submitted = digest(submission) if submission else None
        sent = fingerprint(intake, submission) if submission else None
        earlier = self._submitted(submitted, sent)
        if earlier is not None:
            return Filed(earlier, None)
        self.room(now=received)
        receipt = secrets.token_urlsafe(24)
        missing = problems(intake)
        state = State.INVALID if missing else State.RECEIVED
        for _ in range(5):
            public_id = "RR-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))
            try:
                with self.engine.begin() as connection:
                    self._store(
                        connection,
                        intake,
                        public_id,
                        (digest(receipt), submitted, sent),
                        received,
                        missing,
                    )
                break
            except IntegrityError:
                # The same submission, filed at this moment by another
                # request or process: answer that one.
                earlier = self._submitted(submitted, sent)
                if earlier is not None:
                    return Filed(earlier, None)
                continue  # the random public id was taken: draw another
        else:  # pragma: no cover - 32^10 ids
            raise RemovalError("could not draw a free request number: try again")
        self.version += 1
        complete = not missing
        view = PublicView(
            public_id,
            state,
            received,
            received + DEADLINE,
            {
                "complete": complete,
                "valid": False,
                "problems": missing,
                "summary": validity_words(state, complete=complete, valid=False),
            },
        )
        return Filed(view, receipt)

    def _submitted(self, submitted: str | None, sent: str | None) -> PublicView | None:
        """The request a submission token's digest filed, if any, when it was
        filed with the same body (`sent`, its fingerprint); the same token
        with another body: SubmissionReusedError."""
        if submitted is None or sent is None:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tables.requests).where(
                    tables.requests.c.submission_digest == submitted
                )
            ).first()
            if row is None:
                return None
            if not hmac.compare_digest(row.submission_body or "", sent):
                raise SubmissionReusedError(
                    "this one-time form token (the Idempotency-Key header, on the "
                    f"API) filed request {row.public_id} with a different request: "
                    "nothing was filed; send a new request with a new key",
                    public_id=row.public_id,
                )
            return load(connection, row, personal=False).public()

    def _store(
        self,
        connection: Connection,
        intake: Intake,
        public_id: str,
        digests: tuple[str, str | None, str | None],
        received: datetime,
        missing: list[str],
    ) -> None:
        """Everything filing writes, in the caller's one transaction."""
        state = State.INVALID if missing else State.RECEIVED
        number = self._insert(connection, intake, public_id, digests, received)
        detail = {
            "via": intake.via,
            "items": len(intake.locations),
            "hashes": len(intake.hashes),
        }
        record(
            connection, number, public_id, "requester", "received", detail, at=received
        )
        if state in CLOSED:
            connection.execute(
                update(tables.requests)
                .where(tables.requests.c.id == number)
                .values(
                    state=state.value,
                    reason="; ".join(missing),
                    decided_at=received,
                    closed_at=received,
                )
            )
        record(
            connection,
            number,
            public_id,
            "system",
            "checked",
            {"complete": not missing, "problems": missing},
            at=received,
        )
        if intake.hashes:
            record(
                connection,
                number,
                public_id,
                "requester",
                "hashed",
                {"hashes": len(intake.hashes), "from": "sent"},
                at=received,
            )
        reported = [
            Found(reference, "reported")
            for reference in dict.fromkeys(
                self.resolve(location) for location in intake.locations
            )
            if reference is not None
        ]
        insert_copies(
            connection, number, reported, "system", received, webhooks=self.webhooks
        )
        if intake.hashes and state not in CLOSED:
            mark_changed(connection)  # the watch lists gain its hashes

    def _insert(
        self,
        connection: Connection,
        intake: Intake,
        public_id: str,
        digests: tuple[str, str | None, str | None],
        received: datetime,
    ) -> int:
        receipt, submission, sent = digests
        key = connection.execute(
            insert(tables.requests).values(
                public_id=public_id,
                received_at=received,
                deadline=received + DEADLINE,
                state=State.RECEIVED.value,
                requester_role=intake.role,
                personal=intake.personal.to_json(),
                receipt_digest=receipt,
                submission_digest=submission,
                submission_body=sent,
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

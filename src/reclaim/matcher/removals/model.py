"""A removal request as the service sees it: states, the four parts, the check.

The TAKE IT DOWN Act's valid request has four parts: a signature, the
content and where to find it, a good-faith statement that it was published
without consent, and contact information. `Intake.of` parses a request
body into typed values at the edge; `problems` says, in plain words, which
parts are missing. None missing makes a request complete, not valid: only a
person (a lead, or the platform through its API) marks it valid, and only
then is the platform's takedown system asked to remove its copies.

Personal data (the typed signature, contact details, the statement, the
content descriptions and whom an agent acts for) is kept apart, in
`Personal`, so it is stored in one column, shown only to leads and admins,
and blanked after retention; everything else here is the record of efforts.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from reclaim.hashing import InvalidHashError, Md5Hash, PdqHash
from reclaim.matcher.errors import RemovalError
from reclaim.matcher.removals.schemas import MAX_REFERENCE, RemovalRequestIn
from reclaim.matcher.times import iso

#: The Act's clock: a valid request is acted on within 48 hours of receipt.
DEADLINE = timedelta(hours=48)
#: PDQ hashes with fewer bits set (or unset) than this are no picture's hash
#: (a blank or flat image): they would match every flat upload.
MIN_PDQ_BITS = 32
#: The MD5 of no bytes at all: it would match every empty upload.
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


class State(enum.StrEnum):
    """Where a request stands. Names are storage and wire keys."""

    RECEIVED = "received"  # recorded and complete: waiting for a lead to check
    VALID = "valid"  # a lead (or the platform) checked it: copies go for removal
    INVALID = "invalid"  # a part missing (or a lead said so), with a reason
    REMOVED = "removed"  # every copy found was removed
    REJECTED = "rejected"  # a lead refused it, with a reason


#: States whose clock runs: reminders, escalation and the watch on uploads.
OPEN = frozenset({State.RECEIVED, State.VALID})
#: States after which personal data is blanked `retention_days` later.
CLOSED = frozenset({State.INVALID, State.REMOVED, State.REJECTED})


@dataclass(frozen=True, slots=True)
class Personal:
    """The requester's personal data: stored in one column, never logged,
    never sent, blanked after retention."""

    signature: str = ""
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None
    statement: str = ""
    on_behalf_of: str | None = None
    descriptions: tuple[str | None, ...] = ()

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Personal | None:
        """Back from the stored form (None once blanked)."""
        if not text:
            return None
        data = json.loads(text)
        data["descriptions"] = tuple(data.get("descriptions") or ())
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Intake:
    """A request as received, parsed: who asks, what, and the four parts."""

    role: str
    personal: Personal
    locations: tuple[str, ...]
    hashes: tuple[tuple[str, str], ...]  # (type, value), checked
    signature_confirmed: bool
    statement_confirmed: bool
    via: str = "api"  # api or form

    @classmethod
    def of(cls, body: RemovalRequestIn, *, via: str = "api") -> Intake:
        """Parse a request body; RemovalError for a hash that is not one."""
        hashes: list[tuple[str, str]] = []
        for number, item in enumerate(body.hashes):
            try:
                value = (
                    PdqHash.parse(item.value).hex
                    if item.type == "pdq"
                    else Md5Hash.parse(item.value).hex
                )
            except InvalidHashError as error:
                raise RemovalError(f"hashes[{number}]: {error}") from None
            why = degenerate(item.type, value)
            if why:
                raise RemovalError(f"hashes[{number}]: {why}")
            if (item.type, value) not in hashes:
                hashes.append((item.type, value))
        signature = body.signature
        statement = body.good_faith_statement
        contact = body.contact
        return cls(
            role=body.requester.role,
            personal=Personal(
                signature=(signature.name.strip() if signature else ""),
                email=_text(contact.email if contact else None),
                phone=_text(contact.phone if contact else None),
                postal_address=_text(contact.postal_address if contact else None),
                statement=(statement.statement.strip() if statement else ""),
                on_behalf_of=_text(body.requester.on_behalf_of),
                descriptions=tuple(_text(c.description) for c in body.content),
            ),
            locations=tuple(c.location.strip() for c in body.content),
            hashes=tuple(hashes),
            signature_confirmed=bool(signature and signature.confirmed),
            statement_confirmed=bool(statement and statement.confirmed),
            via=via,
        )


def fingerprint(intake: Intake, token: str) -> str:
    """The request as sent, canonical, as an HMAC-SHA-256 keyed with its
    one-time submission token (hex): equal for the same token and body."""
    canonical = json.dumps(asdict(intake), sort_keys=True, separators=(",", ":"))
    return hmac.new(token.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def degenerate(kind: str, value: str) -> str | None:
    """Why a hash would match far too much (a blank picture, no bytes), or
    None: the one check of every hash a request gets (refused when the
    requester sent it, skipped with a step when hashed here)."""
    if kind == "md5":
        if value == EMPTY_MD5:
            return (
                "this MD5 is the hash of an empty file: expected the hash of the "
                "image or video itself; hash the file again"
            )
        return None
    ones = bin(int(value, 16)).count("1")
    if ones < MIN_PDQ_BITS or 256 - ones < MIN_PDQ_BITS:
        return (
            f"this PDQ hash has {ones} of 256 bits set: expected between "
            f"{MIN_PDQ_BITS} and {256 - MIN_PDQ_BITS}, as a picture's hash has "
            "(a blank or single-colour image matches everything); hash the "
            "picture itself"
        )
    return None


def check_reference(reference: str) -> str:
    """A content reference as given, refused (RemovalError) when empty or
    longer than the API takes: never cut short, so it can be removed later."""
    if not reference:
        raise RemovalError("a content reference is empty: name the content removed")
    if len(reference) > MAX_REFERENCE:
        raise RemovalError(
            f"the reference {reference[:20]!r}… is {len(reference)} characters: "
            f"expected at most {MAX_REFERENCE}; give the platform's content "
            "reference, not a link or a description"
        )
    return reference


def problems(intake: Intake) -> list[str]:
    """The parts a request lacks, in plain words (empty: it is complete).

    The lines name parts, never what was given, so they may be shown,
    stored as the reason and sent without personal data.
    """
    found: list[str] = []
    personal = intake.personal
    if not personal.signature:
        found.append("signature: the full name, typed as a signature, is missing")
    elif not intake.signature_confirmed:
        found.append(
            "signature: it is not confirmed that the typed name is the "
            "requester's signature"
        )
    if not any(location for location in intake.locations):
        found.append("content: no link or location of the content was given")
    if not intake.statement_confirmed:
        found.append(
            "good-faith statement: it is not confirmed that the content was "
            "published without consent"
        )
    elif not personal.statement:
        found.append("good-faith statement: the statement text is missing")
    if not (personal.email or personal.phone or personal.postal_address):
        found.append(
            "contact: no email address, phone number or postal address was given"
        )
    elif personal.email and "@" not in personal.email:
        found.append("contact: the email address is not a valid address")
    if intake.role == "authorized_agent" and not personal.on_behalf_of:
        found.append("requester: an authorised agent must say on whose behalf they ask")
    return found


@dataclass(frozen=True, slots=True)
class Item:
    """One location the requester named, and the reference it resolved to."""

    location: str
    reference: str | None


@dataclass(frozen=True, slots=True)
class Copy:
    """A piece of the platform's content that is the reported item or a copy."""

    reference: str
    found_by: str  # reported, forward, catalog, platform
    distance: int | None
    found_at: datetime
    removed_at: datetime | None = None
    removed_by: str | None = None

    def summary(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "reference": self.reference,
            "found_by": self.found_by,
            "distance": self.distance,
            "found_at": iso(self.found_at),
            "removed_at": iso(self.removed_at),
            "removed_by": self.removed_by,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the record of reasonable efforts (no personal data)."""

    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
        }


#: The events that are actions taken on the request or its content.
ACTIONS = frozenset(
    {"takedown_asked", "copy_removed", "valid", "invalid", "rejected", "closed"}
)


@dataclass(frozen=True, slots=True)
class RemovalRequest:
    """One request with its items, copies and record of efforts."""

    id: int
    public_id: str
    state: State
    reason: str | None
    role: str
    received_at: datetime
    deadline: datetime
    closed_at: datetime | None
    redacted_at: datetime | None
    personal: Personal | None
    items: tuple[Item, ...]
    hashes: dict[str, int]  # origin -> how many
    copies: tuple[Copy, ...]
    events: tuple[Event, ...] = field(default=())

    @property
    def open(self) -> bool:
        """Whether its clock runs."""
        return self.state in OPEN

    def validity(self) -> dict[str, Any]:
        """What the check found and what a person decided: `complete` (the
        four parts are there), `valid` (a person marked it valid), the
        parts missing, and `summary` in words."""
        return validity(self.state, self.events)

    def removed(self) -> bool:
        """Whether every copy found has been removed (and there is one)."""
        return bool(self.copies) and all(c.removed_at for c in self.copies)

    def time_left(self, now: datetime) -> timedelta:
        """Until the deadline (negative: overdue)."""
        return self.deadline - now

    def public(self) -> PublicView:
        """What the requester may see of it."""
        return PublicView(
            self.public_id,
            self.state,
            self.received_at,
            self.deadline,
            self.validity(),
        )

    def summary(self) -> dict[str, Any]:
        """The API's JSON form for the platform: no personal data."""
        return {
            "id": self.public_id,
            "state": self.state.value,
            "reason": self.reason,
            "requester": self.role,
            "received_at": iso(self.received_at),
            "deadline": iso(self.deadline),
            "closed_at": iso(self.closed_at),
            "redacted": self.redacted_at is not None,
            "validity": self.validity(),
            "content": [
                {"location": i.location, "reference": i.reference} for i in self.items
            ],
            "hashes": self.hashes,
            "copies": [c.summary() for c in self.copies],
            "actions": [e.summary() for e in self.events if e.action in ACTIONS],
            "events": [e.summary() for e in self.events],
        }


@dataclass(frozen=True, slots=True)
class PublicView:
    """A request as its requester (or anyone) may see it: never the copies
    found, the searches made or anything else about the platform's content."""

    public_id: str
    state: State
    received_at: datetime
    deadline: datetime
    checked: dict[str, Any]

    def validity(self) -> dict[str, Any]:
        """As `RemovalRequest.validity`."""
        return self.checked

    def status_words(self) -> str:
        """Where it stands, in the requester's words: an invalid one with the
        reason recorded (a person's, or the part the law asks for missing)."""
        if self.state is State.INVALID:
            summary = str(self.checked.get("summary") or "")
            reason = summary.removeprefix("invalid: ")
            return f"Not accepted: {reason}"
        return STATUS_WORDS[self.state]

    def summary(self) -> dict[str, Any]:
        """The public JSON form (the intake's reply, less `receipt`)."""
        return {
            "id": self.public_id,
            "state": self.state.value,
            "received_at": iso(self.received_at),
            "deadline": iso(self.deadline),
            "validity": self.checked,
        }


#: `PublicView.status_words` of the states that need no reason.
STATUS_WORDS = {
    State.RECEIVED: "Received: our team is checking it",
    State.VALID: "Being acted on",
    State.REMOVED: "Removed",
    State.REJECTED: "Not acted on",
}


class Filed(NamedTuple):
    """What filing answers: what the requester may see of the request, and
    its one-time receipt (None: this submission was already received, and
    its receipt was shown then)."""

    view: PublicView
    receipt: str | None

    @property
    def repeat(self) -> bool:
        """Whether the same submission had filed it already."""
        return self.receipt is None


def validity(state: State, events: Sequence[Event]) -> dict[str, Any]:
    """A request's validity from its state and its record: the intake's
    check (`checked`), then any person's decision (`valid`, `invalid`)."""
    complete, found, judged = state is not State.INVALID, [], None
    for event in events:
        if event.action == "checked":
            complete = bool(event.detail.get("complete"))
            found = list(event.detail.get("problems") or [])
        elif event.action in ("valid", "invalid"):
            judged = event.action
            complete = event.action == "valid"
            found = list(event.detail.get("problems") or [])
    valid = judged == "valid" and state in (State.VALID, State.REMOVED)
    # A person may mark a request invalid for any reason: say theirs.
    reason = "; ".join(found) or None if judged == "invalid" else None
    return {
        "complete": complete,
        "valid": valid,
        "problems": found,
        "summary": validity_words(state, complete=complete, valid=valid, reason=reason),
    }


def validity_words(
    state: State, *, complete: bool, valid: bool, reason: str | None = None
) -> str:
    """Validity in a few plain words: `reason` is a person's, when a person
    marked it invalid (else the intake's check found a part missing)."""
    if state is State.REJECTED:
        return "rejected by a lead"
    if valid:
        return "valid: checked by a person"
    if state is State.INVALID and reason:
        return f"invalid: {reason}"
    if state is State.INVALID or not complete:
        return "invalid: a part the law asks for is missing"
    if state is State.RECEIVED:
        return "complete: the four parts are there; waiting for a lead to check"
    return "complete: the four parts are there"


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None

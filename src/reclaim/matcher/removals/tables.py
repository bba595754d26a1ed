"""The tables of legal removal requests (on the matcher store's `metadata`).

A request's personal data (the requester's name as signed, contact details
and statement) sits in `removal_requests` only, and is blanked
`[removals] retention_days` after the request is closed (`redacted_at`).
Everything else (the items, hashes, copies and the record of efforts) holds
no personal data, so the record of reasonable efforts outlives it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from reclaim.matcher.tables import Id, metadata

requests = Table(
    "removal_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # What the requester and the desk call it ("RR-" and 10 random letters).
    Column("public_id", String(20), nullable=False, unique=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    # received, valid, invalid, removed, rejected
    Column("state", String(16), nullable=False),
    # Why invalid or rejected (no personal data).
    Column("reason", Text, nullable=True),
    # depicted_person or authorized_agent
    Column("requester_role", String(24), nullable=False),
    # Personal data, blanked at redaction: JSON of signature, contact, statement.
    Column("personal", Text, nullable=True),
    # SHA-256 of the requester's receipt token, hex (to check their request).
    Column("receipt_digest", String(64), nullable=True),
    # SHA-256 of the one-time submission token the form (or an API client's
    # Idempotency-Key) sent it with, hex: the same form sent again files
    # nothing. NULL when none was sent.
    Column("submission_digest", String(64), nullable=True, unique=True),
    # HMAC-SHA-256 of the request as sent (canonical JSON), keyed with that
    # token, hex: the same token with another body is told apart from a
    # repeat. The token is not kept, so this cannot confirm a guess of what
    # was sent.
    Column("submission_body", String(64), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("redacted_at", DateTime(timezone=True), nullable=True),
    # When copies were last searched for with every hash kept (NULL: a
    # search is owed; the removals loop does it, and set back to NULL when
    # new hashes arrive).
    Column("searched_at", DateTime(timezone=True), nullable=True),
    # Owed searches that failed in a row, and when the next try is due
    # (NULL: now): a request whose search keeps failing waits longer each
    # time, behind the others, instead of holding them up.
    Column("search_failures", Integer, nullable=False, server_default="0"),
    Column("search_after", DateTime(timezone=True), nullable=True),
    Index("ix_removal_requests_state", "state", "deadline"),
    Index("ix_removal_requests_received", "received_at"),
)

items = Table(
    "removal_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, nullable=False),
    # Where the requester says the content is, as given (a URL on the platform).
    Column("location", Text, nullable=False),
    # The platform's content reference it resolves to (NULL: not resolved).
    Column("reference", String(200), nullable=True),
    Index("ix_removal_items_request", "request_id"),
    Index("ix_removal_items_reference", "reference"),
)

hashes = Table(
    "removal_hashes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", Text, nullable=False),
    # sent (with the request), catalog (the reported item's catalog item),
    # media (hashed from a file attached by the platform)
    Column("origin", String(16), nullable=False),
    Index("ix_removal_hashes_request", "request_id"),
)

copies = Table(
    "removal_copies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, nullable=False),
    Column("reference", String(200), nullable=False),
    # reported (named in the request), forward (an upload matched the
    # reported item's hashes), catalog (found in the content catalog),
    # platform (named by the platform when it marked it removed)
    Column("found_by", String(16), nullable=False),
    Column("distance", Integer, nullable=True),
    Column("match_id", BigInteger, nullable=True),
    Column("found_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True), nullable=True),
    Column("removed_by", String(64), nullable=True),
    # When the platform's takedown system was asked to remove it (a
    # `removal.copies` webhook): only once the request is valid.
    Column("asked_at", DateTime(timezone=True), nullable=True),
    Index("ux_removal_copies", "request_id", "reference", unique=True),
)

events = Table(
    "removal_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # An account name, "requester", "api" or "system".
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    # JSON; no personal data (this is the record of reasonable efforts).
    Column("detail", Text, nullable=False, server_default="{}"),
    # A step that happens at most once per request (the clock's notices):
    # its name here, and the unique index makes "once" hold across processes.
    Column("once", String(16), nullable=True),
    Index("ix_removal_events_request", "request_id", "id"),
    Index("ux_removal_events_once", "request_id", "once", unique=True),
)

changes = Table(
    "removal_changes",
    metadata,
    # One row (id 1), counting the changes of what the open requests' hashes
    # are (a request filed with hashes, new hashes, any change of state): a
    # matcher process rebuilds its watch list on uploads when the count it
    # built it at is behind, whichever process made the change.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
)

"""The desk's tables: accounts, login sessions, the audit trail, previews,
spike alerts and sync samples (on the matcher store's `metadata`).

No table holds an IP address, a user agent or a file name. A session is
stored as the SHA-256 of its cookie, so a copy of the store logs no one in.
Previews are kept only with `[desk] keep_media_hours` above zero, and
deleted when they expire.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from reclaim.matcher.tables import Id, metadata

accounts = Table(
    "desk_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    # "scrypt$n$r$p$salt$digest" (reclaim.matcher.desk.passwords).
    Column("password", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

sessions = Table(
    "desk_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # SHA-256 of the cookie's token, hex.
    Column("digest", String(64), nullable=False, unique=True),
    Column("account_id", BigInteger, nullable=False),
    # The token forms must echo (double-submit), random per session.
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

audit = Table(
    "desk_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    # The account name, or "api" / "system" for decisions made elsewhere.
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    # What it was done to: "match:42", "request:RR-…", "account:alice".
    Column("subject", String(80), nullable=False),
    # JSON; never media, contact details or passwords.
    Column("detail", Text, nullable=False, server_default="{}"),
    Index("ix_desk_audit_subject", "subject", "id"),
)

media = Table(
    "desk_media",
    metadata,
    Column("match_id", BigInteger, primary_key=True),
    Column("content_type", String(40), nullable=False),
    # A downscaled preview (JPEG), not the upload.
    Column("data", LargeBinary, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_desk_media_expires", "expires_at"),
)

alerts = Table(
    "desk_alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rule", String(64), nullable=False),
    # The start of the window it fired for: one alert per rule and window.
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
    Column("baseline", Float, nullable=False),
    Column("message", Text, nullable=False),
    Index("ux_desk_alerts_window", "rule", "window_start", unique=True),
)

sync_samples = Table(
    "desk_sync_samples",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),
    Column("result", String(16), nullable=False),
    # Seconds since the source's last successful sync (NULL: never synced).
    Column("lag_seconds", Float, nullable=True),
    Index("ix_desk_sync_samples_at", "at"),
)

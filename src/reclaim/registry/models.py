"""SQLAlchemy tables of the registry (SQLite and PostgreSQL alike).

No table holds media, file names, IP addresses, names or contact details.
Case PINs and platform API keys are stored only as hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Integer primary keys that are BIGINT on PostgreSQL and autoincrementing
#: INTEGER (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of all registry tables."""


class Instance(Base):
    """One row: this registry's random secret and the change-feed head.

    Updating `feed_head` is the last write of every transaction that changes
    the hash list, so change numbers are handed out in commit order and a
    platform following the feed can never skip a change that commits late.
    """

    __tablename__ = "instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_head: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # Time of the newest change; changes never get an earlier time than this,
    # so `updated_at` grows with the feed even if the wall clock steps back.
    feed_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    secret: Mapped[str] = mapped_column(String(64), nullable=False)


class Case(Base):
    """A person's anonymous case: a number, a PIN hash, a program, a status."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    pin_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    program: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Set for hashes a platform submitted itself (StopNCII SubmitHashes).
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platforms.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class HashRecord(Base):
    """The aggregate record of one hash in one program: the list's unit.

    `change` is the feed position of its latest change; the feed is this
    table read in `change` order (a log compacted to each hash's newest state).
    """

    __tablename__ = "hashes"
    __table_args__ = (
        UniqueConstraint("signal_type", "digest", "program", name="uq_hash_identity"),
        Index("ix_hashes_change", "change"),
        Index("ix_hashes_program_change", "program", "change"),
        Index("ix_hashes_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_type: Mapped[str] = mapped_column(String(8), nullable=False)
    # SHA-256 of `value`: a short unique key even for long vPDQ hashes.
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    program: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    case_count: Mapped[int] = mapped_column(Integer, nullable=False)
    quarantined: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    change: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseHash(Base):
    """Which hashes a case holds."""

    __tablename__ = "case_hashes"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    hash_id: Mapped[int] = mapped_column(
        ForeignKey("hashes.id"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The picture or video this hash belongs to, numbered within the case.
    item: Mapped[int] = mapped_column(Integer, nullable=False)


class Platform(Base):
    """A participating platform and the programs it may read."""

    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    programs: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    #: The name shown on the person's page, only if the platform agreed to be
    #: named there; NULL: it takes part unnamed.
    public_name: Mapped[str | None] = mapped_column(String(100), nullable=True)


class ApiKey(Base):
    """A platform API key: public id and SHA-256 of the secret part."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class Feedback(Base):
    """A platform's latest feedback on one hash."""

    __tablename__ = "feedback"

    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platforms.id"), primary_key=True
    )
    hash_id: Mapped[int] = mapped_column(
        ForeignKey("hashes.id"), primary_key=True, index=True
    )
    value: Mapped[str] = mapped_column(String(20), nullable=False)
    copies: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shareable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    tags: Mapped[str] = mapped_column(Text, nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only record of who did what and when. No personal data.

    `actor` is "person", "operator" or "platform"; `platform_id` and
    `case_number` say which, `detail` holds counts and kinds, never hashes.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(16), nullable=False)
    platform_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    case_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")


class IdempotentAnswer(Base):
    """A case creation's answer, sealed under its Idempotency-Key.

    Written in the creation's transaction; unreadable without the key: the
    row is found by a value derived from it, the case number and PIN are
    encrypted under another (`idempotency.py`). Purged after it expires.
    """

    __tablename__ = "idempotent_answers"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )

"""The local store's tables (SQLAlchemy Core), created on first use.

`list_records` is the durable copy of the list (active records only) and
`sync_state` its cursor: both change in one transaction. `snapshot_staging`
holds a snapshot while it streams in, so a cut snapshot never touches the
list. `matches` is the review queue; `outbox` holds webhooks and feedback
until the other side acknowledges them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: SQLite only makes INTEGER PRIMARY KEY columns auto-increment.
Id = BigInteger().with_variant(Integer(), "sqlite")

list_records = Table(
    "list_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("program", String(32), nullable=False),
    # SHA-256 of the value: vPDQ values are too long for a unique index.
    Column("digest", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("quality", Integer, nullable=True),
    UniqueConstraint("kind", "program", "digest", name="uq_list_records_key"),
)

snapshot_staging = Table(
    "snapshot_staging",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("program", String(32), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("quality", Integer, nullable=True),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("cursor", String(64), nullable=True),
    Column("synced_at", DateTime(timezone=True), nullable=True),
)

matches = Table(
    "matches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("program", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("distance", Integer, nullable=False),
    # The platform's own id for the content (optional, from the request).
    Column("reference", String(200), nullable=True),
    Column("state", String(16), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reviewer", String(100), nullable=True),
    Index("ix_matches_state", "state", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False, default=0.0),
    Column("last_error", String(300), nullable=True),
    Index("ix_outbox_due", "channel", "next_attempt"),
)

"""The local store's tables (SQLAlchemy Core), created on first use.

`list_records` is the durable copy of the list (active records only), each
row naming its source (and, for NCMEC, the upstream entry that lists it), and
`source_state` each source's cursor and generation: a page and its cursor
change in one transaction. A snapshot streams in as the source's next
generation of rows, which becomes its list only when `source_state` names it,
so a cut snapshot never touches the list. `sync_state` is the single-source
cursor of stores made before several sources; `store.prepare` moves it into
`source_state` (as the source "default") and empties it.
`matches` is the review queue; `outbox` holds webhooks and feedback until
the other side acknowledges them. With the content catalog on,
`catalog_spool` holds uploads' catalog items until they are written out as
a shard, `catalog_hits` every reverse-match hit already queued (so a rescan
never queues one twice), and `catalog_state` how far rescans have come.
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
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: SQLite only makes INTEGER PRIMARY KEY columns auto-increment.
Id = BigInteger().with_variant(Integer(), "sqlite")

list_records = Table(
    "list_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("generation", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("program", String(32), nullable=False),
    # The first 64 bits of the value's SHA-256: a short, uniformly spread
    # look-up key (vPDQ values are too long to index). Look-ups compare the
    # value too, so a collision costs nothing but a wasted row read.
    Column("digest", BigInteger, nullable=False),
    Column("value", Text, nullable=False),
    Column("quality", Integer, nullable=True),
    # The source's name from the config (added for several sources: rows of
    # older stores are the single source's, "default").
    Column("source", String(32), nullable=False, server_default="default"),
    # The upstream entry that lists the value ("" when the source has none).
    Column("entry", String(200), nullable=False, server_default=""),
    # When this matcher stored it: rescans of the content catalog look for
    # what was listed since the last one (NULL in rows of older stores).
    Column("listed_at", DateTime(timezone=True), nullable=True),
    Index("ix_list_records_digest", "digest"),
    # Rescans ask for what was stored since their last one.
    Index("ix_list_records_listed_at", "listed_at"),
    Index("ix_list_records_entry", "source", "entry"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("name", String(32), primary_key=True),
    # What the source was when synced (kind and address): a different one
    # under the same name starts again from nothing.
    Column("identity", String(200), nullable=False),
    Column("cursor", Text, nullable=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("synced_at", DateTime(timezone=True), nullable=True),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("cursor", String(64), nullable=True),
    Column("generation", Integer, nullable=False, default=0),
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
    # The other listed hashes the same upload matched in the same program (a
    # picture is listed with its derived views): JSON [[type, value], ...].
    # Decisions go back to the registry for each of them too.
    Column("related", Text, nullable=False, server_default=""),
    # Every listing the entry covers, as JSON [[source, type, value], ...]:
    # feedback goes to each source that listed a matched hash ("" in rows
    # made before several sources: those go to the first source).
    Column("listings", Text, nullable=False, server_default=""),
    # "upload" (matched as it arrived) or "catalog" (found by a rescan of the
    # content catalog, after its hash was listed).
    Column("origin", String(16), nullable=False, server_default="upload"),
    # The lead listing's source ("" in rows made before the desk).
    Column("source", String(32), nullable=False, server_default=""),
    # Which view of the upload matched (e.g. "rot90"), when not the upload
    # as it came.
    Column("variant", String(32), nullable=True),
    Index("ix_matches_state", "state", "id"),
    # Reports, the dashboard and spike alerts count matches by time.
    Index("ix_matches_created_at", "created_at"),
)

catalog_spool = Table(
    "catalog_spool",
    metadata,
    # Never reused (AUTOINCREMENT on SQLite): shards of uploads are named by
    # the first and last id they hold.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reference", String(100), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("md5", LargeBinary(16), nullable=True),
    Column("pdq", LargeBinary(128), nullable=True),
    Column("quality", Integer, nullable=True),
    # The shard a flush is writing these rows to (NULL until one takes them).
    Column("shard", String(80), nullable=True),
    sqlite_autoincrement=True,
)

catalog_hits = Table(
    "catalog_hits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reference", String(100), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("digest", BigInteger, nullable=False),  # as list_records.digest
    Column("value", Text, nullable=False),
    Column("program", String(32), nullable=False),
    Column("source", String(32), nullable=False),
    Column("match_id", BigInteger, nullable=False),
    # One hit per piece of content (its reference) and listing.
    Index(
        "ux_catalog_hits",
        "reference",
        "kind",
        "digest",
        "program",
        "source",
        unique=True,
    ),
    Index("ix_catalog_hits_digest", "digest"),
)

catalog_state = Table(
    "catalog_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("text", String(64), nullable=True),
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
    # The review entry whose decision sent it: a decision on the desk is
    # held for its undo window, and undoing it deletes what it would send.
    Column("match_id", BigInteger, nullable=True),
    Index("ix_outbox_due", "channel", "next_attempt"),
)

"""The matcher's content catalog: keeping uploads, and rescans after syncs.

With `[catalog] enabled = true`, every upload matched with a `reference` is
kept as a catalog item (`reclaim.catalog.items`), first in the store's
`catalog_spool` table, committed before the match is answered, then written
out as a Parquet shard (`flush`). When a sync lists new hashes, `rescan`
looks for them in everything the platform holds: the shards (uploads kept
here and backfilled media) and the spool. Hits are queued for review like
forward matches (same queue, webhooks and feedback), marked
`origin = "catalog"`; `catalog_hits` remembers each, so a hit is queued
once however often rescans overlap. A withdrawal marks pending catalog
matches whose every matched listing has gone `withdrawn`.

Which hashes are new: every list row carries the time this matcher stored
it (`listed_at`); a rescan after a sync takes the rows stored since the
previous rescan began, less `OVERLAP` (a row stamped just before a rescan
began may commit just after it read), so none is missed, and the hit table
keeps the overlap from queueing anything twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pyarrow as pa
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reclaim.catalog.errors import CatalogError, CatalogItemError
from reclaim.catalog.items import CatalogItem, check_reference, to_table
from reclaim.catalog.reverse import CatalogHit, ListedQuery
from reclaim.catalog.runner import Progress, rescan
from reclaim.catalog.store import CatalogStore, Shard
from reclaim.hashing import SignalType
from reclaim.index import ListRecord, Match, MatchRule
from reclaim.matcher.config import CatalogConfig
from reclaim.matcher.errors import QueryError
from reclaim.matcher.review import Origin, ReviewQueue, State
from reclaim.matcher.store import digest, listed_since
from reclaim.matcher.tables import (
    catalog_hits,
    catalog_spool,
    catalog_state,
    list_records,
    matches,
    source_state,
)
from reclaim.matcher.times import aware, iso

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Shards holding the matcher's own uploads are named after this origin.
UPLOADS = "uploads"
#: How far back of the last rescan's start the next one looks.
OVERLAP = timedelta(minutes=5)
#: Listed records looked for in one pass over the catalog (about 1,000
#: pictures with their views: a 1 GB index, `docs/catalog.md`).
CHUNK = 50_000
_WATERMARK = "rescanned_through"
_STORE_ID = "store_id"


@dataclass(slots=True)
class RescanStatus:
    """What /status says of rescans (one at a time)."""

    state: str = "idle"  # idle, running, failed
    started_at: datetime | None = None
    finished_at: datetime | None = None
    listed: int = 0  # new listed hashes looked for
    shards_done: int = 0
    shards_total: int = 0
    items: int = 0
    hits: int = 0
    queued: int = 0
    seconds: float | None = None
    error: str | None = None

    def report(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "state": self.state,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "listed_hashes": self.listed,
            "shards_done": self.shards_done,
            "shards_total": self.shards_total,
            "items": self.items,
            "hits": self.hits,
            "queued": self.queued,
            "seconds": self.seconds,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class RescanOutcome:
    """One finished rescan."""

    listed: int
    shards: int
    items: int
    hits: list[CatalogHit] = field(default_factory=list)
    queued: int = 0
    seconds: float = 0.0


class MatcherCatalog:
    """The catalog of one matcher: its spool, its shards and its rescans."""

    def __init__(
        self,
        engine: Engine,
        config: CatalogConfig,
        *,
        queue: ReviewQueue,
        rule: MatchRule,
        sources: Sequence[str],
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.queue = queue
        self.rule = rule
        self.sources = tuple(sources)
        self.on_queued = on_queued
        self.store = CatalogStore(config.path)
        self.status = RescanStatus()
        self._lock = threading.Lock()  # one rescan or flush at a time
        #: Shards at the last flush or rescan (None: not counted yet), so
        #: /status does not list object storage on every poll.
        self._shard_count: int | None = None

    # ---- keeping uploads ----------------------------------------------------

    @staticmethod
    def check(references: Iterable[str | None]) -> None:
        """QueryError for a reference the catalog could not keep (before any
        matching, so a refused request changes nothing)."""
        for reference in references:
            if reference is None:
                continue
            try:
                check_reference(reference)
            except CatalogItemError as error:
                raise QueryError(str(error)) from None

    def keep(self, items: Sequence[CatalogItem]) -> None:
        """Spool uploads' items (committed when this returns)."""
        if not items:
            return
        with self.engine.begin() as connection:
            connection.execute(
                insert(catalog_spool),
                [
                    {
                        "reference": i.reference,
                        "uploaded_at": i.uploaded_at,
                        "md5": i.md5,
                        "pdq": i.pdq,
                        "quality": i.quality,
                    }
                    for i in items
                ],
            )

    def spooled(self) -> pa.Table:
        """The spool's items (those being flushed too) as a table."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(catalog_spool).order_by(catalog_spool.c.id)
            ).all()
        return to_table([_item(r) for r in rows])

    def flush(self, *, force: bool = False) -> int:
        """Write the spool out as one shard when it is big or old enough (or
        `force`); returns the items written.

        Crash-safe and exact: the rows to write are first marked with the
        shard's name (one transaction), the shard is written, then exactly
        the marked rows are deleted. After a crash, marked rows whose shard
        is complete are deleted, and those whose shard is missing are
        unmarked and written next time. Rows that commit while a flush runs
        (ids are not committed in order on PostgreSQL) are left for the next.
        Shards are named after this store (`_origin`), so two stores never
        share a range of names under one catalog root.
        """
        with self._lock:
            origin = self._origin()
            self._recover(origin)
            with self.engine.connect() as connection:
                count, oldest = connection.execute(
                    select(func.count(), func.min(catalog_spool.c.uploaded_at))
                ).one()
            if not count:
                return 0
            age = time.time() - aware(oldest).timestamp()
            if (
                not force
                and count < self.config.flush_items
                and age < self.config.flush_seconds
            ):
                return 0
            with self.engine.begin() as connection:
                ids = list(
                    connection.scalars(
                        select(catalog_spool.c.id)
                        .where(catalog_spool.c.shard.is_(None))
                        .order_by(catalog_spool.c.id)
                    )
                )
                if not ids:
                    return 0
                name = Shard(origin, ids[0], ids[-1]).name
                for part in _chunks(ids):
                    connection.execute(
                        update(catalog_spool)
                        .where(catalog_spool.c.id.in_(part))
                        .values(shard=name)
                    )
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(catalog_spool)
                    .where(catalog_spool.c.shard == name)
                    .order_by(catalog_spool.c.id)
                ).all()
            self.store.write(
                origin, ids[0], to_table([_item(r) for r in rows]), last=ids[-1]
            )
            with self.engine.begin() as connection:
                connection.execute(
                    delete(catalog_spool).where(catalog_spool.c.shard == name)
                )
            self._shard_count = None
            return len(rows)

    def _recover(self, origin: str) -> None:
        """Finish or undo flushes a crash cut short (see `flush`)."""
        with self.engine.connect() as connection:
            marked = list(
                connection.scalars(
                    select(catalog_spool.c.shard)
                    .where(catalog_spool.c.shard.is_not(None))
                    .distinct()
                )
            )
        if not marked:
            return
        complete = {s.name for s in self.store.shards(origin=origin)}
        with self.engine.begin() as connection:
            for name in marked:
                rows = catalog_spool.c.shard == name
                if name in complete:
                    connection.execute(delete(catalog_spool).where(rows))
                else:
                    connection.execute(
                        update(catalog_spool).where(rows).values(shard=None)
                    )

    def _origin(self) -> str:
        """`uploads-<store id>`: this store's shards' origin. The id is made
        once, kept in `catalog_state`, and tells apart two stores (a staging
        matcher, a store rebuilt from scratch) that share a catalog root."""
        with self.engine.begin() as connection:
            found = connection.execute(
                select(catalog_state.c.text).where(catalog_state.c.name == _STORE_ID)
            ).scalar()
            if found is None:
                found = uuid.uuid4().hex[:12]
                connection.execute(
                    insert(catalog_state).values(name=_STORE_ID, text=found)
                )
        return f"{UPLOADS}-{found}"

    # ---- rescans --------------------------------------------------------------

    def rescan(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        records: Sequence[ListRecord] | None = None,
        address: str | None = None,
        progress: Progress | None = None,
    ) -> RescanOutcome:
        """Look for hashes stored here from `since` to before `until` (no
        bound when None; or exactly `records`) in the whole catalog, and queue
        the hits. Safe to repeat: a hit already queued is not queued again."""
        with self._lock:
            return self._rescan(since, records, address or None, progress, until)

    def rescan_new(self) -> RescanOutcome | None:
        """The rescan after a sync: hashes stored since the last one began
        (less `OVERLAP`); None when nothing new was listed."""
        with self._lock:
            mark = self._watermark()
            since = None if mark is None else mark - OVERLAP
            began = datetime.now(UTC)
            if mark is not None and not self._listed_since(since):
                return None
            outcome = self._rescan(since, None, self.config.address or None, None, None)
            self._set_watermark(began)
            return outcome

    def _rescan(
        self,
        since: datetime | None,
        records: Sequence[ListRecord] | None,
        address: str | None,
        progress: Progress | None,
        until: datetime | None,
    ) -> RescanOutcome:
        status = self.status = RescanStatus(
            state="running", started_at=datetime.now(UTC)
        )
        found: list[CatalogHit] = []
        shards = items = queued = 0
        seconds = 0.0
        try:
            chosen = list(
                records
                if records is not None
                else listed_since(self.engine, self.sources, since, until)
            )
            status.listed = len(chosen)
            spool = self.spooled()
            # Passes of at most CHUNK listed hashes: the index of a pass stays
            # near 1 GB however long the list (the first rescan looks for all
            # of it), and each pass's hits are queued before the next.
            passes = [chosen[at : at + CHUNK] for at in range(0, len(chosen), CHUNK)]
            for number, part in enumerate(passes):

                def report(
                    done: int, total: int, hits: int, number: int = number
                ) -> None:
                    status.shards_done = number * total + done
                    status.shards_total = len(passes) * total
                    status.hits = len(found) + hits
                    if progress is not None:
                        progress(status.shards_done, status.shards_total, status.hits)

                result = rescan(
                    self.store,
                    ListedQuery.of(part, rule=self.rule),
                    address=address,
                    progress=report,
                    extra=[spool] if len(spool) else [],
                )
                queued += self.queue_hits(result.hits)
                found.extend(result.hits)
                shards, items = result.shards, result.items
                seconds += result.seconds
                status.queued = queued
        except Exception as error:
            status.state = "failed"
            status.error = str(error)[:500]
            status.finished_at = datetime.now(UTC)
            raise
        status.state = "idle"
        status.items, status.hits, status.queued = items, len(found), queued
        status.finished_at = datetime.now(UTC)
        status.seconds = round(seconds, 3)
        self._shard_count = shards
        return RescanOutcome(len(chosen), shards, items, found, queued, seconds)

    def queue_hits(self, hits: Sequence[CatalogHit]) -> int:
        """Queue hits not queued before: one review entry per item and
        program, led by its closest hit. Returns the entries made."""
        for attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    fresh = self._fresh(connection, hits)
                    made = self._queue(connection, fresh)
                if made:
                    self.on_queued()
                return made
            except IntegrityError:
                if attempt == 2:
                    raise
                # Another rescan queued some of these just now: look again.
        return 0

    def _fresh(
        self, connection: Connection, hits: Sequence[CatalogHit]
    ) -> list[CatalogHit]:
        """The hits not queued before, nor matched as the content was uploaded,
        one per (reference, listing): a piece of content is its reference,
        however many times it was catalogued (a re-upload, a backfill of an
        upload kept already), and the earliest time it was seen is kept."""
        references = sorted({h.reference for h in hits})
        seen: set[tuple[str, str, str, str, str]] = set()
        for part in _chunks(references):
            for row in connection.execute(
                select(catalog_hits).where(catalog_hits.c.reference.in_(part))
            ):
                seen.add((row.reference, row.kind, row.value, row.program, row.source))
            for row in connection.execute(
                select(
                    matches.c.reference,
                    matches.c.program,
                    matches.c.kind,
                    matches.c.value,
                    matches.c.related,
                    matches.c.listings,
                ).where(
                    matches.c.reference.in_(part),
                    matches.c.origin == Origin.UPLOAD.value,
                )
            ):
                # Matched as uploaded: by any source that listed these hashes.
                pairs = {(row.kind, row.value), *_pairs(row.related)}
                for kind, value in pairs:
                    for source in self.sources:
                        seen.add((row.reference, kind, value, row.program, source))
        best: dict[tuple[str, str, str, str, str], CatalogHit] = {}
        for hit in hits:
            record = hit.record
            key = (
                hit.reference,
                record.kind.value,
                record.value,
                record.program,
                record.source,
            )
            if key in seen:
                continue
            held = best.get(key)
            if held is None or (hit.distance, hit.uploaded_at) < (
                held.distance,
                held.uploaded_at,
            ):
                best[key] = hit
        return list(best.values())

    def _queue(self, connection: Connection, hits: Sequence[CatalogHit]) -> int:
        """One review entry per piece of content (reference) and program."""
        groups: dict[tuple[str, str], list[CatalogHit]] = {}
        for hit in hits:
            groups.setdefault((hit.reference, hit.record.program), []).append(hit)
        entries = []
        members = []
        for (reference, _), group in sorted(groups.items()):
            ranked = sorted(group, key=lambda h: (h.distance, h.record.key))
            found = [_match(h) for h in ranked]
            entries.append((found[0], found[1:], reference))
            members.append(ranked)
        if not entries:
            return 0
        queued = self.queue.record_in(connection, entries, origin=Origin.CATALOG)
        for item, ranked in zip(queued, members, strict=True):
            connection.execute(
                insert(catalog_hits),
                [
                    {
                        "reference": h.reference,
                        "uploaded_at": h.uploaded_at,
                        "kind": h.record.kind.value,
                        "digest": digest(h.record.value),
                        "value": h.record.value,
                        "program": h.record.program,
                        "source": h.record.source,
                        "match_id": item.id,
                    }
                    for h in ranked
                ],
            )
        return len(queued)

    # ---- withdrawals ------------------------------------------------------------

    def withdrawn(self, gone: Sequence[ListRecord]) -> int:
        """Withdraw pending catalog matches of these gone listings whose every
        matched listing is gone. Returns how many were withdrawn."""
        if not gone:
            return 0
        wanted = {(r.kind.value, r.value, r.program, r.source) for r in gone}
        digests = sorted({digest(r.value) for r in gone})
        with self.engine.begin() as connection:
            touched: set[int] = set()
            for part in _chunks(digests):
                for row in connection.execute(
                    select(catalog_hits).where(catalog_hits.c.digest.in_(part))
                ):
                    if (row.kind, row.value, row.program, row.source) in wanted:
                        touched.add(int(row.match_id))
            return (
                self._withdraw_unlisted(connection, sorted(touched)) if touched else 0
            )

    def sweep(self) -> int:
        """Withdraw every pending catalog match none of whose listings is
        listed still: what `withdrawn` missed (a withdrawal that raced a
        rescan, one whose sync page failed after committing, a snapshot that
        left hashes out). Idempotent; run after syncs and rescans."""
        with self.engine.begin() as connection:
            return self._withdraw_unlisted(connection, None)

    def _withdraw_unlisted(
        self, connection: Connection, among: Sequence[int] | None
    ) -> int:
        """Withdraw the pending catalog matches (of `among`, or all) that no
        listing they matched is listed for any more."""
        query = select(matches.c.id).where(
            matches.c.state == State.PENDING.value,
            matches.c.origin == Origin.CATALOG.value,
        )
        pending: list[int] = []
        for part in [None] if among is None else list(_chunks(among)):
            chosen = query if part is None else query.where(matches.c.id.in_(part))
            pending.extend(connection.scalars(chosen))
        leaving = [m for m in pending if not self._still_listed(connection, m)]
        return self.queue.withdraw(connection, leaving) if leaving else 0

    def _still_listed(self, connection: Connection, match_id: int) -> bool:
        """Whether any listing a catalog match matched is listed still."""
        for row in connection.execute(
            select(catalog_hits).where(catalog_hits.c.match_id == match_id)
        ):
            generation = connection.execute(
                select(source_state.c.generation).where(
                    source_state.c.name == row.source
                )
            ).scalar()
            found = connection.execute(
                select(list_records.c.id)
                .where(
                    list_records.c.source == row.source,
                    list_records.c.generation == (generation or 0),
                    list_records.c.kind == row.kind,
                    list_records.c.program == row.program,
                    list_records.c.digest == row.digest,
                    list_records.c.value == row.value,
                )
                .limit(1)
            ).first()
            if found is not None:
                return True
        return False

    # ---- state ------------------------------------------------------------------

    def _listed_since(self, since: datetime | None) -> bool:
        query = select(list_records.c.id).limit(1)
        if since is not None:
            query = query.where(list_records.c.listed_at >= since.astimezone(UTC))
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def _watermark(self) -> datetime | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(catalog_state.c.at).where(catalog_state.c.name == _WATERMARK)
            ).scalar()
        return aware(value) if value is not None else None

    def _set_watermark(self, moment: datetime) -> None:
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(catalog_state)
                .where(catalog_state.c.name == _WATERMARK)
                .values(at=moment)
            )
            if not changed.rowcount:
                connection.execute(
                    insert(catalog_state).values(name=_WATERMARK, at=moment)
                )

    def report(self) -> dict[str, Any]:
        """The catalog part of /status."""
        with self.engine.connect() as connection:
            spooled = connection.execute(
                select(func.count()).select_from(catalog_spool)
            ).scalar_one()
        if self._shard_count is None:
            try:
                self._shard_count = len(self.store.shards())
            except CatalogError as error:
                return {
                    "enabled": True,
                    "spooled": int(spooled),
                    "error": str(error)[:300],
                    "rescan": self.status.report(),
                }
        return {
            "enabled": True,
            "spooled": int(spooled),
            "shards": self._shard_count,
            "rescan": self.status.report(),
        }


def _item(row: Any) -> CatalogItem:
    return CatalogItem(
        row.reference,
        aware(row.uploaded_at),
        md5=row.md5,
        pdq=row.pdq,
        quality=row.quality,
    )


def _chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _match(hit: CatalogHit) -> Match:
    record = hit.record
    return Match(
        0,
        record.kind,
        record.value,
        record.program,
        hit.distance,
        None if record.kind is SignalType.MD5 else hit.variant,
        source=record.source,
    )


def _pairs(related: str) -> list[tuple[str, str]]:
    """The (type, value) pairs of a match row's `related` column."""
    return [(kind, value) for kind, value in json.loads(related)] if related else []

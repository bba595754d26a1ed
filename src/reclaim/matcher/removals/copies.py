"""Finding every identical or near copy of a reported item on the platform.

The reported item is known by its hashes: those the requester's device
sent, those of its catalog item (a location that resolves to a reference
the content catalog holds), and those of a file the platform attaches.
Copies are then found four ways, each recorded with how it was found:

* `reported`: the references the request's locations resolve to;
* `forward`: uploads matched after the request arrived. `Watch` holds the
  open requests' hashes as one small `MatchableList` (source "removals",
  program the request number) and every upload with a reference is
  matched against it by the service's `MatchRule`, the way uploads meet
  the list; also uploads already in the review queue that matched the same
  listed hash as a reported reference;
* `catalog`: the content catalog reverse-matched with the request's hashes
  as the listed set (`reclaim.catalog.runner.rescan`, spool included);
* `platform`: references the platform names when it marks them removed.

None of this touches personal data: only hashes and references.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine, and_, or_, select

from reclaim.hashing import Md5Hash, PdqHash, SignalType
from reclaim.index import ListRecord, MatchableList, MatchRule, match_md5, match_pdq
from reclaim.matcher.removals.store import Found, RemovalStore
from reclaim.matcher.review import State as MatchState
from reclaim.matcher.tables import catalog_spool, matches

if TYPE_CHECKING:
    from reclaim.matcher.catalog import MatcherCatalog
    from reclaim.matcher.media import MediaHashes
    from reclaim.matcher.service import Query

logger = logging.getLogger(__name__)

#: The source name of the watch list's records (never a configured source's).
SOURCE = "removals"
#: How often a process reads the store's change count to see other
#: processes' changes of the open requests (seconds).
REFRESH_SECONDS = 1.0
#: Review states of matches that are no copies: a moderator said it was not
#: a match, or the listing was withdrawn before review.
NOT_COPIES = frozenset({MatchState.NOT_BLOCKED, MatchState.WITHDRAWN})


def hashes_of_media(hashes: MediaHashes) -> list[tuple[str, str]]:
    """What a request keeps of an attached file: its MD5 and its PDQ hash as
    it came (the first query hash); a video by its MD5 alone."""
    kept = [(SignalType.MD5.value, hashes.md5.hex)]
    if hashes.video is None and hashes.pdq:
        kept.append((SignalType.PDQ.value, hashes.pdq[0].hex))
    return kept


class Watch:
    """The open requests' hashes as a matchable list, rebuilt when they change.

    Changes made in this process are seen at once; those of another matcher
    process on the same store (the store's change count) within about
    `REFRESH_SECONDS`, so a match costs no query most of the time."""

    def __init__(
        self,
        store: RemovalStore,
        rule: MatchRule,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.rule = rule
        self._clock = clock
        self._lock = threading.Lock()
        self._version = -1  # this process's changes, as last seen
        self._count = -1  # the store's change count the list was built at
        self._read_at = -math.inf  # when the change count was last read
        self._list = MatchableList.empty(radius=rule.derived)

    def current(self) -> MatchableList:
        """The watch list as of the store's latest change (another process's
        within about a second)."""
        with self._lock:
            now = self._clock()
            version = self.store.version
            if version == self._version and now - self._read_at < REFRESH_SECONDS:
                return self._list
            self._version, self._read_at = version, now
            count = self.store.change_count()  # before the hashes it counts
            if count != self._count:
                self._list = MatchableList.build(
                    records(self.store.open_hashes()), radius=self.rule.derived
                )
                self._count = count
            return self._list

    def check(self, queries: Sequence[Query]) -> int:
        """Record, on each open request, the uploads (with a reference) that
        match its hashes; returns how many copies were new."""
        named = [q for q in queries if q.reference is not None]
        if not named:
            return 0
        watched = self.current()
        if not len(watched):
            return 0
        groups = [q.pdq for q in named]
        found: dict[str, list[Found]] = {}
        for match in match_pdq(
            watched, groups, rule=self.rule, labels=[q.labels for q in named]
        ):
            reference = named[match.query].reference
            assert reference is not None
            found.setdefault(match.program, []).append(
                Found(reference, "forward", match.distance)
            )
        digests = [(n, q.md5) for n, q in enumerate(named) if q.md5 is not None]
        for match in match_md5(watched, [d for _, d in digests]):
            reference = named[digests[match.query][0]].reference
            assert reference is not None
            found.setdefault(match.program, []).append(Found(reference, "forward", 0))
        made = 0
        for public_id, copies in found.items():
            best: dict[str, Found] = {}
            for copy in sorted(copies, key=lambda c: c.distance or 0):
                best.setdefault(copy.reference, copy)
            made += len(self.store.add_copies(public_id, list(best.values())))
        return made


def records(hashes: Sequence[tuple[str, str, str]]) -> list[ListRecord]:
    """(request, type, value) as list records: program = the request number."""
    return [
        ListRecord(SignalType(kind), value, public_id, source=SOURCE)
        for public_id, kind, value in hashes
    ]


class CopyFinder:
    """The searches made when a request (or a new hash of it) arrives."""

    def __init__(
        self,
        store: RemovalStore,
        *,
        engine: Engine,
        rule: MatchRule,
        catalog: MatcherCatalog | None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.rule = rule
        self.catalog = catalog

    def search(self, public_id: str) -> int:
        """Hash the reported item from the catalog, then look for copies in
        the review queue and the catalog, and say that uploads are watched;
        returns how many hashes the search used."""
        request = self.store.get(public_id)
        references = [i.reference for i in request.items if i.reference]
        if self.catalog is not None and references and "catalog" not in request.hashes:
            self._hash_from_catalog(public_id, references)
        self.search_queue(public_id, references)
        hashes = self.store.hashes_of(public_id)
        if self.catalog is not None and hashes:
            self.search_catalog(public_id, hashes)
        if hashes and self.store.get(public_id).open:
            self.store.note(public_id, "watching_uploads", {"hashes": len(hashes)})
        return len(hashes)

    def _hash_from_catalog(self, public_id: str, references: Sequence[str]) -> None:
        from reclaim.catalog.items import from_table

        assert self.catalog is not None
        found: list[tuple[str, str]] = []
        for reference in references:
            for item in [*from_table(self.catalog.store.find(reference))]:
                found.extend(_item_hashes(item.md5, item.pdq))
            with self.engine.connect() as connection:
                for row in connection.execute(
                    select(catalog_spool.c.md5, catalog_spool.c.pdq).where(
                        catalog_spool.c.reference == reference
                    )
                ):
                    found.extend(_item_hashes(row.md5, row.pdq))
        if found:
            self.store.add_hashes(public_id, found, origin="catalog", actor="system")

    def search_queue(self, public_id: str, references: Sequence[str]) -> int:
        """Uploads in the review queue that matched a listed hash a reported
        reference matched too: near copies of it (distance: theirs to that
        listed hash). Returns the copies that were new. Matches a moderator
        found were not matches (`not_blocked`), or whose listing was
        withdrawn, count neither way."""
        if not references:
            return 0
        counted = matches.c.state.not_in([s.value for s in NOT_COPIES])
        with self.engine.connect() as connection:
            listed = {
                (row.kind, row.value)
                for row in connection.execute(
                    select(matches.c.kind, matches.c.value).where(
                        matches.c.reference.in_(list(references)), counted
                    )
                )
            }
            if not listed:
                return 0
            same = or_(
                *(
                    and_(matches.c.kind == kind, matches.c.value == value)
                    for kind, value in sorted(listed)
                )
            )
            rows = connection.execute(
                select(matches.c.id, matches.c.reference, matches.c.distance)
                .where(same, counted, matches.c.reference.is_not(None))
                .order_by(matches.c.distance, matches.c.id)
            ).all()
        found = [
            Found(row.reference, "forward", int(row.distance), int(row.id))
            for row in rows
            if row.reference not in references
        ]
        return len(self.store.add_copies(public_id, found))

    def search_catalog(self, public_id: str, hashes: Sequence[tuple[str, str]]) -> int:
        """Reverse-match the catalog (shards and spool) with the request's
        hashes as the listed set; returns the copies that were new."""
        from reclaim.catalog.reverse import ListedQuery
        from reclaim.catalog.runner import rescan

        assert self.catalog is not None
        listed = ListedQuery.of(
            records([(public_id, kind, value) for kind, value in hashes]),
            rule=self.rule,
        )
        spool = self.catalog.spooled()  # before the shards: a flush between
        # the two reads doubles items (harmless), it cannot hide them
        result = rescan(
            self.catalog.store,
            listed,
            address=self.catalog.config.address or None,
            extra=[spool] if len(spool) else [],
        )
        best: dict[str, Found] = {}
        for hit in sorted(result.hits, key=lambda h: h.distance):
            best.setdefault(
                hit.reference, Found(hit.reference, "catalog", hit.distance)
            )
        made = self.store.add_copies(public_id, list(best.values()))
        self.store.note(
            public_id,
            "searched_catalog",
            {
                "items": result.items,
                "shards": result.shards,
                "hashes": len(hashes),
                "copies": len(best),
                "new": len(made),
            },
        )
        return len(made)


def _item_hashes(md5: bytes | None, pdq: bytes | None) -> list[tuple[str, str]]:
    """A catalog item's MD5 and its picture's PDQ hash as it came."""
    found: list[tuple[str, str]] = []
    if md5 is not None:
        found.append((SignalType.MD5.value, Md5Hash.parse(md5.hex()).hex))
    if pdq is not None:
        found.append((SignalType.PDQ.value, PdqHash.from_bytes(pdq[:32]).hex))
    return found

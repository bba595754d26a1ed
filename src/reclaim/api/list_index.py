"""The registry's own match index: its active list, kept current from its feed.

Platforms may send hashes and get matches back (`POST /api/v1/platform/match`)
instead of holding the list: perceptual hashes can be partly inverted, so a
list held by fewer parties is safer. The index follows the registry's change
feed, so a withdrawal stops matching as soon as it is committed.

Each refresh reads the feed from the last cursor and swaps in a new immutable
`_State` in one assignment; a query uses whichever state it read, whole, and
never waits for a refresh (the `reclaim.index.MatchableList` contract, which the
matcher relies on too).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from reclaim.hashing import (
    MATCH_DISTANCE,
    InvalidHashError,
    Md5Hash,
    PdqHash,
    SignalType,
)
from reclaim.index import (
    ListRecord,
    Match,
    MatchableList,
    MatchRule,
    match_md5,
    match_pdq,
)
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.hashlist import HashStatus, ListEntry
from reclaim.registry.service import Registry

logger = logging.getLogger(__name__)

#: What the index holds: videos are matched by their frames' PDQ hashes.
_INDEXED = {SignalType.PDQ.value: SignalType.PDQ, SignalType.MD5.value: SignalType.MD5}


@dataclass(frozen=True, slots=True)
class _State:
    """The matchable list as of one feed cursor (never changed once built)."""

    cursor: int
    matchable: MatchableList


class ListIndex:
    """Exact PDQ (by the match rule) and MD5 lookups over the active list.

    The list is a `reclaim.index.MatchableList`, matched by `reclaim.index.match_pdq`
    and `match_md5`: the matcher's own code, so the two match alike.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._state: _State | None = None

    def refresh(self) -> _State:
        """Apply every change committed since the last refresh; return the view."""
        with self._lock:
            state = self._state
            changed: list[ListEntry] = []
            cursor = state.cursor if state else 0
            while True:
                page = self._registry.feed_page(cursor=cursor)
                changed.extend(page.entries)
                cursor = page.cursor
                if not page.has_more:
                    break
            if state is None or changed:
                matchable = state.matchable if state else MatchableList.empty()
                listed, gone = _records(changed)
                matchable = matchable.with_changes(listed=listed, gone=gone)
                if state is None:
                    logger.info("match index built: %d PDQ hashes", len(matchable.pdq))
                state = _State(cursor, matchable)
            self._state = state
            return state

    def match(
        self,
        queries: Sequence[tuple[str, str]],
        *,
        programs: Sequence[str],
        radius: int = MATCH_DISTANCE,
    ) -> list[list[Match]]:
        """For each (type, value) query, the listed hashes it matches.

        PDQ queries match under the match rule at `radius` (each hash is a
        query of its own); MD5 queries match exactly. Only hashes listed in
        `programs` are returned.
        """
        matchable = self.refresh().matchable
        allowed = set(programs)
        results: list[list[Match]] = [[] for _ in queries]
        pdq_at = [i for i, (kind, _) in enumerate(queries) if kind == SignalType.PDQ]
        groups = [[PdqHash.parse(queries[i][1])] for i in pdq_at]
        for m in match_pdq(matchable, groups, rule=MatchRule(distance=radius)):
            if m.program in allowed:
                results[pdq_at[m.query]].append(m)
        md5_at = [i for i, (kind, _) in enumerate(queries) if kind == SignalType.MD5]
        digests = [Md5Hash.parse(queries[i][1]) for i in md5_at]
        for m in sorted(match_md5(matchable, digests), key=lambda m: m.program):
            if m.program in allowed:
                results[md5_at[m.query]].append(m)
        return results


def _records(
    entries: Sequence[ListEntry],
) -> tuple[list[ListRecord], list[ListRecord]]:
    """The PDQ and MD5 feed entries as (listed, gone) records, each record in
    its newest state.

    The feed is compacted, but a refresh reads several pages, and a record
    that changes while it reads (a withdrawal, new feedback) shows up once
    on an early page and again on a later one: the later state wins, never
    both (`MatchableList.with_changes` would apply the removal before the listing).
    """
    newest: dict[tuple[str, str, str], ListEntry] = {}
    for e in entries:
        if e.signal_type in _INDEXED:
            key = (e.signal_type, e.value, e.program)
            newest.pop(key, None)
            newest[key] = e
    listed: list[ListRecord] = []
    gone: list[ListRecord] = []
    for e in newest.values():
        active = e.status == HashStatus.ACTIVE
        record = ListRecord(
            _INDEXED[e.signal_type], e.value, e.program, active, e.quality
        )
        (listed if active else gone).append(record)
    return listed, gone


def parse_queries(items: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validated (type, canonical value) queries; InvalidRequestError lists the
    bad ones (and nothing is matched)."""
    parsed: list[tuple[str, str]] = []
    problems: list[str] = []
    for index, (kind, value) in enumerate(items):
        try:
            if kind == SignalType.PDQ:
                parsed.append((kind, PdqHash.parse(value).hex))
            elif kind == SignalType.MD5:
                parsed.append((kind, Md5Hash.parse(value).hex))
            else:
                raise InvalidHashError(
                    f"{kind[:20]!r} cannot be matched here: expected pdq or md5 "
                    "(match a video by its frames' PDQ hashes)"
                )
        except InvalidHashError as error:
            problems.append(f"hashes[{index}]: {error}")
    if problems:
        raise InvalidRequestError(
            f"{len(problems)} of {len(items)} hashes were refused; nothing was matched",
            problems,
        )
    return parsed

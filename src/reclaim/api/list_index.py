"""The registry's own match index: its active list, kept current from its feed.

Platforms may send hashes and get matches back (`POST /api/v1/platform/match`)
instead of holding the list: perceptual hashes can be partly inverted, so a
list held by fewer parties is safer. The index follows the registry's change
feed, so a withdrawal stops matching as soon as it is committed.

Each refresh reads the feed from the last cursor and swaps in a new immutable
`_State` in one assignment; a query uses whichever state it read, whole, and
never waits for a refresh (the matcher's `PdqIndex` contract).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.hashing import (
    MATCH_DISTANCE,
    InvalidHashError,
    Md5Hash,
    PdqHash,
    SignalType,
)
from reclaim.matcher.index import PdqIndex
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.hashlist import HashStatus, ListEntry
from reclaim.registry.service import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Match:
    """One listed hash that a query matched."""

    signal_type: str
    value: str
    program: str
    distance: int


@dataclass(frozen=True, slots=True)
class _State:
    """The PDQ index as of one feed cursor (never changed once built)."""

    cursor: int
    pdq: PdqIndex


class ListIndex:
    """Exact PDQ (Hamming radius) and MD5 lookups over the active list."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._state: _State | None = None
        # Written only under the lock. `_entries` only grows, so a reader
        # holding an older index finds its positions unchanged.
        self._entries: list[tuple[str, str]] = []  # (program, value) by position
        self._positions: dict[tuple[str, str], int] = {}
        self._md5: dict[str, frozenset[str]] = {}

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
            if state is None:
                added, _ = self._apply(changed, 0)
                state = _State(cursor, PdqIndex.build(added))
                logger.info("match index built: %d PDQ hashes", len(state.pdq))
            elif changed:
                added, gone = self._apply(changed, state.pdq.next_position)
                state = _State(cursor, state.pdq.with_changes(add=added, remove=gone))
            self._state = state
            return state

    def _apply(
        self, entries: Sequence[ListEntry], first: int
    ) -> tuple[list[str], npt.NDArray[np.int64]]:
        """Book the changes: (PDQ values to add from position `first`, positions
        of PDQ hashes that left the list).

        The feed is compacted: each record appears once, in its newest state.
        """
        added: list[str] = []
        gone: list[int] = []
        for e in entries:
            key = (e.program, e.value)
            active = e.status == HashStatus.ACTIVE
            if e.signal_type == SignalType.PDQ:
                at = self._positions.get(key)
                if active and at is None:
                    self._positions[key] = first + len(added)
                    self._entries.append(key)
                    added.append(e.value)
                elif not active and at is not None:
                    gone.append(self._positions.pop(key))
            elif e.signal_type == SignalType.MD5:
                programs = set(self._md5.get(e.value, frozenset()))
                if active:
                    programs.add(e.program)
                else:
                    programs.discard(e.program)
                if programs:
                    self._md5[e.value] = frozenset(programs)
                else:
                    self._md5.pop(e.value, None)
        return added, np.asarray(gone, dtype=np.int64)

    def match(
        self,
        queries: Sequence[tuple[str, str]],
        *,
        programs: Sequence[str],
        radius: int = MATCH_DISTANCE,
    ) -> list[list[Match]]:
        """For each (type, value) query, the listed hashes it matches.

        PDQ queries match within `radius` bits; MD5 queries match exactly.
        Only hashes listed in `programs` are returned.
        """
        state = self.refresh()
        allowed = set(programs)
        results: list[list[Match]] = [[] for _ in queries]
        pdq_at = [i for i, (kind, _) in enumerate(queries) if kind == SignalType.PDQ]
        if pdq_at:
            found = state.pdq.query([queries[i][1] for i in pdq_at], radius=radius)
            for i, matches in zip(pdq_at, found, strict=True):
                for position, distance in zip(
                    matches.positions.tolist(), matches.distances.tolist(), strict=True
                ):
                    program, value = self._entries[position]
                    if program in allowed:
                        results[i].append(Match("pdq", value, program, distance))
        for i, (kind, value) in enumerate(queries):
            if kind == SignalType.MD5:
                for program in sorted(self._md5.get(value, frozenset()) & allowed):
                    results[i].append(Match("md5", value, program, 0))
        return results


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

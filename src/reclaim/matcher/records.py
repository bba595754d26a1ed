"""How a source delivers the list (pages of `ListRecord`s), takes feedback and
reports what other platforms said about a hash.

The records themselves (`reclaim.index.ListRecord`) belong to the matching
core, which the registry's own index shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reclaim.hashing import SignalType
from reclaim.index.records import ListRecord

#: Feedback values the registry understands (storage and wire keys).
FEEDBACK_VALUES = ("match_found", "pending_review", "blocked", "not_blocked")


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of the list from a source.

    `snapshot` pages together make up the whole list (only active records);
    the last one has `final` set and the cursor to follow changes from.
    Change pages each carry the cursor to store with them.

    `entries` names upstream entries the page restates in full: whatever an
    entry listed before and is not among this page's active records with that
    entry leaves the list (an entry with no records here is deleted).
    """

    records: Sequence[ListRecord]
    cursor: str | None
    snapshot: bool = False
    final: bool = False
    entries: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """Feedback on one listed hash, as sent back to the source."""

    kind: SignalType
    value: str
    feedback: str
    #: The source's entries that list the hash (for sources with entries).
    entries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reports:
    """What other platforms currently report about one listed hash, counted.

    Never who reported it: a source only gives counts (our registry leaves
    out the asking platform's own feedback). `quarantined`: enough platforms
    disputed the hash that its list's operator is reviewing it.
    """

    match_found: int = 0
    pending_review: int = 0
    blocked: int = 0
    not_blocked: int = 0
    quarantined: bool = False

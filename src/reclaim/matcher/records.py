"""What the list is made of: records as a source delivers them, in pages.

Every record carries the name of the source that lists it: the same hash
listed by two sources is two records, matchable while either lists it.
Sources that list hashes in upstream *entries* (NCMEC: one entry per piece of
media, with several fingerprints) also name the entry, so a deleted entry
takes away exactly what it listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reclaim.hashing import SignalType

#: The source a config's single `[source]` table is called.
DEFAULT_SOURCE = "default"

#: Feedback values the registry understands (storage and wire keys).
FEEDBACK_VALUES = ("match_found", "pending_review", "blocked", "not_blocked")


@dataclass(frozen=True, slots=True)
class ListRecord:
    """One hash of the list: active ones are matched, others leave the list."""

    kind: SignalType
    value: str
    program: str
    active: bool = True
    quality: int | None = None
    #: The name of the source that lists it (a label from the config).
    source: str = DEFAULT_SOURCE
    #: The upstream entry that lists it ("" for sources without entries).
    entry: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies a listed hash: type, value, program and source."""
        return (self.kind.value, self.value, self.program, self.source)


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

"""What the matchable list is made of: one listed hash, with where it came from.

Every record carries the name of the source that lists it: the same hash
listed by two sources is two records, matchable while either lists it.
Sources that list hashes in upstream *entries* (NCMEC: one entry per piece of
media, with several fingerprints) also name the entry, so a deleted entry
takes away exactly what it listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from reclaim.hashing import SignalType

#: The source a record belongs to when nobody names one (the matcher's
#: single `[source]` table, the registry's own list).
DEFAULT_SOURCE = "default"


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

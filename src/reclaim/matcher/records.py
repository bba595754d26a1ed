"""What the list is made of: records as a source delivers them, in pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reclaim.hashing import SignalType

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

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a record: type, value and program."""
        return (self.kind.value, self.value, self.program)


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of the list from a source.

    `snapshot` pages together make up the whole list (only active records);
    the last one has `final` set and the cursor to follow changes from.
    Change pages each carry the cursor to store with them.
    """

    records: Sequence[ListRecord]
    cursor: str | None
    snapshot: bool = False
    final: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """Feedback on one listed hash, as sent back to the source."""

    kind: SignalType
    value: str
    feedback: str

"""Request and response models: the published OpenAPI contract.

Hash values are checked by the registry domain, which reports every bad item
with its reason; here only the shape is fixed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Unknown fields are refused, so nothing extra can be sent by mistake."""

    model_config = ConfigDict(extra="forbid")


class HashIn(Strict):
    """One hash a person submits. Never a file, a name or a size."""

    type: str = Field(max_length=8, description="pdq, md5 or vpdq")
    value: str = Field(max_length=2_000_000, description="hex, or vPDQ text lines")
    quality: int | None = Field(default=None, description="PDQ quality, 0-100")
    item: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="label shared by the hashes of one picture or video",
    )


class CreateCase(Strict):
    """Open a case: a program and hashes, nothing else."""

    program: str = Field(max_length=16, description="minor or adult")
    hashes: list[HashIn] = Field(max_length=10_000)


class PinOnly(Strict):
    """Proof of ownership of a case."""

    pin: str = Field(max_length=64)


class AddHashes(Strict):
    """More hashes for an open case."""

    pin: str = Field(max_length=64)
    hashes: list[HashIn] = Field(max_length=10_000)


class SharedOut(BaseModel):
    """An outcome a platform chose to share with the person."""

    platform: str
    outcome: str
    copies: int | None


class HashOut(BaseModel):
    """One hash of a case and what platforms did about it."""

    type: str
    value: str
    status: str
    item: int = Field(description="the picture or video it belongs to")
    platforms_matched: int
    platforms_reviewed: int
    platforms_removed: int
    shared: list[SharedOut]


class ItemOut(BaseModel):
    """One picture or video of a case; a platform counts once, whichever of
    the item's hashes it matched."""

    item: int
    kinds: list[str] = Field(description="hash types it holds: pdq, md5, vpdq")
    hashes: int
    status: str
    platforms_matched: int
    platforms_reviewed: int
    platforms_removed: int
    shared: list[SharedOut]


class CaseOut(BaseModel):
    """A case as its owner sees it."""

    number: str
    program: str
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    hashes: list[HashOut]
    items: list[ItemOut]


class CaseReply(BaseModel):
    """The answer to status, add and withdraw."""

    ok: Literal[True] = True
    case: CaseOut


class CreatedReply(BaseModel):
    """The answer to case creation: number and PIN, shown only this once."""

    ok: Literal[True] = True
    case_number: str
    pin: str
    case: CaseOut


class RecordOut(BaseModel):
    """A hash-list record as platforms receive it."""

    type: str
    value: str
    quality: int | None
    program: str
    status: str
    case_count: int
    quarantined: bool
    change: int
    updated_at: datetime


class ChangesReply(BaseModel):
    """A page of the change feed."""

    ok: Literal[True] = True
    records: list[RecordOut]
    cursor: int = Field(description="pass as ?cursor= to continue")
    has_more: bool


class FeedbackIn(Strict):
    """A platform's outcome for one hash."""

    type: str = Field(max_length=8)
    value: str = Field(max_length=2_000_000)
    feedback: str = Field(
        max_length=20, description="match_found, pending_review, blocked, not_blocked"
    )
    copies: int | None = Field(default=None, ge=0, le=10**9)
    shareable: bool = Field(default=False, description="the person may see this")


class FeedbackBatch(Strict):
    """Feedback on many hashes."""

    items: list[FeedbackIn] = Field(max_length=10_000)


class FeedbackReply(BaseModel):
    """How much feedback was stored."""

    ok: Literal[True] = True
    accepted: int
    unknown: list[int] = Field(description="indexes of items whose hash is not listed")


class MatchHashIn(Strict):
    """A hash to look up."""

    type: str = Field(max_length=8, description="pdq or md5")
    value: str = Field(max_length=64)


class MatchQuery(Strict):
    """Hashes of a platform's uploads, to match against the list."""

    hashes: list[MatchHashIn] = Field(min_length=1, max_length=1000)
    radius: int = Field(
        default=31, ge=0, le=31, description="PDQ Hamming distance, at most 31"
    )


class MatchOut(BaseModel):
    """One listed hash a query matched."""

    type: str
    value: str = Field(description="as listed: use it to give feedback")
    program: str
    distance: int


class MatchResult(BaseModel):
    """The matches of one query hash (empty when none)."""

    matches: list[MatchOut]


class MatchReply(BaseModel):
    """One result per query hash, in the order sent."""

    ok: Literal[True] = True
    results: list[MatchResult]


class ErrorReply(BaseModel):
    """Every error has this shape."""

    ok: Literal[False] = False
    error: str
    errors: list[str]
    status: int


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries: these statuses answer with ErrorReply."""
    return {status: {"model": ErrorReply} for status in statuses}

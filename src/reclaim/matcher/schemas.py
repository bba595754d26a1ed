"""The matcher API's request and response models: its published OpenAPI contract.

Requests are strict (`reclaim.strict`): no coercion, no unknown fields, no
NUL or unpaired surrogate in any string. Responses are documented with every
status the API answers (`error_responses`), all errors in the one shape.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, Field

from reclaim.strict import StrictModel
from reclaim.strict import error_responses as error_responses

#: The largest signed 64-bit integer: match ids are stored as such.
INT64_MAX = 2**63 - 1

HashType = Literal["pdq", "md5", "vpdq"]
ReviewState = Literal["pending", "auto_actioned", "blocked", "not_blocked", "withdrawn"]
#: How a match was found: as the upload arrived, or in the content catalog.
MatchOrigin = Literal["upload", "catalog"]
#: Any hash's text (hex, vPDQ lines, pytx's JSON list, the compact form) is
#: printable ASCII; the hash itself is checked item by item.
HASH_TEXT = r"^[\x20-\x7e\t\r\n]*$"

#: A match id in a URL path: a positive 64-bit integer.
MatchId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the match's id")]


class HashIn(StrictModel):
    """One hash to match."""

    type: HashType
    value: str = Field(max_length=4_000_000, pattern=HASH_TEXT)
    reference: str | None = Field(
        default=None, max_length=200, description="your id for the content"
    )


class MatchRequest(StrictModel):
    """A batch of hashes (at most `[serve] max_batch`)."""

    hashes: list[HashIn]


class Decision(StrictModel):
    """A reviewer's decision."""

    decision: Literal["blocked", "not_blocked"]
    reviewer: str | None = Field(default=None, max_length=100)


class MatchOut(BaseModel):
    """One listed hash an upload or query hash matched, as queued for review."""

    match_id: int
    type: HashType
    program: str
    distance: int
    state: ReviewState
    source: str
    sources: list[str]
    variant: str | None = Field(
        default=None, description="the derived view of the picture that matched"
    )
    query_percent: float | None = None
    compared_percent: float | None = None


class MatchResult(BaseModel):
    """The matches of one query hash."""

    index: int
    matches: list[MatchOut]


class MatchReply(BaseModel):
    """One result per query hash, in the order sent."""

    ok: Literal[True] = True
    results: list[MatchResult]


class MediaReply(BaseModel):
    """What an upload was and what it matched."""

    ok: Literal[True] = True
    media: Literal["image", "video"]
    matches: list[MatchOut]


class ReviewItem(BaseModel):
    """A match in the review queue (never a hash value)."""

    id: int
    created_at: str | None
    type: str
    program: str
    distance: int
    matched_hashes: int
    sources: list[str]
    reference: str | None
    state: ReviewState
    decided_at: str | None
    reviewer: str | None
    #: "catalog": found in the content already held, after its hash was listed.
    origin: MatchOrigin = "upload"


class ReviewList(BaseModel):
    """Matches, newest first."""

    ok: Literal[True] = True
    matches: list[ReviewItem]


class ReviewOne(BaseModel):
    """One match."""

    ok: Literal[True] = True
    match: ReviewItem


class Health(BaseModel):
    """The process is up."""

    ok: Literal[True] = True
    version: str


class Readiness(BaseModel):
    """Every source has a complete list: matches can be trusted."""

    ok: Literal[True] = True
    ready: Literal[True] = True
    sources: list[str]

"""Request and response models: the published OpenAPI contract.

Hash values are checked by the registry domain, which reports every bad item
with its reason; here only the shape is fixed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import Path
from pydantic import BaseModel, Field

from reclaim.strict import ErrorReply as ErrorReply
from reclaim.strict import StrictModel, TextModel
from reclaim.strict import error_responses as error_responses

#: Unknown fields are refused, types are not coerced ("90" is not a number),
#: and no string may hold NUL: see `reclaim.strict`.
Strict = StrictModel

HashType = Literal["pdq", "md5", "vpdq"]
Program = Literal["minor", "adult"]
Feedback = Literal["match_found", "pending_review", "blocked", "not_blocked"]
HashStatus = Literal["active", "withdrawn", "removed"]
CaseStatus = Literal["active", "withdrawn"]


def one_of(choices: Any) -> dict[str, Any]:
    """A response field's closed set of values, for the schema (the server
    writes them, so they stay plain `str` in Python)."""
    return {"enum": list(get_args(choices))}


#: A PDQ (64) or MD5 (32) hash in hex, either case, blanks around allowed.
HEX_HASH = r"^\s*([0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})\s*$"
#: Any hash's text: hex, vPDQ lines, pytx's JSON list or the compact form are
#: all printable ASCII (the registry checks the hash itself, item by item).
HASH_TEXT = r"^[\x20-\x7e\t\r\n]*$"
#: A case number as typed: 9 Crockford base-32 symbols, dashes and blanks.
CASE_NUMBER = r"^[0-9A-Za-z \t-]{1,40}$"
#: A PIN as typed: 16 Crockford base-32 symbols, dashes and blanks.
PIN = r"^[0-9A-Za-z \t-]{1,64}$"
#: A case number in a URL path.
CaseNumber = Annotated[
    str, Path(max_length=40, pattern=CASE_NUMBER, description="e.g. 7KQ-29M-XA4")
]
#: The largest signed 64-bit integer, the most a stored number can be.
INT64_MAX = 2**63 - 1


class HashIn(Strict):
    """One hash a person submits. Never a file, a name or a size."""

    type: HashType = Field(description="pdq, md5 or vpdq")
    value: str = Field(
        max_length=2_000_000, pattern=HASH_TEXT, description="hex, or vPDQ text lines"
    )
    quality: int | None = Field(
        default=None, ge=0, le=100, description="PDQ quality, 0-100"
    )
    item: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="label shared by the hashes of one picture or video",
    )


class CreateCase(Strict):
    """Open a case: a program and hashes, nothing else."""

    program: Program = Field(description="minor or adult")
    hashes: list[HashIn] = Field(min_length=1, max_length=10_000)


class PinOnly(Strict):
    """Proof of ownership of a case."""

    pin: str = Field(max_length=64, pattern=PIN)


class AddHashes(Strict):
    """More hashes for an open case."""

    pin: str = Field(max_length=64, pattern=PIN)
    hashes: list[HashIn] = Field(min_length=1, max_length=10_000)


class SharedOut(BaseModel):
    """An outcome a platform chose to share with the person."""

    platform: str
    outcome: str = Field(json_schema_extra=one_of(Feedback))
    copies: int | None


class HashOut(BaseModel):
    """One hash of a case and what platforms did about it."""

    type: str = Field(json_schema_extra=one_of(HashType))
    value: str
    status: str = Field(json_schema_extra=one_of(HashStatus))
    item: int = Field(description="the picture or video it belongs to")
    platforms_matched: int
    platforms_reviewed: int
    platforms_removed: int
    shared: list[SharedOut]


class ItemOut(BaseModel):
    """One picture or video of a case; a platform counts once, whichever of
    the item's hashes it matched."""

    item: int
    kinds: list[str] = Field(
        description="hash types it holds: pdq, md5, vpdq",
        json_schema_extra={
            "items": {"type": "string", "enum": list(get_args(HashType))}
        },
    )
    hashes: int
    status: str = Field(json_schema_extra=one_of(HashStatus))
    platforms_matched: int
    platforms_reviewed: int
    platforms_removed: int
    shared: list[SharedOut]


class CaseOut(BaseModel):
    """A case as its owner sees it."""

    number: str
    program: str = Field(json_schema_extra=one_of(Program))
    status: str = Field(json_schema_extra=one_of(CaseStatus))
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

    type: str = Field(json_schema_extra=one_of(HashType))
    value: str
    quality: int | None
    program: str = Field(json_schema_extra=one_of(Program))
    status: str = Field(json_schema_extra=one_of(HashStatus))
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

    type: HashType
    value: str = Field(max_length=2_000_000, pattern=HASH_TEXT)
    feedback: Feedback = Field(
        description="match_found, pending_review, blocked, not_blocked"
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


class ListedHashIn(Strict):
    """A listed hash to ask about, as the list gave it."""

    type: HashType = Field(description="pdq, md5 or vpdq")
    value: str = Field(max_length=2_000_000, pattern=HASH_TEXT)


class FeedbackSummaryQuery(Strict):
    """Listed hashes whose feedback from other platforms to count."""

    hashes: list[ListedHashIn] = Field(min_length=1, max_length=100)


class FeedbackCounts(BaseModel):
    """How many other platforms' current feedback on a hash is each value."""

    match_found: int
    pending_review: int
    blocked: int
    not_blocked: int


class FeedbackSummary(BaseModel):
    """Other platforms' feedback on one hash, counted; never who gave it."""

    type: str = Field(json_schema_extra=one_of(HashType))
    value: str = Field(description="canonical form")
    listed: bool = Field(description="active in a program you read")
    quarantined: bool = Field(description="disputed: flagged for the operator")
    reports: FeedbackCounts = Field(description="all 0 when not listed")


class FeedbackSummaryReply(BaseModel):
    """One summary per hash asked about, in the order sent."""

    ok: Literal[True] = True
    results: list[FeedbackSummary]


class MatchHashIn(Strict):
    """A hash to look up."""

    type: Literal["pdq", "md5"] = Field(description="pdq or md5")
    value: str = Field(max_length=80, pattern=HEX_HASH)


class MatchQuery(Strict):
    """Hashes of a platform's uploads, to match against the list."""

    hashes: list[MatchHashIn] = Field(min_length=1, max_length=1000)
    radius: int = Field(
        default=31, ge=0, le=31, description="PDQ Hamming distance, at most 31"
    )


class MatchOut(BaseModel):
    """One listed hash a query matched."""

    type: str = Field(json_schema_extra=one_of(HashType))
    value: str = Field(description="as listed: use it to give feedback")
    program: str = Field(json_schema_extra=one_of(Program))
    distance: int


class MatchResult(BaseModel):
    """The matches of one query hash (empty when none)."""

    matches: list[MatchOut]


class MatchReply(BaseModel):
    """One result per query hash, in the order sent."""

    ok: Literal[True] = True
    results: list[MatchResult]


#: StopNCII's feedback values, as python-threatexchange sends them.
ExchangeFeedback = Literal[
    "Unknown",
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
]
#: StopNCII's signal types; pytx sends its enum's `str()`, with the prefix.
EXCHANGE_SIGNAL = r"^(StopNCIISignalType\.)?(ImagePDQ|VideoMD5)$"


class ExchangeOpinion(TextModel):
    """A platform's feedback on a hash (StopNCII's CSPFeedback). Fields StopNCII
    may add are ignored, so its clients keep working."""

    feedbackValue: ExchangeFeedback
    tags: list[str] = Field(default_factory=list, max_length=100)


class ExchangeFeedbackIn(ExchangeOpinion):
    """One SubmitFeedback entry: the hash, by value only, and the feedback."""

    hashValue: str = Field(max_length=80, pattern=HEX_HASH)


class ExchangeFeedbackBatch(TextModel):
    """The SubmitFeedback body."""

    count: int | None = Field(default=None, ge=0, le=INT64_MAX)
    hashFeedbacks: list[ExchangeFeedbackIn] = Field(max_length=10_000)


class ExchangeRecordIn(TextModel):
    """One SubmitHashes record: a hash the platform found itself."""

    lastModtimestamp: int | None = Field(default=None, ge=0, le=INT64_MAX)
    signalType: str = Field(max_length=40, pattern=EXCHANGE_SIGNAL)
    hashValue: str = Field(max_length=80, pattern=HEX_HASH)
    CSPFeedbacks: list[ExchangeOpinion] = Field(default_factory=list, max_length=100)


class ExchangeRecordBatch(TextModel):
    """The SubmitHashes body."""

    count: int | None = Field(default=None, ge=0, le=INT64_MAX)
    hashRecords: list[ExchangeRecordIn] = Field(max_length=10_000)

"""StopNCII's wire names, and its requests parsed once into the registry's values.

The registry speaks its own terms (hash types `pdq`/`md5`, statuses
`active`/`withdrawn`/`removed`, feedback `blocked`...); StopNCII's names
(`ImagePDQ`, `Withdrawn`, `Blocked`...) live here, at the edge. A
SubmitFeedback or SubmitHashes body, already checked for shape by its
pydantic model, becomes `FeedbackItem`s and `SubmittedHash`es here, once,
and every bad entry is named in one InvalidRequestError.
"""

from __future__ import annotations

from collections.abc import Sequence

from reclaim.api.schemas import ExchangeFeedbackIn, ExchangeOpinion, ExchangeRecordIn
from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import SignalType
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.exchange import check_request_size, submitted
from reclaim.registry.feedback import FeedbackItem, FeedbackValue
from reclaim.registry.hashlist import HashStatus
from reclaim.registry.submissions import SubmittedHash

#: Our hash types and StopNCII's names for them. vPDQ has no StopNCII type.
SIGNAL_NAMES = {SignalType.PDQ.value: "ImagePDQ", SignalType.MD5.value: "VideoMD5"}
SIGNAL_TYPES = {name: kind for kind, name in SIGNAL_NAMES.items()}

STATUS_NAMES = {
    HashStatus.ACTIVE.value: "Active",
    HashStatus.WITHDRAWN.value: "Withdrawn",
    HashStatus.REMOVED.value: "Deleted",
}

FEEDBACK_NAMES = {
    FeedbackValue.MATCH_FOUND.value: "PendingReview",
    FeedbackValue.PENDING_REVIEW.value: "PendingReview",
    FeedbackValue.BLOCKED.value: "Blocked",
    FeedbackValue.NOT_BLOCKED.value: "NotBlocked",
}
#: StopNCII feedback values that carry an outcome; the rest only tag a hash.
FEEDBACK_VALUES = {
    "PendingReview": FeedbackValue.PENDING_REVIEW,
    "Blocked": FeedbackValue.BLOCKED,
    "NotBlocked": FeedbackValue.NOT_BLOCKED,
}
TAG_ONLY = {"None", "Unknown", "QualityUnknown", "Withdrawn", "Deleted"}


def signal_type_of(name: str) -> SignalType:
    """Our type for a StopNCII signal name; the pytx client's `str(enum)` too."""
    text = name.rsplit(".", 1)[-1]  # "StopNCIISignalType.ImagePDQ" -> "ImagePDQ"
    if text not in SIGNAL_TYPES:
        raise InvalidHashError(
            f"{name[:40]!r} is not a supported signalType: expected ImagePDQ "
            "or VideoMD5"
        )
    return SignalType(SIGNAL_TYPES[text])


def feedback_item(value: str, opinion: ExchangeOpinion) -> FeedbackItem:
    """One StopNCII opinion on a hash (named by value only) as ours."""
    # StopNCII names a hash by value only: PDQ is 64 hex characters, MD5 32.
    kind = SignalType.PDQ if len(value.strip()) == 64 else SignalType.MD5
    digest = submitted(kind, value).digest
    name = opinion.feedbackValue
    if name not in FEEDBACK_VALUES and name not in TAG_ONLY:
        raise InvalidHashError(
            f"{name[:30]!r} is not a feedbackValue: expected Blocked, NotBlocked, "
            "PendingReview, None, QualityUnknown"
        )
    tags = tuple(tag[:100] for tag in opinion.tags)
    return FeedbackItem(kind.value, digest, FEEDBACK_VALUES.get(name), tags=tags)


def feedback_items(entries: Sequence[ExchangeFeedbackIn]) -> list[FeedbackItem]:
    """A SubmitFeedback body's entries; all refused if any is bad."""
    items, problems = [], []
    for index, entry in enumerate(entries):
        try:
            items.append(feedback_item(entry.hashValue, entry))
        except InvalidHashError as error:
            problems.append(f"hashFeedbacks[{index}]: {error}")
    if problems:
        raise InvalidRequestError(
            f"{len(problems)} feedback entries were refused; none was stored",
            problems,
        )
    return items


def submitted_records(
    records: Sequence[ExchangeRecordIn], *, limit: int
) -> tuple[list[SubmittedHash], list[FeedbackItem]]:
    """A SubmitHashes body as (hashes, the platform's own opinions on them);
    all refused if any record is bad."""
    check_request_size(len(records), limit=limit)
    hashes, notes, problems = [], [], []
    for index, record in enumerate(records):
        try:
            one = submitted(signal_type_of(record.signalType), record.hashValue)
            hashes.append(one)
            notes += [feedback_item(one.value, o) for o in record.CSPFeedbacks]
        except InvalidHashError as error:
            problems.append(f"hashRecords[{index}]: {error}")
    if problems or not hashes:
        raise InvalidRequestError(
            f"{len(problems)} of {len(records)} records were refused; none was stored",
            problems or ["hashRecords: expected at least one record"],
        )
    return hashes, notes

"""Errors of the platform matcher.

ReclaimError
 +-- MatcherError
      +-- ConfigError          the config file is missing, malformed or invalid
      +-- SourceError          the hash-list source could not be used
      |    +-- SourceUnavailable   unreachable, timed out or a 5xx answer
      |    +-- SourceRejected      the key was refused (revoked, wrong) or 4xx
      +-- QueryError           a match query that cannot be answered (bad input)
      +-- NotReadyError        a source has no complete list yet: retry later
      +-- BusyError            every upload decoder is busy and the queue full
      +-- StatementError       a DSA statement of reasons the API would refuse
      +-- ReviewError          a review action that cannot be done
      |    +-- UnknownMatchError   no match has that id
      |    +-- DecisionError       not a decision (or state) the queue knows
      |    +-- AlreadyDecidedError the match is not pending any more
      |    +-- UndoError           the decision can no longer be undone
      +-- RemovalError         a removal request action that cannot be done
      |    +-- UnknownRemovalError no removal request has that id (or receipt)
      |    +-- RemovalStateError   not allowed in the request's state
      |    +-- RemovalLimitError   too many requests filed this hour: retry later
      |    +-- SubmissionReusedError a used form token / Idempotency-Key, new body
      +-- DeskError            the desk refused an action
           +-- LoginError          wrong name or password, or locked for a while
           +-- AccountError        an account that cannot be made or changed
           +-- ForbiddenError      the signed-in role may not do this
"""

from __future__ import annotations

from reclaim.errors import ReclaimError


class MatcherError(ReclaimError):
    """Base class of the matcher's errors."""


class ConfigError(MatcherError):
    """The matcher's config file cannot be used."""


class SourceError(MatcherError):
    """Fetching the list from, or reporting to, the source failed."""


class SourceUnavailable(SourceError):
    """The source is down, slow or answered with a server error: retry later."""


class SourceRejected(SourceError):
    """The source refused the request (key revoked or wrong, or a bad request)."""


class QueryError(MatcherError):
    """A match query that is malformed or too large."""


class NotReadyError(MatcherError):
    """A source has not completed its first snapshot: matching now would miss
    listed hashes. `retry_after` is the seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BusyError(MatcherError):
    """Every decode worker is busy and the upload queue is full (HTTP 503).

    `retry_after` is the seconds to wait before sending the upload again.
    """

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StatementError(MatcherError):
    """A DSA statement of reasons (or batch) that breaks the API's documented rules."""


class ReviewError(MatcherError):
    """A review action on an unknown match, or a decision not allowed."""


class UnknownMatchError(ReviewError):
    """No match in the review queue has this id."""


class DecisionError(ReviewError):
    """Not a decision (or state) the review queue knows."""


class AlreadyDecidedError(ReviewError):
    """The match was decided already (by the policy or a reviewer)."""


class UndoError(ReviewError):
    """The decision was not made on the desk, or its undo window has closed."""


class RemovalError(MatcherError):
    """A removal request action that cannot be done (bad input: HTTP 422)."""


class UnknownRemovalError(RemovalError):
    """No removal request has this id, or the receipt does not match (404)."""


class RemovalStateError(RemovalError):
    """The action is not allowed in the request's state (HTTP 409)."""


class RemovalLimitError(RemovalError):
    """More removal requests arrived this hour than `[removals] max_per_hour`
    (HTTP 429). `retry_after` is the seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SubmissionReusedError(RemovalError):
    """A form's one-time token (or an Idempotency-Key) that filed a request
    came again with a different request (HTTP 422). `public_id` is the
    request it filed."""

    def __init__(self, message: str, *, public_id: str) -> None:
        super().__init__(message)
        self.public_id = public_id


class DeskError(MatcherError):
    """The desk refused an action."""


class LoginError(DeskError):
    """Wrong name or password, or too many tries: sign in again later."""


class AccountError(DeskError):
    """An account that cannot be made or changed (name taken, bad role...)."""


class ForbiddenError(DeskError):
    """The signed-in account's role may not do this."""

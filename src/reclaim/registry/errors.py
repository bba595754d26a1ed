"""Errors of the registry domain; the API maps each to one HTTP status.

ReclaimError
 +-- RegistryError
      +-- InvalidRequestError     bad input: a hash, a program, too many hashes
      +-- CaseAccessError         unknown case or wrong PIN (one answer for both)
      +-- CaseClosedError         the case is withdrawn
      +-- AuthenticationError     missing, unknown or revoked platform key
      |    +-- RevokedKeyError    the key (or its platform) was revoked
      +-- PermissionDeniedError   the platform may not read that program
      +-- NotFoundError           unknown platform, hash or cursor
      +-- ConflictError           a name that is taken
      +-- RateLimitedError        too many attempts from one client
      +-- SchemaError             the database is not migrated to this version
"""

from __future__ import annotations

from reclaim.errors import ReclaimError


class RegistryError(ReclaimError):
    """Base class of the registry's errors."""


class InvalidRequestError(RegistryError):
    """The request asks for something malformed or out of bounds.

    `details` lists one message per bad item, e.g. per refused hash.
    """

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class CaseAccessError(RegistryError):
    """The case number is unknown or the PIN is wrong: deliberately one error."""


class CaseClosedError(RegistryError):
    """The case has been withdrawn and can no longer change."""


class AuthenticationError(RegistryError):
    """No valid platform API key was presented."""


class RevokedKeyError(AuthenticationError):
    """The key was valid once, but it or its platform has been revoked."""


class PermissionDeniedError(RegistryError):
    """The platform is authenticated but not allowed to do this."""


class NotFoundError(RegistryError):
    """A named thing does not exist."""


class ConflictError(RegistryError):
    """The request conflicts with existing data, e.g. a name already taken."""


class RateLimitedError(RegistryError):
    """Too many requests of this kind from one client; retry later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SchemaError(RegistryError):
    """The database schema is missing or older than this code expects."""

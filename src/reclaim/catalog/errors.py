"""The content catalog's errors: each names the value, the expectation and the fix."""

from __future__ import annotations

from reclaim.errors import ReclaimError


class CatalogError(ReclaimError):
    """Something about the content catalog or a job over it."""


class CatalogItemError(CatalogError, ValueError):
    """A catalog item (or a value for one) that cannot be kept."""


class CatalogSourceError(CatalogError):
    """A backfill source that cannot be read (missing, unreachable, refused)."""


class CatalogJobError(CatalogError):
    """A backfill or rescan that cannot go on (bad checkpoint, cluster down)."""

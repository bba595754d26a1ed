"""Times as the matcher stores and shows them: aware UTC, ISO 8601 with a Z."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands back naive times, stored as UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@overload
def iso(value: datetime) -> str: ...


@overload
def iso(value: None) -> None: ...


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (microseconds kept when there are any), or None."""
    if value is None:
        return None
    return aware(value).astimezone(UTC).isoformat().replace("+00:00", "Z")

"""The registry's core: its database, settings and write transactions.

Every write is one transaction: the change, its feed positions and its audit
events commit together or not at all, so an answered request is durable and
a crash mid-request leaves nothing half done. The desks built on it
(`person_desk`, `platform_desk`, `exchange_desk`, `operator_desk`) hold the
operations of each audience; `service.Registry` is all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from reclaim.config import Settings
from reclaim.registry import (
    creation,
    schema,
)
from reclaim.registry.db import Database, make_engine
from reclaim.registry.feed import instance_secret
from reclaim.registry.hashlist import ListEntry

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Feed pages are at most this long.
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class ChangePage:
    """A page of the change feed."""

    entries: list[ListEntry]
    cursor: int
    has_more: bool


class RegistryCore:
    """The database, the settings and the one way to write."""

    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.db = database or Database(make_engine(settings.database_url))
        self._creator = creation.CaseCreator(
            self.db,
            keep=timedelta(hours=settings.idempotency_hours),
            write=self._write,
        )

    def check_schema(self) -> None:
        """Raise SchemaError unless the database is fully migrated."""
        schema.check(self.db.engine)

    def secret(self) -> str:
        """This registry's random secret."""
        with self.db.read() as session:
            return instance_secret(session)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def _write(self, work: Callable[[Session], T], *, attempts: int = 5) -> T:
        """Run `work` in a write transaction, retrying races on unique keys."""
        for attempt in range(attempts):
            try:
                with self.db.write() as session:
                    return work(session)
            except (IntegrityError, OperationalError) as error:
                if attempt == attempts - 1 or not _retryable(error):
                    raise
                logger.info(
                    "retrying a write after a conflict (attempt %d)", attempt + 1
                )
        raise AssertionError("unreachable")

    def request_limit(self) -> int:
        """The most hashes one request may carry (and a case can hold)."""
        return min(
            self.settings.max_hashes_per_request, self.settings.max_hashes_per_case
        )


def _retryable(error: Exception) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return any(
        marker in text
        for marker in (
            "unique",
            "duplicate key",
            "deadlock",
            "database is locked",
            "could not serialize",
        )
    )

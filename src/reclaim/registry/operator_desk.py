"""The operator's desk: platforms and their keys, quarantine, the audit log, totals."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from reclaim.registry import (
    audit,
    platforms,
    quarantine,
    stats,
)
from reclaim.registry.core import RegistryCore
from reclaim.registry.feed import publish
from reclaim.registry.models import Platform
from reclaim.registry.platforms import PlatformInfo

logger = logging.getLogger(__name__)


class OperatorDesk(RegistryCore):
    """What the operator does (the reclaim admin commands)."""

    def add_platform(
        self, name: str, programs: Sequence[str], *, public_name: str | None = None
    ) -> tuple[PlatformInfo, str]:
        """Register a platform; returns it and its first API key (shown once).

        `public_name`: shown on the person's page, only if the platform agreed.
        """

        def work(session: Session) -> str:
            platform, key = platforms.add(
                session, name, programs, public_name=public_name
            )
            audit.record(
                session,
                audit.Action.PLATFORM_ADDED,
                audit.Actor.OPERATOR,
                platform_id=platform.id,
                programs=platform.programs,
            )
            _operator_did(session, platform.id, audit.Action.KEY_ISSUED)
            if platform.public_name is not None:
                _named(session, platform)
            return key

        key = self._write(work)
        return self._info(name), key

    def rotate_key(self, name: str) -> tuple[PlatformInfo, str]:
        """Revoke a platform's keys and issue a new one (shown once)."""

        def work(session: Session) -> str:
            platform, key = platforms.rotate(session, name)
            _operator_did(
                session, platform.id, audit.Action.KEY_REVOKED, audit.Action.KEY_ISSUED
            )
            return key

        key = self._write(work)
        return self._info(name), key

    def revoke_platform(self, name: str) -> PlatformInfo:
        """Revoke a platform and every key it has."""

        def work(session: Session) -> None:
            platform = platforms.revoke(session, name)
            _operator_did(session, platform.id, audit.Action.PLATFORM_REVOKED)

        self._write(work)
        return self._info(name)

    def name_platform(self, name: str, public_name: str | None) -> PlatformInfo:
        """Show the platform on the person's page under `public_name` (it
        agreed to be named), or stop showing it (None)."""

        def work(session: Session) -> None:
            _named(session, platforms.set_public_name(session, name, public_name))

        self._write(work)
        return self._info(name)

    def named_platforms(self) -> list[platforms.NamedPlatform]:
        """Unrevoked platforms that agreed to be named on the person's page."""
        with self.db.read() as session:
            return platforms.named(session)

    def list_platforms(self) -> list[PlatformInfo]:
        """Every platform (never with key secrets)."""
        with self.db.read() as session:
            return platforms.listing(session)

    def _info(self, name: str) -> PlatformInfo:
        return next(p for p in self.list_platforms() if p.name == name)

    def quarantined(self, *, limit: int = 100) -> list[quarantine.Disputed]:
        """Hashes awaiting the operator's review."""
        with self.db.read() as session:
            return quarantine.listing(session, limit=limit)

    def resolve_quarantine(self, record_id: int, decision: str) -> None:
        """Keep a quarantined hash in the list, or remove it for good."""
        chosen = quarantine.Decision(decision)

        def work(session: Session) -> None:
            record = quarantine.resolve(session, record_id, chosen)
            audit.record(
                session,
                audit.Action.QUARANTINE_RESOLVED,
                audit.Actor.OPERATOR,
                hash_id=record.id,
                decision=chosen.value,
            )
            publish(session, [record])

        self._write(work)

    def audit_log(
        self, *, limit: int = 100, action: str | None = None
    ) -> Sequence[audit.AuditEntry]:
        """The newest audit events first."""
        with self.db.read() as session:
            return audit.read(session, limit=limit, action=action)

    def counts(self) -> stats.Counts:
        """Totals for the operator's metrics (nothing named), one snapshot."""
        with self.db.read(snapshot=True) as session:
            return stats.read(session)


def _operator_did(session: Session, platform_id: int, *actions: audit.Action) -> None:
    """Audit operator actions on one platform, in order."""
    for action in actions:
        audit.record(session, action, audit.Actor.OPERATOR, platform_id=platform_id)


def _named(session: Session, platform: Platform) -> None:
    audit.record(
        session,
        audit.Action.PLATFORM_NAMED,
        audit.Actor.OPERATOR,
        platform_id=platform.id,
        public_name=platform.public_name,
    )

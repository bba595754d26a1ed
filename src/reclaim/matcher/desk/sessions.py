"""Desk sign-in sessions: a random cookie, stored only as its SHA-256.

A session lasts `[desk] session_hours` from sign-in and ends at sign-out,
when its account is disabled or its password changes. Each has its own
CSRF token, which every form on the desk echoes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from reclaim.matcher.desk.accounts import Account, Role
from reclaim.matcher.desk.tables import accounts, sessions

COOKIE = "reclaim_desk"


@dataclass(frozen=True, slots=True)
class DeskUser:
    """Who is signed in, as the desk's pages see them."""

    name: str
    role: Role
    csrf: str

    def may(self, needed: Role) -> bool:
        """Whether this user's role allows what `needed` may do."""
        return self.role.allows(needed)

    def csrf_matches(self, given: str) -> bool:
        """Whether a form's CSRF token is this session's (constant time)."""
        return hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    """Opening, finding and ending sessions."""

    def __init__(self, engine: Engine, *, hours: float) -> None:
        self.engine = engine
        self.hours = hours

    def open(self, account: Account) -> str:
        """A new session for the account; returns the cookie's token."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(delete(sessions).where(sessions.c.expires_at < now))
            connection.execute(
                insert(sessions).values(
                    digest=_digest(token),
                    account_id=account.id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + timedelta(hours=self.hours),
                )
            )
        return token

    def find(self, token: str | None) -> DeskUser | None:
        """The signed-in user of a cookie's token, or None."""
        if not token or len(token) > 100:
            return None
        now = datetime.now(UTC)
        query = (
            select(sessions.c.csrf, sessions.c.expires_at, accounts)
            .join(accounts, accounts.c.id == sessions.c.account_id)
            .where(sessions.c.digest == _digest(token))
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or row.disabled_at is not None:
            return None
        expires = row.expires_at
        if (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= now:
            return None
        return DeskUser(row.name, Role(row.role), row.csrf)

    def close(self, token: str | None) -> None:
        """End the session of this token (signing out)."""
        if token:
            with self.engine.begin() as connection:
                connection.execute(
                    delete(sessions).where(sessions.c.digest == _digest(token))
                )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

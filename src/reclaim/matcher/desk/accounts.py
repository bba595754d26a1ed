"""Desk accounts: local users with a slow-hashed password and a role.

Roles, each able to do what the one before can:
- `reviewer`: the queue (decide, bulk-decide, undo their own decisions) and
  the removal requests (see them, mark copies removed);
- `lead`: undo anyone's decision, judge removal requests (valid, invalid,
  rejected), see requesters' contact details, the transparency report, the
  dashboard and the audit trail;
- `admin`: manage accounts.
"""

from __future__ import annotations

import enum
import functools
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from reclaim.matcher.desk import audit
from reclaim.matcher.desk.passwords import (
    check_password,
    hash_password,
    password_problem,
)
from reclaim.matcher.desk.tables import accounts, sessions
from reclaim.matcher.errors import AccountError, LoginError

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
#: Failed sign-ins of one name before it is locked, and for how long.
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
#: Names whose recent failures are remembered, at most.
MAX_NAMES_TRACKED = 10_000


class Role(enum.StrEnum):
    """What an account may do. Names are storage keys."""

    REVIEWER = "reviewer"
    LEAD = "lead"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Higher ranks may do all that lower ranks may."""
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return self.rank >= needed.rank


@dataclass(frozen=True, slots=True)
class Account:
    """A desk account (never its password hash)."""

    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool


def parse_role(value: str) -> Role:
    """A role by name, or AccountError naming the roles."""
    try:
        return Role(value)
    except ValueError:
        raise AccountError(
            f"{value[:30]!r} is not a role: expected reviewer, lead or admin"
        ) from None


class Accounts:
    """Making, changing and checking desk accounts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(
        self, name: str, password: str, role: Role, *, actor: str = "system"
    ) -> Account:
        """A new account; AccountError if the name is taken or not valid."""
        if not NAME.fullmatch(name):
            raise AccountError(
                f"{name[:70]!r} is not a valid account name: expected 2 to 64 "
                "lower-case letters, digits, '.', '-' or '_', starting with a "
                "letter or digit"
            )
        if problem := password_problem(password):
            raise AccountError(problem)
        stored = hash_password(password)
        with self.engine.begin() as connection:
            taken = connection.execute(
                select(accounts.c.id).where(accounts.c.name == name)
            ).first()
            if taken is not None:
                raise AccountError(
                    f"there is already an account {name!r}: choose another name, "
                    "or change that account's password or role"
                )
            connection.execute(
                insert(accounts).values(
                    name=name,
                    role=role.value,
                    password=stored,
                    created_at=datetime.now(UTC),
                )
            )
            audit.record(
                connection,
                actor=actor,
                action="account.add",
                subject=f"account:{name}",
                detail={"role": role.value},
            )
        return self.get(name)

    def get(self, name: str) -> Account:
        """One account by name; AccountError if there is none."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(accounts).where(accounts.c.name == name)
            ).first()
        if row is None:
            raise AccountError(
                f"there is no account {name[:70]!r}: list them with `reclaim "
                "matcher desk users`"
            )
        return _account(row)

    def all(self) -> list[Account]:
        """Every account, by name."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(accounts).order_by(accounts.c.name))
            return [_account(row) for row in rows]

    def set_password(self, name: str, password: str, *, actor: str = "system") -> None:
        """A new password; every session of the account ends."""
        if problem := password_problem(password):
            raise AccountError(problem)
        account = self.get(name)
        stored = hash_password(password)
        with self.engine.begin() as connection:
            connection.execute(
                update(accounts)
                .where(accounts.c.id == account.id)
                .values(password=stored)
            )
            connection.execute(
                sessions.delete().where(sessions.c.account_id == account.id)
            )
            audit.record(
                connection,
                actor=actor,
                action="account.password",
                subject=f"account:{name}",
            )

    def set_role(self, name: str, role: Role, *, actor: str = "system") -> None:
        """A new role for the account."""
        account = self.get(name)
        with self.engine.begin() as connection:
            connection.execute(
                update(accounts)
                .where(accounts.c.id == account.id)
                .values(role=role.value)
            )
            audit.record(
                connection,
                actor=actor,
                action="account.role",
                subject=f"account:{name}",
                detail={"from": account.role.value, "to": role.value},
            )

    def set_disabled(self, name: str, disabled: bool, *, actor: str = "system") -> None:
        """Disable an account (its sessions end) or enable it again."""
        account = self.get(name)
        with self.engine.begin() as connection:
            connection.execute(
                update(accounts)
                .where(accounts.c.id == account.id)
                .values(disabled_at=datetime.now(UTC) if disabled else None)
            )
            if disabled:
                connection.execute(
                    sessions.delete().where(sessions.c.account_id == account.id)
                )
            audit.record(
                connection,
                actor=actor,
                action="account.disable" if disabled else "account.enable",
                subject=f"account:{name}",
            )

    def authenticate(self, name: str, password: str) -> Account:
        """The account if the password is right; else LoginError (one
        message for every reason, so names cannot be probed)."""
        refused = LoginError(
            "that name and password do not match an active account: check "
            "both, or ask an admin to reset the password"
        )
        key = name[:64]
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < LOCK_SECONDS]
            self._failures.pop(key, None)
            if recent:  # kept newest last; names with no recent failure go
                self._failures[key] = recent
            if len(recent) >= MAX_FAILURES:
                minutes = max(1, round((LOCK_SECONDS - (now - recent[0])) / 60))
                raise LoginError(
                    f"too many wrong passwords for this name: sign-in with it is "
                    f"paused for {minutes} more minutes; try again then"
                )
        with self.engine.connect() as connection:
            row = connection.execute(
                select(accounts).where(accounts.c.name == key)
            ).first()
        # A missing account still costs one hash, so timing tells nothing.
        stored = row.password if row is not None else _dummy()
        good = check_password(password, stored)
        if row is None or not good or row.disabled_at is not None:
            with self._lock:
                self._failures.setdefault(key, []).append(now)
                while len(self._failures) > MAX_NAMES_TRACKED:
                    # Memory stays bounded however many names are tried:
                    # the longest-untried name is forgotten first.
                    del self._failures[next(iter(self._failures))]
            raise refused
        with self._lock:
            self._failures.pop(key, None)
        return _account(row)


@functools.cache
def _dummy() -> str:
    """Checked against when the name is unknown (equal cost, never matches)."""
    return hash_password(secrets.token_hex(16))


def _account(row: Any) -> Account:
    created = row.created_at
    return Account(
        row.id,
        row.name,
        Role(row.role),
        created if created.tzinfo else created.replace(tzinfo=UTC),
        row.disabled_at is not None,
    )

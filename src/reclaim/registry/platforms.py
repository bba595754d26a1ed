"""Platform accounts and their API keys: issue, list, rotate, revoke, check,
and whether a platform agreed to be named on the person's page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.registry.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RevokedKeyError,
)
from reclaim.registry.feed import as_utc, utcnow
from reclaim.registry.models import ApiKey, Platform
from reclaim.registry.secrets import check_api_secret, new_api_key, split_api_key
from reclaim.registry.submissions import Program, parse_program

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")


@dataclass(frozen=True, slots=True)
class PlatformIdentity:
    """An authenticated platform: who it is and what it may read."""

    id: int
    name: str
    programs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """A platform as the operator lists it (never with key secrets)."""

    id: int
    name: str
    programs: tuple[str, ...]
    created_at: datetime
    revoked: bool
    active_keys: int
    #: Shown on the person's page only when the platform agreed (else None).
    public_name: str | None = None


@dataclass(frozen=True, slots=True)
class NamedPlatform:
    """A participating platform that agreed to be named on the person's page."""

    name: str
    programs: tuple[str, ...]


def parse_programs(text: str | Sequence[str]) -> tuple[str, ...]:
    """'minor,adult' -> ('adult', 'minor'), validated."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    programs = {parse_program(p.strip()).value for p in parts if p.strip()}
    if not programs:
        raise InvalidRequestError(
            "a platform needs at least one program: minor, adult or minor,adult"
        )
    return tuple(sorted(programs))


def _by_name(session: Session, name: str) -> Platform:
    platform = session.scalars(select(Platform).where(Platform.name == name)).first()
    if platform is None:
        raise NotFoundError(
            f"no platform is named {name[:100]!r}: see `reclaim platforms list`"
        )
    return platform


def _issue_key(session: Session, platform: Platform) -> str:
    key, key_id, secret_hash = new_api_key()
    session.add(
        ApiKey(
            platform_id=platform.id,
            key_id=key_id,
            secret_hash=secret_hash,
            created_at=utcnow(),
        )
    )
    return key


def parse_public_name(text: str) -> str:
    """A name fit to show people: 1-100 characters, no control characters."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > 100 or not cleaned.isprintable():
        raise InvalidRequestError(
            f"{text[:100]!r} is not a public name: use 1-100 printable "
            "characters, e.g. the name people know the platform by"
        )
    return cleaned


def add(
    session: Session,
    name: str,
    programs: Sequence[str],
    *,
    public_name: str | None = None,
) -> tuple[Platform, str]:
    """A new platform and its first API key (the key is shown once).

    `public_name`: the name shown on the person's page, given only when the
    platform agreed to be named there.
    """
    shown = parse_public_name(public_name) if public_name is not None else None
    if not _NAME.fullmatch(name):
        raise InvalidRequestError(
            f"{name[:100]!r} is not a platform name: use 1-100 letters, digits, "
            "spaces, dots, dashes or underscores"
        )
    if session.scalars(select(Platform.id).where(Platform.name == name)).first():
        raise ConflictError(f"a platform named {name!r} exists: choose another name")
    platform = Platform(
        name=name,
        programs=",".join(parse_programs(programs)),
        created_at=utcnow(),
        public_name=shown,
    )
    session.add(platform)
    session.flush()
    return platform, _issue_key(session, platform)


def rotate(session: Session, name: str) -> tuple[Platform, str]:
    """Revoke a platform's keys and issue a new one."""
    platform = _by_name(session, name)
    if platform.revoked_at is not None:
        raise ConflictError(f"platform {name!r} is revoked: add it again instead")
    _revoke_keys(session, platform)
    return platform, _issue_key(session, platform)


def revoke(session: Session, name: str) -> Platform:
    """Revoke a platform and all its keys; it can no longer read the list."""
    platform = _by_name(session, name)
    platform.revoked_at = platform.revoked_at or utcnow()
    _revoke_keys(session, platform)
    return platform


def set_public_name(session: Session, name: str, public_name: str | None) -> Platform:
    """Name the platform on the person's page (it agreed), or stop (None)."""
    platform = _by_name(session, name)
    platform.public_name = (
        parse_public_name(public_name) if public_name is not None else None
    )
    return platform


def named(session: Session) -> list[NamedPlatform]:
    """Unrevoked platforms that agreed to be named, by public name."""
    rows = session.execute(
        select(Platform.public_name, Platform.programs).where(
            Platform.public_name.is_not(None), Platform.revoked_at.is_(None)
        )
    ).all()
    return sorted(
        (
            NamedPlatform(str(shown), tuple(programs.split(",")))
            for shown, programs in rows
        ),
        key=lambda p: p.name.casefold(),
    )


def _revoke_keys(session: Session, platform: Platform) -> None:
    now = utcnow()
    for key in session.scalars(
        select(ApiKey).where(
            ApiKey.platform_id == platform.id, ApiKey.revoked_at.is_(None)
        )
    ):
        key.revoked_at = now


def listing(session: Session) -> list[PlatformInfo]:
    """Every platform, with how many unrevoked keys it has."""
    counts = dict(
        session.execute(
            select(ApiKey.platform_id, func.count())
            .where(ApiKey.revoked_at.is_(None))
            .group_by(ApiKey.platform_id)
        ).all()
    )
    return [
        PlatformInfo(
            p.id,
            p.name,
            tuple(p.programs.split(",")),
            as_utc(p.created_at),
            p.revoked_at is not None,
            int(counts.get(p.id, 0)),
            p.public_name,
        )
        for p in session.scalars(select(Platform).order_by(Platform.name))
    ]


def authenticate(session: Session, key: str | None) -> PlatformIdentity:
    """The platform owning an unrevoked key; AuthenticationError otherwise."""
    parts = split_api_key(key or "")
    row = None
    if parts is not None:
        row = session.execute(
            select(ApiKey, Platform)
            .join(Platform, Platform.id == ApiKey.platform_id)
            .where(ApiKey.key_id == parts[0])
        ).first()
    stored = row[0].secret_hash if row else None
    if not check_api_secret(parts[1] if parts else "", stored) or row is None:
        raise AuthenticationError(
            "no valid API key: send 'Authorization: Bearer <key>' with a key from "
            "`reclaim platforms add` or `rotate`"
        )
    key_row, platform = row
    if key_row.revoked_at is not None or platform.revoked_at is not None:
        raise RevokedKeyError(
            "this API key was revoked: ask the registry operator for a new one"
        )
    return PlatformIdentity(
        platform.id, platform.name, tuple(platform.programs.split(","))
    )


ALL_PROGRAMS = tuple(p.value for p in Program)

"""Previews of matched uploads for the desk: kept a while, served, purged.

A preview is a small JPEG made by a decode worker (`decode_pool.make_preview`),
never the upload. It is kept only when `[desk] keep_media_hours` is above
zero, only for an upload that matched, and only until it expires: the
delivery loop purges expired ones (`purge`), and `get` never returns one
past its time even before the purge has run. Pages show it blurred until a
moderator chooses to see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from reclaim.matcher.desk.tables import media
from reclaim.matcher.times import aware

#: The longest side of a preview, in pixels.
PREVIEW_SIDE = 480
CONTENT_TYPE = "image/jpeg"


@dataclass(frozen=True, slots=True)
class Preview:
    """One kept preview."""

    match_id: int
    content_type: str
    data: bytes
    expires_at: datetime


class Previews:
    """The desk's kept previews (`desk_media`), for `hours` after each match."""

    def __init__(self, engine: Engine, *, hours: float) -> None:
        self.engine = engine
        self.hours = hours

    @property
    def enabled(self) -> bool:
        """Whether previews are kept at all."""
        return self.hours > 0

    def keep(self, match_ids: Iterable[int], jpeg: bytes) -> int:
        """Keep `jpeg` as the preview of each match (when enabled); returns
        how many were kept. A match that has one keeps its first."""
        if not self.enabled or not jpeg:
            return 0
        expires = datetime.now(UTC) + timedelta(hours=self.hours)
        kept = 0
        with self.engine.begin() as connection:
            have = set(
                connection.execute(
                    select(media.c.match_id).where(
                        media.c.match_id.in_(list(set(match_ids)))
                    )
                ).scalars()
            )
            for match_id in sorted(set(match_ids) - have):
                connection.execute(
                    insert(media).values(
                        match_id=match_id,
                        content_type=CONTENT_TYPE,
                        data=jpeg,
                        expires_at=expires,
                    )
                )
                kept += 1
        return kept

    def get(self, match_id: int) -> Preview | None:
        """The match's preview, unless there is none or it has expired."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(media).where(media.c.match_id == match_id)
            ).first()
        if row is None:
            return None
        expires = aware(row.expires_at)
        if expires <= datetime.now(UTC):
            return None
        return Preview(row.match_id, row.content_type, bytes(row.data), expires)

    def has(self, match_id: int) -> bool:
        """Whether the match has an unexpired preview (without loading it)."""
        return bool(self.which([match_id]))

    def which(self, match_ids: Iterable[int]) -> set[int]:
        """Those of `match_ids` that have an unexpired preview."""
        wanted = list(set(match_ids))
        if not wanted:
            return set()
        with self.engine.connect() as connection:
            return set(
                connection.execute(
                    select(media.c.match_id).where(
                        media.c.match_id.in_(wanted),
                        media.c.expires_at > datetime.now(UTC),
                    )
                ).scalars()
            )

    def purge(self, *, now: datetime | None = None) -> int:
        """Delete every expired preview (and all of them when previews are
        off); returns how many were deleted."""
        query = delete(media)
        if self.enabled:
            query = query.where(media.c.expires_at <= (now or datetime.now(UTC)))
        with self.engine.begin() as connection:
            return int(connection.execute(query).rowcount)

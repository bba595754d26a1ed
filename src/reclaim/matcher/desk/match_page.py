"""One match on the desk: why it matched, what others reported, its history,
and its preview (blurred until a moderator chooses to see it).

The reasons are put in words here (`explain`): which listed hash (its type
and the first 16 hex characters, never the whole value), which view of the
upload matched, and what the distance means. Other platforms' reports come
from each source that listed a matched hash (`Source.reports`), asked with a
short timeout: a slow or failing source shows "reports unavailable".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, Request
from fastapi.responses import Response

from reclaim.matcher.desk import audit
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.sessions import DeskUser
from reclaim.matcher.desk.site import whole_number
from reclaim.matcher.errors import DeskError, ReviewError
from reclaim.matcher.records import Reports
from reclaim.matcher.review import DECISIONS, Origin, QueuedMatch
from reclaim.matcher.source import Source

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk

logger = logging.getLogger(__name__)

#: Seconds the page waits for other platforms' reports before going without.
REPORTS_TIMEOUT = 3.0
#: Which view of the upload matched, in words (labels from `MediaHashes`).
VARIANTS = {
    "original": "as uploaded",
    "rotate90": "turned 90°",
    "rotate180": "turned 180° (upside down)",
    "rotate270": "turned 270°",
    "flipx": "mirrored (left to right)",
    "flipy": "mirrored (top to bottom)",
    "flip_plus1": "mirrored along a diagonal",
    "flip_minus1": "mirrored along the other diagonal",
    "inner": "the picture inside borders, bars or a screenshot frame",
}
_PROGRAMS = {"adult": "adults' intimate images", "minor": "images of minors"}


@dataclass(frozen=True, slots=True)
class Listed:
    """A listed hash, shortened for showing (never the whole value)."""

    kind: str
    short: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SourceReports:
    """What one source said about the matched hashes (None: unavailable)."""

    source: str
    reports: Mapping[tuple[str, str], Reports] | None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a match matched, in words."""

    lead: Listed
    view: str
    distance: str
    program: str
    related: tuple[Listed, ...]


def short(value: str) -> str:
    """The first 16 hex characters of a hash value and an ellipsis."""
    return value[:16] + "…" if len(value) > 16 else value


def explain(item: QueuedMatch, *, radius: int) -> Explanation:
    """The reasons for a match, put in words."""
    by_hash: dict[tuple[str, str], list[str]] = {}
    for source, kind, value in item.listings:
        by_hash.setdefault((kind, value), []).append(source)
    if item.kind == "md5":
        view = "the file itself, byte for byte"
        distance = "0: the very same file (MD5 matches are exact)"
    elif item.kind == "pdq":
        view = VARIANTS.get(item.variant or "original", item.variant or "")
        distance = (
            f"{item.distance} of 256 bits differ; {radius} or less is a match "
            "(0 is the same picture)"
        )
    else:
        view = "the video's frames"
        distance = (
            f"matching frames differ by at most {item.distance} of 256 bits; "
            f"{radius} or less counts"
        )
    return Explanation(
        lead=Listed(
            item.kind,
            short(item.value),
            tuple(by_hash.get((item.kind, item.value), [item.source or "default"])),
        ),
        view=view,
        distance=distance,
        program=_PROGRAMS.get(item.program, item.program),
        related=tuple(
            Listed(kind, short(value), tuple(by_hash.get((kind, value), [])))
            for kind, value in item.related
        ),
    )


def reports_of(
    sources: Mapping[str, Source], item: QueuedMatch, *, timeout: float
) -> list[SourceReports]:
    """Each listing source's reports on the hashes it listed, asked side by
    side; a source that fails or is slower than `timeout` gives None."""
    asked: dict[str, list[tuple[str, str]]] = {}
    for source, kind, value in item.listings:
        if source in sources:
            asked.setdefault(source, []).append((kind, value))
    if not item.listings and sources:
        first = next(iter(sources))
        asked[first] = [(item.kind, item.value), *item.related]
    if not asked:
        return []
    pool = ThreadPoolExecutor(max_workers=len(asked), thread_name_prefix="reports")
    try:
        futures = {
            name: pool.submit(sources[name].reports, hashes)
            for name, hashes in asked.items()
        }
        found: list[SourceReports] = []
        for name, future in futures.items():
            try:
                found.append(SourceReports(name, future.result(timeout=timeout)))
            except FutureTimeout:
                logger.warning("source %s gave no reports in %.1f s", name, timeout)
                found.append(SourceReports(name, None))
            except Exception as error:  # noqa: BLE001 - shown as unavailable
                logger.warning(
                    "source %s gave no reports (%s)", name, type(error).__name__
                )
                found.append(SourceReports(name, None))
        return found
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def install(desk: Desk) -> None:
    """`GET /desk/matches/{id}` and its preview."""
    reviewer = Depends(desk.needs(Role.REVIEWER))
    service = desk.service

    @desk.router.get("/desk/matches/{match_id}")
    def match_page(
        match_id: str, request: Request, user: DeskUser = reviewer
    ) -> Response:
        number = whole_number(match_id, "match number")
        try:
            item = service.queue.get(number)
        except ReviewError as error:  # a page, not the API's JSON
            raise DeskError(str(error)) from None
        history = audit.events(service.engine, subject=f"match:{number}", limit=50)
        undoable = {
            d.match.id: d.until for d in service.queue.undoable(user.name, limit=50)
        }
        if user.may(Role.LEAD) and number not in undoable:
            until = service.queue.undo_until(number)
            if until is not None:
                undoable[number] = until
        return desk.page(
            request,
            "match.html",
            user=user,
            section="queue",
            item=item,
            why=explain(item, radius=service.config.radius),
            reports=reports_of(service.sources, item, timeout=REPORTS_TIMEOUT),
            shorten=short,
            history=history,
            has_preview=service.previews.has(number),
            keeping=service.previews.enabled,
            keep_hours=service.config.desk.keep_media_hours,
            catalog=item.origin is Origin.CATALOG,
            undo_until=undoable.get(number),
            decided=item.state in DECISIONS,
            here=f"/desk/matches/{number}",
        )

    @desk.router.get("/desk/matches/{match_id}/preview")
    def preview(match_id: str, _: DeskUser = reviewer) -> Response:
        number = whole_number(match_id, "match number")
        found = service.previews.get(number)
        if found is None:
            raise DeskError(
                f"match {number} has no preview: none is kept, or it has expired"
            )
        return Response(
            found.data,
            media_type=found.content_type,
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": "inline",
                "X-Content-Type-Options": "nosniff",
            },
        )

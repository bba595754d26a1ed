"""Our registry's platform API as a source: snapshot, change feed, feedback,
and other platforms' feedback on listed hashes, counted."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from reclaim.client import (
    RegistryClient,
    RegistryError,
    RegistryRefusal,
    RegistryUnavailable,
)
from reclaim.hashing import SignalType
from reclaim.index import ListRecord
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceError, SourceRejected, SourceUnavailable
from reclaim.matcher.records import Outcome, Page, Reports
from reclaim.matcher.source import failed

logger = logging.getLogger(__name__)

KINDS = {kind.value: kind for kind in SignalType}
#: The most hashes the registry answers in one feedback summary.
SUMMARY_BATCH = 100


class RegistrySource:
    """`GET snapshot`, `GET changes?cursor=` and `POST feedback` of a registry,
    through the one registry client (`reclaim.client`)."""

    def __init__(
        self, config: SourceConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        # One try a request: the sync loop retries on its own schedule and
        # keeps the last good list meanwhile.
        self.client = RegistryClient(
            config.url,
            api_key=config.api_key,
            timeout=config.timeout_seconds,
            attempts=1,
            transport=transport,
        )

    @property
    def name(self) -> str:
        """'reclaim' and the registry's address."""
        return f"reclaim registry at {self.config.url}"

    def pages(self, cursor: str | None) -> Iterator[Page]:
        """The snapshot when there is no cursor yet, else the changes after it."""
        if cursor is None:
            yield from _as_source_errors(self._snapshot(), "the snapshot")
        else:
            yield from _as_source_errors(self._changes(int(cursor)), "the change feed")

    def _snapshot(self) -> Iterator[Page]:
        size = self.config.page_size
        batch: list[ListRecord] = []
        seen = 0
        try:
            for item in self.client.snapshot(self.config.programs):
                if item.get("end"):
                    if int(item["count"]) != seen:
                        raise SourceUnavailable(
                            f"the snapshot held {seen} records but promised "
                            f"{item['count']}: it was cut; retrying"
                        )
                    yield Page(batch, str(int(item["cursor"])), True, True)
                    return
                seen += 1
                record = _record(item, self.config.name)
                if record is not None:
                    batch.append(record)
                if len(batch) >= size:
                    yield Page(batch, None, True, False)
                    batch = []
        except (ValueError, KeyError, TypeError):
            raise SourceUnavailable(
                "the snapshot had a line that is not a record: the stream was "
                "damaged; retrying"
            ) from None
        raise SourceUnavailable(
            "the snapshot ended without its closing line: it was cut; retrying"
        )

    def _changes(self, cursor: int) -> Iterator[Page]:
        while True:
            body = self.client.changes(
                self.config.programs, cursor=cursor, limit=self.config.page_size
            )
            try:
                name = self.config.name
                records = [
                    r
                    for r in (_record(item, name) for item in body["records"])
                    if r is not None
                ]
                cursor = int(body["cursor"])
                more = bool(body["has_more"])
            except (ValueError, KeyError, TypeError):
                raise SourceUnavailable(
                    "the change feed answered with something that is not a page "
                    "of records; retrying"
                ) from None
            yield Page(records, str(cursor))
            if not more:
                return

    def report(self, outcomes: Sequence[Outcome]) -> None:
        """POST the outcomes as platform feedback."""
        items = [
            {"type": o.kind.value, "value": o.value, "feedback": o.feedback}
            for o in outcomes
        ]
        try:
            self.client.feedback(items)
        except RegistryError as error:
            raise _source_error(error, "feedback") from None

    def reports(
        self, hashes: Sequence[tuple[SignalType | str, str]]
    ) -> Mapping[tuple[str, str], Reports]:
        """Other platforms' feedback on listed hashes, from the registry's
        feedback summary (100 hashes a request); unlisted hashes are absent."""
        asked = list(dict.fromkeys((str(kind), value) for kind, value in hashes))
        found: dict[tuple[str, str], Reports] = {}
        for start in range(0, len(asked), SUMMARY_BATCH):
            batch = asked[start : start + SUMMARY_BATCH]
            try:
                answer = self.client.feedback_summary(batch)
            except RegistryError as error:
                raise _reports_error(error) from None
            found.update(_summaries(batch, answer))
        return found

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()


def _as_source_errors(pages: Iterator[Page], what: str) -> Iterator[Page]:
    """`pages`, with the client's errors as the matcher's SourceErrors."""
    try:
        yield from pages
    except RegistryError as error:
        raise _source_error(error, what) from None


def _source_error(error: RegistryError, what: str) -> SourceError:
    if isinstance(error, RegistryRefusal):
        return failed(error.status, error.reason, what)
    if isinstance(error, RegistryUnavailable) and error.status is not None:
        return failed(error.status, "", what)
    return SourceUnavailable(
        f"{error}: the matcher keeps its last good list and retries"
    )


def _reports_error(error: RegistryError) -> SourceError:
    what = "the feedback summary"
    if isinstance(error, RegistryRefusal) and error.status == 404:
        return SourceRejected(
            f"the registry has no {what} (HTTP 404): it is older than this "
            "matcher; reports are unavailable until it is upgraded"
        )
    if isinstance(error, RegistryRefusal):
        return failed(error.status, error.reason, what)
    if isinstance(error, RegistryUnavailable) and error.status is not None:
        return failed(error.status, "", what)
    return SourceUnavailable(f"{error}: reports are unavailable; try again later")


def _summaries(
    batch: Sequence[tuple[str, str]], answer: dict[str, Any]
) -> dict[tuple[str, str], Reports]:
    """The listed hashes of one summary answer, keyed as asked."""
    try:
        results = answer["results"]
        if not isinstance(results, list) or len(results) != len(batch):
            raise ValueError("one result per hash asked")
        found: dict[tuple[str, str], Reports] = {}
        for key, item in zip(batch, results, strict=True):
            if item["listed"] is not True:
                continue
            counts = item["reports"]
            found[key] = Reports(
                match_found=int(counts["match_found"]),
                pending_review=int(counts["pending_review"]),
                blocked=int(counts["blocked"]),
                not_blocked=int(counts["not_blocked"]),
                quarantined=item["quarantined"] is True,
            )
    except (ValueError, KeyError, TypeError):
        raise SourceUnavailable(
            f"the feedback summary answered {len(batch)} hashes with something "
            "that is not one summary per hash: is the URL a reclaim registry?"
        ) from None
    return found


def _record(item: dict[str, Any], source: str) -> ListRecord | None:
    kind = KINDS.get(item["type"])
    if kind is None:
        # A hash type newer than this matcher: it cannot match it anyway.
        return None
    quality = item.get("quality")
    return ListRecord(
        kind=kind,
        value=str(item["value"]),
        program=str(item["program"]),
        active=item["status"] == "active",
        quality=int(quality) if quality is not None else None,
        source=source,
    )

"""Our registry's platform API as a source: snapshot, change feed, feedback."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
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
from reclaim.matcher.errors import SourceError, SourceUnavailable
from reclaim.matcher.records import Outcome, Page
from reclaim.matcher.source import failed

logger = logging.getLogger(__name__)

KINDS = {kind.value: kind for kind in SignalType}


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

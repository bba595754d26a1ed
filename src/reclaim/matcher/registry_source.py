"""Our registry's platform API as a source: snapshot, change feed, feedback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from reclaim.hashing import SignalType
from reclaim.index import ListRecord
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceUnavailable
from reclaim.matcher.records import Outcome, Page
from reclaim.matcher.source import check, unreachable

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/platform"
KINDS = {kind.value: kind for kind in SignalType}


class RegistrySource:
    """`GET snapshot`, `GET changes?cursor=` and `POST feedback` of a registry."""

    def __init__(
        self, config: SourceConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.http = httpx.Client(
            base_url=config.url,
            timeout=config.timeout_seconds,
            headers={"Authorization": f"Bearer {config.api_key}"},
            transport=transport,
        )

    @property
    def name(self) -> str:
        """'reclaim' and the registry's address."""
        return f"reclaim registry at {self.config.url}"

    def _params(self) -> list[tuple[str, str | int | float | bool | None]]:
        return [("program", p) for p in self.config.programs]

    def pages(self, cursor: str | None) -> Iterator[Page]:
        """The snapshot when there is no cursor yet, else the changes after it."""
        if cursor is None:
            yield from self._snapshot()
        else:
            yield from self._changes(int(cursor))

    def _snapshot(self) -> Iterator[Page]:
        what = "the snapshot"
        size = self.config.page_size
        try:
            with self.http.stream(
                "GET", f"{PREFIX}/snapshot", params=self._params()
            ) as response:
                check(response, what)
                batch: list[ListRecord] = []
                seen = 0
                for line in response.iter_lines():
                    if not line:
                        continue
                    item = json.loads(line)
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
        except httpx.HTTPError as error:
            raise unreachable(error, what) from None
        except (ValueError, KeyError, TypeError):
            raise SourceUnavailable(
                "the snapshot had a line that is not a record: the stream was "
                "damaged; retrying"
            ) from None
        raise SourceUnavailable(
            "the snapshot ended without its closing line: it was cut; retrying"
        )

    def _changes(self, cursor: int) -> Iterator[Page]:
        what = "the change feed"
        while True:
            params: list[tuple[str, str | int | float | bool | None]] = [
                *self._params(),
                ("cursor", cursor),
                ("limit", self.config.page_size),
            ]
            try:
                response = check(
                    self.http.get(f"{PREFIX}/changes", params=params), what
                )
                body = response.json()
                name = self.config.name
                records = [
                    r
                    for r in (_record(item, name) for item in body["records"])
                    if r is not None
                ]
                cursor = int(body["cursor"])
                more = bool(body["has_more"])
            except httpx.HTTPError as error:
                raise unreachable(error, what) from None
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
            check(
                self.http.post(f"{PREFIX}/feedback", json={"items": items}), "feedback"
            )
        except httpx.HTTPError as error:
            raise unreachable(error, "feedback") from None

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


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

"""A StopNCII-compatible API as a source: FetchHashes paging, SubmitFeedback.

StopNCII has no snapshot: the first sync fetches every record modified since
time 0 (withdrawn ones included, and dropped). The stored cursor is the last
page's `nextSetTimestamp`; restarting from it re-delivers at most that
second's records, which the store applies again harmlessly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from reclaim.hashing import SignalType
from reclaim.index import ListRecord
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceUnavailable
from reclaim.matcher.records import Outcome, Page, Reports
from reclaim.matcher.source import check, unreachable

KINDS = {"ImagePDQ": SignalType.PDQ, "VideoMD5": SignalType.MD5}
NAMES = {kind: name for name, kind in KINDS.items()}
FEEDBACK = {
    "match_found": "PendingReview",
    "pending_review": "PendingReview",
    "blocked": "Blocked",
    "not_blocked": "NotBlocked",
}


class StopnciiSource:
    """`FetchHashes` and `SubmitFeedback` with StopNCII's header keys."""

    def __init__(
        self, config: SourceConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.http = httpx.Client(
            base_url=config.url,
            timeout=config.timeout_seconds,
            headers={
                "Ocp-Apim-Subscription-Key": config.subscription_key,
                "x-functions-key": config.function_key,
            },
            transport=transport,
        )

    @property
    def name(self) -> str:
        """'stopncii' and the API's address."""
        return f"StopNCII-compatible API at {self.config.url}"

    def pages(self, cursor: str | None) -> Iterator[Page]:
        """Every record modified at or after the cursor's time (0 at first)."""
        start = int(cursor) if cursor is not None else 0
        token: str | None = None
        while True:
            params: dict[str, str | int] = {
                "startTimestamp": start,
                "pageSize": self.config.page_size,
            }
            if token:
                params["nextPageToken"] = token
            try:
                response = check(
                    self.http.get("/FetchHashes", params=params), "FetchHashes"
                )
                body = response.json()
                records = [
                    r for r in map(self._record, body.get("hashRecords") or []) if r
                ]
                token = body.get("nextPageToken")
                more = bool(body.get("hasMoreRecords"))
                next_set = int(body.get("nextSetTimestamp") or start)
            except httpx.HTTPError as error:
                raise unreachable(error, "FetchHashes") from None
            except (ValueError, KeyError, TypeError, AttributeError):
                raise SourceUnavailable(
                    "FetchHashes answered with something that is not a page of "
                    "hash records; retrying"
                ) from None
            yield Page(records, str(next_set))
            if not more or not token:
                return

    def _record(self, item: dict[str, Any]) -> ListRecord | None:
        kind = KINDS.get(str(item["signalType"]).rsplit(".", 1)[-1])
        if kind is None:
            return None
        return ListRecord(
            kind=kind,
            value=str(item["hashValue"]).strip().lower(),
            program=self.config.program,
            active=item.get("hashStatus") == "Active",
            source=self.config.name,
        )

    def report(self, outcomes: Sequence[Outcome]) -> None:
        """SubmitFeedback for the PDQ and MD5 outcomes (StopNCII has no vPDQ)."""
        entries = [
            {
                "signalType": NAMES[o.kind],
                "hashValue": o.value,
                "feedbackValue": FEEDBACK[o.feedback],
                "tags": [],
            }
            for o in outcomes
            if o.kind in NAMES
        ]
        if not entries:
            return
        try:
            check(
                self.http.post("/SubmitFeedback", json={"hashFeedbacks": entries}),
                "SubmitFeedback",
            )
        except httpx.HTTPError as error:
            raise unreachable(error, "SubmitFeedback") from None

    def reports(
        self, hashes: Sequence[tuple[SignalType | str, str]]
    ) -> Mapping[tuple[str, str], Reports]:
        """Always empty: StopNCII has no summary of other platforms' feedback.

        It sends platforms' feedback (`CSPFeedbacks`) only inside the records
        FetchHashes returns, and this source does not keep it (it reads a
        record's hash and status only), so there is nothing to count here.
        """
        return {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

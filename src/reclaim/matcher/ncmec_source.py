"""NCMEC's Hash Sharing API v2 (Take It Down) as a source: windows, tombstones, votes.

NCMEC serves the *entries* updated in a time window `[from, to]`, paged by a
relative `next` link, and not in time order: only a window fetched to its
last page can become the checkpoint (as python-threatexchange's NCMEC
exchange does). The cursor is therefore the end of the last exhausted window
(Unix seconds); pages inside a window carry the window's start, so a cut
window is fetched again from its beginning, which applies harmlessly twice.
Windows shrink when the first page suggests many entries, and grow again
after small ones, so a restart never re-fetches more than about
`WINDOW_ENTRIES`.

An entry (member id, entry id) lists its image's `pdq` as PDQ and its
video's `md5` as MD5; other fingerprints (sha1, pdna, ...) are not used.
Each page restates its entries in full, so an updated entry replaces what it
listed and a tombstone (`deletedImage`, `deletedVideo`) takes it away.

Feedback is per entry and fingerprint type: `blocked` is an affirmative vote,
`not_blocked` a negative one with the reason that best says "not a match"
(from `GET v2/feedback/{TYPE}/reasons`); `match_found` and `pending_review`
send nothing, as NCMEC has no such votes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import quote

import httpx

from reclaim.hashing import SignalType
from reclaim.index import ListRecord
from reclaim.matcher import ncmec_wire
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceRejected, SourceUnavailable
from reclaim.matcher.ncmec_wire import EntriesPage, Update
from reclaim.matcher.records import Outcome, Page, Reports
from reclaim.matcher.source import check, unreachable

logger = logging.getLogger(__name__)

#: (media, fingerprint) -> our hash type, and the hash's form.
FINGERPRINTS = {
    ("image", "pdq"): (SignalType.PDQ, re.compile(r"[0-9a-f]{64}")),
    ("video", "md5"): (SignalType.MD5, re.compile(r"[0-9a-f]{32}")),
}
#: Our hash types as NCMEC's fingerprint types (feedback URLs).
TYPE_NAMES = {SignalType.PDQ: "PDQ", SignalType.MD5: "MD5"}
#: Reason names that best say "a reviewer found it was not a match", best first.
NOT_A_MATCH = (
    "not the reported",
    "not a match",
    "does not match",
    "false positive",
    "not removed",
    "not",
)
#: The most bytes one answer may have.
MAX_ANSWER = 64 * 1024 * 1024
#: Seconds behind the clock a fetch ends, so an entry being written now is
#: not missed by a window that has just closed.
SETTLE_SECONDS = 5


class NcmecSource:
    """`GET v2/entries` windows and `PUT v2/entries/.../feedback`, with Basic auth."""

    #: About the most entries one window (and so one re-fetch) should hold.
    WINDOW_ENTRIES = 50_000
    #: Seconds behind the clock a fetch ends (see `SETTLE_SECONDS`).
    settle_seconds = SETTLE_SECONDS

    def __init__(
        self, config: SourceConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.http = httpx.Client(
            base_url=config.url + "/",
            timeout=config.timeout_seconds,
            auth=httpx.BasicAuth(config.user, config.password),
            transport=transport,
        )
        self._reasons: dict[str, str] = {}

    @property
    def name(self) -> str:
        """'NCMEC' and the API's address (never the user or password)."""
        return f"NCMEC hash-sharing API at {self.config.url}"

    def pages(self, cursor: str | None) -> Iterator[Page]:
        """Every entry updated since the cursor's time (the config's `start` at
        first), window by window."""
        start = int(cursor) if cursor is not None else self.config.start
        end = int(time.time()) - self.settle_seconds
        duration = max(end - start, 1)
        small = 0
        while start < end:
            window_end = min(end, start + duration)
            first = self._first_page(start, window_end)
            if (
                first.next is not None
                and duration > 1
                and first.estimated_entries() > self.WINDOW_ENTRIES
            ):
                duration = max(1, duration // 4)
                small = 0
                logger.info(
                    "NCMEC source %s: window too full, narrowing to %d s",
                    self.config.name,
                    duration,
                )
                continue
            fetched = 0
            page: EntriesPage | None = first
            while page is not None:
                fetched += len(page.updates)
                done = page.next is None
                # Only a window fetched to its end moves the cursor.
                yield self._page(page, str(window_end if done else start))
                page = None if done else self._next_page(page.next)
            start = window_end
            if fetched < self.WINDOW_ENTRIES // 4:
                small += 1
                if small >= 2:
                    duration *= 2
                    small = 0

    def _first_page(self, start: int, end: int) -> EntriesPage:
        params: dict[str, str | int] = {
            "from": ncmec_wire.format_time(start),
            "to": ncmec_wire.format_time(end),
        }
        if self.config.page_size:
            params["size"] = self.config.page_size
        return self._entries("v2/entries", params)

    def _next_page(self, link: str | None) -> EntriesPage:
        assert link is not None  # only called while there is a next page
        return self._entries(link.lstrip("/"), None)

    def _entries(self, path: str, params: dict[str, str | int] | None) -> EntriesPage:
        what = "the entries request"
        try:
            with self.http.stream("GET", path, params=params) as response:
                self._check(response, what)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_ANSWER:
                        raise SourceUnavailable(
                            f"the NCMEC API's answer to {what} is over "
                            f"{MAX_ANSWER // 2**20} MiB: refused; lower the "
                            "source's page_size"
                        )
        except httpx.HTTPError as error:
            raise unreachable(error, what) from None
        return ncmec_wire.entries_page(ncmec_wire.parse(bytes(body), what))

    def _page(self, page: EntriesPage, cursor: str) -> Page:
        latest: dict[str, Update] = {}
        for update in page.updates:
            latest.pop(update.key, None)  # the last word on an entry wins
            latest[update.key] = update
        records: list[ListRecord] = []
        unreadable = 0
        for update in latest.values():
            if update.deleted:
                continue
            for fingerprint, value in update.fingerprints.items():
                known = FINGERPRINTS.get((update.media, fingerprint))
                if known is None:
                    continue
                kind, form = known
                if not form.fullmatch(value):
                    unreadable += 1
                    continue
                records.append(
                    ListRecord(
                        kind,
                        value,
                        self.config.program,
                        source=self.config.name,
                        entry=update.key,
                    )
                )
        if unreadable:
            logger.warning(
                "NCMEC source %s: %d fingerprints were not valid hashes and were "
                "skipped",
                self.config.name,
                unreadable,
            )
        return Page(records, cursor, entries=tuple(latest))

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise SourceRejected(
                f"the NCMEC API refused the user and password for {what} (HTTP "
                f"{response.status_code}): they may have been changed or revoked; "
                f"put valid ones in the config's source {self.config.name!r}"
            )
        if response.status_code >= 400:
            response.read()
        check(response, what)

    def report(self, outcomes: Sequence[Outcome]) -> None:
        """A vote per entry and fingerprint for each `blocked` or `not_blocked`."""
        for outcome in outcomes:
            kind = TYPE_NAMES.get(outcome.kind)
            if kind is None or outcome.feedback not in ("blocked", "not_blocked"):
                continue
            if not outcome.entries:
                continue  # no entry lists it any more: nothing to vote on
            if outcome.feedback == "blocked":
                body = ncmec_wire.feedback_body(affirmative=True)
            else:
                reason = self._reason(kind)
                body = ncmec_wire.feedback_body(affirmative=False, reason=reason)
            for entry in outcome.entries:
                self._vote(entry, kind, body)

    def _vote(self, entry: str, kind: str, body: bytes) -> None:
        member, _, number = entry.partition("-")
        path = f"v2/entries/{quote(member, safe='')}/{quote(number, safe='')}/{kind}"
        try:
            response = self.http.put(
                f"{path}/feedback",
                content=body,
                headers={"Content-Type": "application/xml; charset=utf-8"},
            )
        except httpx.HTTPError as error:
            raise unreachable(error, "feedback") from None
        status = response.status_code
        if status == 404:
            # The entry was deleted upstream since the match: nothing to vote on.
            logger.info(
                "NCMEC source %s: an entry voted on is gone; vote dropped",
                self.config.name,
            )
            return
        if 400 <= status < 500 and status not in (401, 403, 408, 429):
            # Refused for good (this vote, not the key): retrying would hold up
            # every later vote of the batch behind it.
            logger.warning(
                "NCMEC source %s refused a vote (HTTP %d); vote dropped",
                self.config.name,
                status,
            )
            return
        self._check(response, "feedback")

    def _reason(self, kind: str) -> str:
        """The negative-feedback reason guid that best says 'not a match'."""
        if kind not in self._reasons:
            what = "the feedback reasons request"
            try:
                response = self.http.get(f"v2/feedback/{kind}/reasons")
            except httpx.HTTPError as error:
                raise unreachable(error, what) from None
            self._check(response, what)
            offered = ncmec_wire.reasons(ncmec_wire.parse(response.content, what))
            if not offered:
                raise SourceUnavailable(
                    f"the NCMEC API offers no negative-feedback reason for {kind}: "
                    "not_blocked feedback waits until it does"
                )
            self._reasons[kind] = _best_reason(offered)
        return self._reasons[kind]

    def reports(
        self, hashes: Sequence[tuple[SignalType | str, str]]
    ) -> Mapping[tuple[str, str], Reports]:
        """Always empty: this source reads NCMEC's entries for their
        fingerprints only, not other members' votes, so it has nothing to
        count."""
        return {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


def _best_reason(offered: list[tuple[str, str]]) -> str:
    for words in NOT_A_MATCH:
        for guid, name in offered:
            if words in name.lower():
                return guid
    return offered[0][0]

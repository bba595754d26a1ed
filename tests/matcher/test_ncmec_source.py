"""The NCMEC source against NCMEC-shaped XML (a third party: `MockTransport`).

The pages follow NCMEC's documented examples (as python-threatexchange's
tests/data.py has them): namespaced `<queryResult>`, tombstones, a relative
`next` link with start/size/max. The registry's own NCMEC view is exercised
end to end in test_ncmec_registry.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from reclaim.hashing import PdqHash, SignalType
from reclaim.matcher.config import MatcherConfig, SourceConfig
from reclaim.matcher.errors import SourceRejected, SourceUnavailable
from reclaim.matcher.ncmec_source import NcmecSource
from reclaim.matcher.records import Outcome
from reclaim.matcher.service import MatcherService, Query

PDQ = "f" * 32 + "0" * 32
PDQ2 = "0f" * 32
MD5 = "b1" * 16
START = 1_700_000_000
CONFIG = SourceConfig(
    "ncmec",
    "https://ncmec.test/hashsharing",
    user="esp",
    password="secret-password",
    name="n",
    program="minor",
    start=START,
    page_size=0,  # as the config gives it: NCMEC chooses
)
NS = 'xmlns="https://hashsharing.ncmec.org/hashsharing/v2"'
NEXT = (
    "/v2/entries?from=2023-11-14T22%3A13%3A20Z&amp;to=2030-01-01T00%3A00%3A00Z"
    "&amp;start=2001&amp;size=1000&amp;max=3000"
)

FIRST = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult {NS}>
    <images count="2" maxTimestamp="2023-11-15T15:10:00Z">
        <image>
            <member id="42">Example Member</member>
            <timestamp>2023-11-15T15:00:00Z</timestamp>
            <id>image1</id>
            <classification>A1</classification>
            <fingerprints>
                <md5>a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1</md5>
                <sha1>a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1</sha1>
                <pdq>{PDQ.upper()}</pdq>
                <pdna>a1a1...</pdna>
            </fingerprints>
        </image>
        <image>
            <member id="43">Other Member</member>
            <timestamp>2023-11-15T15:00:00Z</timestamp>
            <id>image2</id>
            <fingerprints><pdq>{PDQ2}</pdq></fingerprints>
        </image>
    </images>
    <videos count="1" maxTimestamp="2023-11-15T15:20:00Z">
        <video>
            <member id="42">Example Member</member>
            <timestamp>2023-11-15T15:00:00Z</timestamp>
            <id>video1</id>
            <fingerprints>
                <md5>{MD5}</md5>
                <tmk-pdqf rel="self" href="/v2/entries/1/fingerprints/TMK_PDQF"/>
            </fingerprints>
        </video>
    </videos>
    <paging><next>{NEXT}</next></paging>
</queryResult>"""

SECOND = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult {NS}>
    <images count="1" maxTimestamp="2023-11-16T15:10:00Z">
        <deletedImage>
            <member id="43">Other Member</member>
            <id>image2</id>
            <timestamp>2023-11-16T15:10:00Z</timestamp>
        </deletedImage>
    </images>
    <videos count="0"/>
</queryResult>"""

EMPTY = f'<queryResult {NS}><images count="0"/><videos count="0"/></queryResult>'

REASONS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<availableFeedbackReasons {NS}>
    <reason guid="g-1" name="Poor quality" type="Pdq"/>
    <reason guid="g-2" name="Not the reported content" type="Pdq"/>
</availableFeedbackReasons>"""

Handler = Callable[[httpx.Request], httpx.Response]


def xml(text: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=text.encode())


def feed(*answers: str | bytes | int) -> tuple[Handler, list[httpx.Request]]:
    """Answers for successive entries requests (text, bytes or an HTTP status)."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if queue else EMPTY
        if isinstance(answer, int):
            return httpx.Response(answer, text="no")
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
        return xml(answer)

    return handler, seen


def source(handler: Handler, config: SourceConfig = CONFIG) -> NcmecSource:
    return NcmecSource(config, transport=httpx.MockTransport(handler))


def test_a_window_paged_to_its_end() -> None:
    handler, seen = feed(FIRST, SECOND)
    pages = list(source(handler).pages(None))
    assert len(pages) == 2
    first, second = pages
    # The first page is inside the window: the cursor stays at its start.
    assert first.cursor == str(START)
    assert int(second.cursor or 0) > START
    assert first.entries == ("42-image1", "43-image2", "42-video1")
    assert [(r.kind, r.value, r.entry, r.source, r.program) for r in first.records] == [
        (SignalType.PDQ, PDQ, "42-image1", "n", "minor"),
        (SignalType.PDQ, PDQ2, "43-image2", "n", "minor"),
        (SignalType.MD5, MD5, "42-video1", "n", "minor"),
    ]
    # The tombstone restates image2 with nothing in it.
    assert second.entries == ("43-image2",) and not second.records
    request = seen[0]
    assert request.url.path == "/hashsharing/v2/entries"
    assert request.url.params["from"] == "2023-11-14T22:13:20Z"
    assert "size" not in request.url.params
    assert request.headers["authorization"].startswith("Basic ")
    # The next page follows the relative link under the configured base.
    follow = seen[1]
    assert follow.url.path == "/hashsharing/v2/entries"
    assert parse_qs(follow.url.query.decode())["start"] == ["2001"]


def test_an_unfinished_window_does_not_move_the_cursor(tmp_path: Path) -> None:
    handler, _ = feed(FIRST, 503)
    config = MatcherConfig.from_mapping(
        {
            "sources": [
                {
                    "name": "n",
                    "kind": "ncmec",
                    "url": CONFIG.url,
                    "user": "esp",
                    "password": "secret-password",
                    "start": START,
                }
            ],
            "store": {"url": f"sqlite:///{tmp_path}/m.db"},
        }
    )
    service = MatcherService(config, sources={"n": source(handler)})
    try:
        status = service.sync_once()
        assert status.result == "unavailable"
        # The first page is applied, but the cursor is still the window's start.
        assert service.store.state().cursor == str(START)
        found = service.find([Query(pdq=(PdqHash.parse(PDQ),))])[0]
        assert [(m.source, m.value) for m in found] == [("n", PDQ)]
        # Fetched again from the start, then to the end: the tombstone lands.
        service.sources["n"] = source(feed(FIRST, SECOND)[0])
        service.syncers["n"].source = service.sources["n"]
        assert service.sync_once().result == "ok"
        assert int(service.store.state().cursor or 0) > START
        assert service.find([Query(pdq=(PdqHash.parse(PDQ2),))])[0] == []
        assert service.status()["sources"]["n"]["listed"] == {
            "pdq": 1,
            "md5": 1,
            "vpdq": 0,
        }
        assert "secret-password" not in str(service.status())
    finally:
        service.close()


def test_a_full_window_is_narrowed_before_it_is_read() -> None:
    handler, seen = feed(FIRST, EMPTY, EMPTY, EMPTY)
    ncmec = source(handler)
    ncmec.WINDOW_ENTRIES = 100  # the first page promises about 1000
    pages = list(ncmec.pages(None))
    # The full first answer was dropped, not applied; narrower windows follow.
    assert all(not p.records for p in pages)
    spans = [
        (r.url.params["from"], r.url.params["to"])
        for r in seen
        if "from" in r.url.params
    ]
    assert len(spans) >= 3 and spans[1][0] == spans[0][0]
    assert spans[1][1] < spans[0][1]


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (401, SourceRejected, "refused the user and password"),
        (403, SourceRejected, "source 'n'"),
        (500, SourceUnavailable, "HTTP 500"),
        ("<queryResult", SourceUnavailable, "not well-formed XML"),
        ("<status/>", SourceUnavailable, "not <queryResult>"),
        (
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><queryResult/>',
            SourceUnavailable,
            "DOCTYPE",
        ),
        (  # UTF-16 without a byte-order mark hides a DOCTYPE from a search
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><queryResult/>'.encode("utf-16-le"),
            SourceUnavailable,
            "not UTF-8",
        ),
        (
            f"<queryResult {NS}><paging><next>https://evil.example/v2/entries"
            "</next></paging></queryResult>",
            SourceUnavailable,
            "not a relative /v2/entries link",
        ),
        (
            f"<queryResult {NS}><images><image><id>x</id></image></images>"
            "</queryResult>",
            SourceUnavailable,
            "no numeric id",
        ),
    ],
)
def test_failures(
    answer: str | bytes | int, error: type[Exception], message: str
) -> None:
    handler, _ = feed(answer)
    with pytest.raises(error, match=message) as raised:
        list(source(handler).pages(None))
    assert "secret-password" not in str(raised.value)


def test_feedback_votes_per_entry_and_type() -> None:
    puts: list[tuple[str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.path == "/hashsharing/v2/feedback/PDQ/reasons"
            return xml(REASONS)
        assert request.headers["content-type"].startswith("application/xml")
        if "gone" in request.url.path:
            return httpx.Response(404)
        puts.append((request.url.path, request.content))
        return xml(f"<submissionResult {NS}/>")

    ncmec = source(handler)
    ncmec.report(
        [
            Outcome(SignalType.PDQ, PDQ, "blocked", ("42-image1", "43-gone")),
            Outcome(SignalType.MD5, MD5, "not_blocked", ()),  # no entry lists it
            Outcome(SignalType.PDQ, PDQ2, "pending_review", ("43-image2",)),
            Outcome(SignalType.PDQ, PDQ2, "not_blocked", ("43-image2",)),
            Outcome(SignalType.VPDQ, "x", "blocked", ("1-v",)),
        ]
    )
    assert [path for path, _ in puts] == [
        "/hashsharing/v2/entries/42/image1/PDQ/feedback",
        "/hashsharing/v2/entries/43/image2/PDQ/feedback",
    ]
    assert b"<affirmative" in puts[0][1] and b"feedbackSubmission" in puts[0][1]
    assert b"<negative><reasonIds><guid>g-2</guid>" in puts[1][1]


def test_feedback_refused() -> None:
    ncmec = source(lambda request: httpx.Response(401))
    with pytest.raises(SourceRejected, match="user and password"):
        ncmec.report([Outcome(SignalType.PDQ, PDQ, "blocked", ("42-image1",))])


def test_a_vote_refused_for_good_does_not_hold_up_the_others() -> None:
    puts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        puts.append(request.url.path)
        if "bad" in request.url.path:
            return httpx.Response(422)
        return xml(f"<submissionResult {NS}/>")

    source(handler).report(
        [
            Outcome(SignalType.PDQ, PDQ, "blocked", ("42-bad",)),
            Outcome(SignalType.PDQ, PDQ2, "blocked", ("43-image2",)),
        ]
    )
    assert puts == [
        "/hashsharing/v2/entries/42/bad/PDQ/feedback",
        "/hashsharing/v2/entries/43/image2/PDQ/feedback",
    ]

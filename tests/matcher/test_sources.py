"""Pinned wire payloads for both sources, and HTTP failures mapped to errors.

The registry's own server is exercised in test_sync.py; here the payloads
are fixed text, so a change of shape on either side fails loudly. StopNCII
is a third party: its pages come from `httpx.MockTransport`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from reclaim.hashing import SignalType
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceRejected, SourceUnavailable
from reclaim.matcher.records import Outcome
from reclaim.matcher.registry_source import RegistrySource
from reclaim.matcher.stopncii_source import StopnciiSource

PDQ = "f" * 32 + "0" * 32
REGISTRY = SourceConfig("reclaim", "http://registry", api_key="k", page_size=2)
STOPNCII = SourceConfig(
    "stopncii", "http://stopncii", subscription_key="s", function_key="f"
)


def transport(
    handler: Callable[[httpx.Request], httpx.Response],
) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_registry_pages_pinned() -> None:
    lines = [
        {"type": "pdq", "value": PDQ, "quality": 90, "program": "adult",
         "status": "active", "case_count": 1, "quarantined": False, "change": 1,
         "updated_at": "2026-01-01T00:00:00Z"},
        {"type": "md5", "value": "a" * 32, "quality": None, "program": "minor",
         "status": "active", "case_count": 2, "quarantined": True, "change": 2,
         "updated_at": "2026-01-01T00:00:00Z"},
        {"type": "future", "value": "x", "quality": None, "program": "adult",
         "status": "active", "case_count": 1, "quarantined": False, "change": 3,
         "updated_at": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    ndjson = "".join(json.dumps(line) + "\n" for line in lines)
    ndjson += json.dumps({"end": True, "cursor": 3, "count": 3}) + "\n"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k"
        if request.url.path.endswith("/snapshot"):
            return httpx.Response(200, text=ndjson)
        assert request.url.params["cursor"] == "3"
        withdrawn = {**lines[0], "status": "withdrawn", "change": 4}
        return httpx.Response(
            200,
            json={"ok": True, "records": [withdrawn], "cursor": 4, "has_more": False},
        )

    source = RegistrySource(REGISTRY, transport=transport(handler))
    pages = list(source.pages(None))
    assert [p.final for p in pages] == [False, True] and pages[-1].cursor == "3"
    records = [r for p in pages for r in p.records]
    assert [(r.kind, r.program, r.quality) for r in records] == [
        (SignalType.PDQ, "adult", 90),
        (SignalType.MD5, "minor", None),
    ]
    (change,) = list(source.pages("3"))
    assert change.cursor == "4" and change.records[0].active is False


@pytest.mark.parametrize(
    "body",
    [
        '{"type": "pdq"}\n',  # not a record
        json.dumps({"end": True, "cursor": 3, "count": 5}) + "\n",  # count mismatch
        "",  # no closing line
    ],
)
def test_a_damaged_snapshot_is_unavailable(body: str) -> None:
    source = RegistrySource(
        REGISTRY, transport=transport(lambda _: httpx.Response(200, text=body))
    )
    with pytest.raises(SourceUnavailable):
        list(source.pages(None))


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, SourceRejected, "revoked"),
        (403, SourceRejected, "revoked"),
        (404, SourceRejected, "check the config"),
        (429, SourceUnavailable, "overloaded"),
        (502, SourceUnavailable, "overloaded"),
    ],
)
def test_http_failures(status: int, error: type[Exception], words: str) -> None:
    answer = httpx.Response(status, json={"ok": False, "error": "no"})
    source = RegistrySource(REGISTRY, transport=transport(lambda _: answer))
    with pytest.raises(error, match=words):
        list(source.pages("1"))
    with pytest.raises(error):
        source.report([Outcome(SignalType.PDQ, PDQ, "blocked")])


def test_a_dead_connection_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    source = RegistrySource(REGISTRY, transport=transport(handler))
    with pytest.raises(SourceUnavailable, match="could not be reached"):
        list(source.pages(None))


def test_stopncii_paging_and_feedback_pinned() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["ocp-apim-subscription-key"] == "s"
        assert request.headers["x-functions-key"] == "f"
        if request.method == "POST":
            sent.append(json.loads(request.content))
            return httpx.Response(200, json={"count": 1})
        params = request.url.params
        assert params["startTimestamp"] == "0"
        if "nextPageToken" not in params:
            return httpx.Response(
                200,
                json={
                    "count": 2,
                    "nextPageToken": "t1",
                    "hasMoreRecords": True,
                    "nextSetTimestamp": 1700000000,
                    "hashRecords": [
                        {"lastModtimestamp": 1700000000, "signalType": "ImagePDQ",
                         "hashValue": PDQ.upper(), "hashStatus": "Active",
                         "caseNumbers": {}, "CSPFeedbacks": []},
                        {"lastModtimestamp": 1700000000, "signalType": "Unknown",
                         "hashValue": "x", "hashStatus": "Active",
                         "caseNumbers": {}, "CSPFeedbacks": []},
                    ],
                },
            )  # fmt: skip
        assert params["nextPageToken"] == "t1"
        return httpx.Response(
            200,
            json={
                "count": 1,
                "nextPageToken": None,
                "hasMoreRecords": False,
                "nextSetTimestamp": 1700000005,
                "hashRecords": [
                    {"lastModtimestamp": 1700000005, "signalType": "VideoMD5",
                     "hashValue": "b" * 32, "hashStatus": "Deleted",
                     "caseNumbers": {}, "CSPFeedbacks": []},
                ],
            },
        )  # fmt: skip

    source = StopnciiSource(STOPNCII, transport=transport(handler))
    first, second = source.pages(None)
    assert first.cursor == "1700000000" and second.cursor == "1700000005"
    assert [(r.kind, r.value, r.active) for r in [*first.records, *second.records]] == [
        (SignalType.PDQ, PDQ, True),
        (SignalType.MD5, "b" * 32, False),
    ]
    source.report(
        [
            Outcome(SignalType.PDQ, PDQ, "blocked"),
            Outcome(SignalType.VPDQ, "0,100," + PDQ + ",0.000", "blocked"),
        ]
    )
    assert sent == [
        {
            "hashFeedbacks": [
                {
                    "signalType": "ImagePDQ",
                    "hashValue": PDQ,
                    "feedbackValue": "Blocked",
                    "tags": [],
                }
            ]
        }
    ]
    source.report([Outcome(SignalType.VPDQ, "x", "blocked")])  # nothing to send
    assert len(sent) == 1

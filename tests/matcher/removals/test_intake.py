"""The public intake: it only commits and answers (the search for copies is
the removals loop's, retried when it fails), it is limited per hour for
everyone together, it refuses hashes that would match everything, and the
example in docs/desk.md is accepted as written."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.matcher.desk.conftest import Desk
from tests.matcher.removals.conftest import EMAIL, NAME, body

DOCS = Path(__file__).parents[3] / "docs" / "desk.md"
SEARCHES = "reclaim.matcher.removals.requests"
ERROR_SHAPE = {"ok", "error", "errors", "status", "code"}


def test_a_failed_search_fails_neither_the_intake_nor_is_lost(
    removals_desk: Callable[..., Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = removals_desk()
    removals = desk.service.removals

    def broken(public_id: str) -> int:
        raise RuntimeError("the catalog is unreachable")

    monkeypatch.setattr(removals.finder, "search", broken)
    reply = desk.client().post("/v1/removal-requests", json=body())
    assert reply.status_code == 201, reply.text  # stored: the receipt is given
    number = reply.json()["id"]
    assert reply.json()["receipt"]
    assert removals.search_owed() == 0  # failed: still owed, a minute on
    assert removals.store.owed() == []
    later = datetime.now(UTC) + timedelta(minutes=1, seconds=1)
    assert removals.store.owed(now=later) == [number]
    monkeypatch.undo()
    assert removals.search_owed(now=later) == 1  # a later wake does it
    assert removals.store.owed(now=later + timedelta(days=1)) == []


def test_requests_whose_search_keeps_failing_hold_up_no_newer_ones(
    removals_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk = removals_desk()
    removals = desk.service.removals
    search = removals.finder.search
    failing: set[str] = set()

    def flaky(public_id: str) -> int:
        if public_id in failing:
            raise RuntimeError("this request's search always fails")
        return search(public_id)

    monkeypatch.setattr(removals.finder, "search", flaky)
    client = desk.client()
    for _ in range(3):
        failing.add(client.post("/v1/removal-requests", json=body()).json()["id"])
    fresh = client.post("/v1/removal-requests", json=body()).json()["id"]
    now = datetime.now(UTC)
    caplog.set_level(logging.INFO, logger=SEARCHES)
    with caplog.at_level(logging.INFO, logger=SEARCHES):
        assert removals.search_owed(limit=2, now=now) == 0  # the two oldest fail
        assert removals.search_owed(limit=2, now=now) == 1  # the newer one is done
    assert removals.store.owed(now=now + timedelta(days=1)) == sorted(
        failing, key=lambda n: removals.store.get(n).received_at
    )
    # Failures only (INFO lines of the intake may be captured too, when an
    # earlier test in this worker left the reclaim logger at INFO).
    first = [failure for failure in caplog.records if _failed(failure)]
    assert len(first) == 3 and all(r.exc_info for r in first)  # the trace, once
    assert fresh not in {r.getMessage().split()[5] for r in first}

    caplog.clear()
    with caplog.at_level(
        logging.INFO, logger=SEARCHES
    ):  # tried again later: one line each, no trace
        assert removals.search_owed(now=now + timedelta(minutes=2)) == 0
        assert removals.search_owed(now=now + timedelta(minutes=2)) == 0  # waits
    again = [failure for failure in caplog.records if _failed(failure)]
    assert len(again) == 3
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in again)
    assert "2 times in a row" in again[0].getMessage()
    # The wait doubles (2 minutes): not due 3 minutes on, due 4 minutes on.
    assert removals.store.owed(now=now + timedelta(minutes=3)) == []
    assert len(removals.store.owed(now=now + timedelta(minutes=4))) == 3


def test_the_removals_loop_searches_within_seconds_of_a_request(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    service = desk.service
    service.start()
    try:
        time.sleep(1.0)  # the loop's first round is over: it waits (60 s)
        number = desk.client().post("/v1/removal-requests", json=body()).json()["id"]
        until = time.monotonic() + 10
        while service.removals.store.owed() and time.monotonic() < until:
            time.sleep(0.1)
        assert service.removals.store.owed() == []
        assert service.removals.store.get(number).state.value == "received"
    finally:
        service.stop()


def test_intake_is_limited_per_hour_for_everyone_together(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk(removals={"max_per_hour": 2})
    first, second = desk.client(), desk.client()
    assert first.post("/v1/removal-requests", json=body()).status_code == 201
    assert second.post("/v1/removal-requests", json=body()).status_code == 201
    refused = first.post("/v1/removal-requests", json=body())
    assert refused.status_code == 429
    assert set(refused.json()) == ERROR_SHAPE and refused.json()["status"] == 429
    assert "max_per_hour" in refused.json()["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    form = second.post(
        "/removal",
        data={
            "locations": "https://social.example/p/post-9",
            "statement": "not consented",
            "statement_confirmed": "yes",
            "email": EMAIL,
            "signature": NAME,
            "signature_confirmed": "yes",
        },
    )
    assert form.status_code == 429 and "send it again in an hour" in form.text
    assert EMAIL in form.text  # what was typed is kept
    assert int(form.headers["Retry-After"]) >= 1
    listed = desk.client().get("/v1/removal-requests").json()
    assert listed["total"] == 2


def test_the_hourly_limit_is_described_as_what_it_is() -> None:
    """One count for everyone: the docs say one sender can use it up, that
    the proxy should limit per address, and that it can be passed by a few;
    no docstring promises "at most"."""
    docs = " ".join(DOCS.read_text().split())
    assert "one sender can use it all up" in docs
    assert "limit requests per address at their reverse proxy" in docs
    assert "without logging the addresses" in docs
    assert "can pass it by a few" in docs
    assert "At most `[removals] max_per_hour`" not in docs
    removals = Path(__file__).parents[3] / "src" / "reclaim" / "matcher" / "removals"
    for name in ("filing.py", "api.py"):
        text = " ".join((removals / name).read_text().split())
        assert "At most `[removals] max_per_hour`" not in text, name
        assert "a few" in text, name


@pytest.mark.parametrize(
    ("hashes", "expected"),
    [
        ([{"type": "pdq", "value": "0" * 64}], "0 of 256 bits set"),
        ([{"type": "pdq", "value": "f" * 64}], "256 of 256 bits set"),
        ([{"type": "pdq", "value": "1" + "0" * 63}], "1 of 256 bits set"),
        (
            [{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}],
            "empty file",
        ),
        (
            [{"type": "md5", "value": f"{n:032x}"} for n in range(1, 22)],
            "hashes",
        ),
    ],
)
def test_hashes_that_would_match_everything_are_refused(
    removals_desk: Callable[..., Desk], hashes: list[dict[str, str]], expected: str
) -> None:
    desk = removals_desk()
    reply = desk.client().post("/v1/removal-requests", json=body(hashes=hashes))
    assert reply.status_code == 422, reply.text
    answer = reply.json()
    assert set(answer) == ERROR_SHAPE
    assert expected in json.dumps(answer)
    assert desk.service.removals.store.listed().total == 0


def documented_example() -> dict[str, Any]:
    """The JSON body of the curl example in docs/desk.md's removal section."""
    text = DOCS.read_text()
    section = text[text.index("## Legal removal requests") : text.index("## Transp")]
    found = re.search(r"-d '(\{.*?\})'\n```", section, re.DOTALL)
    assert found, "docs/desk.md's removal section has no curl example"
    example: dict[str, Any] = json.loads(found.group(1))
    return example


def test_the_documented_example_is_accepted_as_written(
    removals_desk: Callable[..., Desk],
) -> None:
    example = documented_example()
    reply = removals_desk().client().post("/v1/removal-requests", json=example)
    assert reply.status_code == 201, reply.text
    assert reply.json()["validity"]["complete"] is True
    assert reply.json()["state"] == "received"


def _failed(record: logging.LogRecord) -> bool:
    """Whether a log record is a search's failure (a warning or worse)."""
    return record.name == SEARCHES and record.levelno >= logging.WARNING

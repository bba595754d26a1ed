"""What the public removal pages promise is what the code does: personal data
deleted `[removals] retention_days` after closing (the sentence follows the
setting, and the purge keeps to it), a person checks a request before
anything is removed, and no IP address is recorded; and the desk says new
uploads are watched only when the request has hashes to watch them with."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from reclaim.matcher.app import serving_options
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.removals import clock
from reclaim.matcher.tables import metadata
from tests.matcher.desk.conftest import Desk
from tests.matcher.removals.conftest import EMAIL, NAME, STATEMENT, body

RETENTION = re.compile(r'<p class="hint" id="retention">([^<]+)</p>')
NUMBER = re.compile(r"(RR-[A-Z2-9]{10})")
TOKEN = re.compile(r'name="submission" value="([^"]+)"')


def send(desk: Desk, **changes: str) -> str:
    """Fill the public form as a person would; the request's number."""
    public = desk.client()
    token = TOKEN.search(public.get("/removal").text)
    assert token is not None
    fields = {
        "submission": token.group(1),
        "role": "depicted_person",
        "locations": "https://social.example/p/post-1",
        "statement": STATEMENT,
        "statement_confirmed": "yes",
        "email": EMAIL,
        "signature": NAME,
        "signature_confirmed": "yes",
        **changes,
    }
    sent = public.post("/removal", data=fields)
    assert sent.status_code == 200, sent.text
    number = NUMBER.search(sent.text)
    assert number is not None
    return number.group(1)


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (30, "and delete them 30 days after it is closed."),
        (1, "and delete them 1 day after it is closed."),
        (0, "and delete them when it is closed."),
    ],
)
def test_the_form_says_when_personal_data_is_deleted_and_it_is_then(
    removals_desk: Callable[..., Desk], days: int, said: str
) -> None:
    desk = removals_desk(removals={"retention_days": days})
    sentence = RETENTION.search(desk.client().get("/removal").text)
    assert sentence is not None and said in sentence.group(1)
    # A request missing its signature is closed (invalid) as it arrives.
    number = send(desk, signature="", signature_confirmed="")
    store = desk.service.removals.store
    closed = store.get(number).closed_at
    assert closed is not None
    if days:
        before = closed + timedelta(days=days) - timedelta(minutes=1)
        assert clock.purge(store, now=before) == 0
        assert store.get(number, personal=True).personal is not None
    assert clock.purge(store, now=closed + timedelta(days=days)) == 1
    assert store.get(number, personal=True).personal is None


def test_a_person_checks_a_request_before_anything_is_removed(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    text = desk.client().get("/removal").text
    assert "A person on our team checks your request first." in text
    removals = desk.service.removals
    number = send(desk)
    removals.search_owed()
    removals.tick()
    actions = [e.action for e in removals.store.get(number).events]
    assert "takedown_asked" not in actions and "copy_removed" not in actions
    assert removals.store.get(number).copies[0].reference == "post-1"
    removals.store.decide(number, "valid", reason="checked", actor="lee")
    actions = [e.action for e in removals.store.get(number).events]
    assert "takedown_asked" in actions


def test_the_service_records_no_ip_address_as_the_form_says(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    assert "We do not keep your IP address with your request." in (
        desk.client().get("/removal").text
    )
    options = serving_options(desk.service.config)
    assert options["access_log"] is False and options["log_config"] is None
    number = send(desk)
    desk.service.removals.search_owed()
    assert desk.url.startswith("http://127.0.0.1:")
    with desk.service.engine.connect() as connection:
        rows = [
            [str(value) for value in row]
            for table in metadata.sorted_tables
            if table.name.startswith("removal_")
            or table.name in ("desk_audit", "outbox")
            for row in connection.execute(select(table))
        ]
    stored = json.dumps(rows)
    assert number in stored  # the rows were read
    assert "127.0.0.1" not in stored


def test_the_desk_says_uploads_are_watched_only_when_they_are(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    lead = desk.sign_in("lee", Role.LEAD)
    # No location resolves and no hashes: nothing to watch uploads with.
    number = send(desk, locations="https://elsewhere.example/x")
    desk.service.removals.search_owed()
    page = lead.get(f"/desk/removals/{number}").text
    assert "No copies found yet." in page
    assert "no hashes yet, so new uploads are not checked" in page
    assert "New uploads are checked against" not in page
    assert desk.service.removals.store.open_hashes() == []
    # With a hash sent, uploads are watched, as the page then says.
    watched = desk.client().post(
        "/v1/removal-requests",
        json=body(
            content=[{"location": "https://elsewhere.example/y"}],
            hashes=[{"type": "md5", "value": "0" * 31 + "1"}],
        ),
    )
    other = watched.json()["id"]
    desk.service.removals.search_owed()
    page = lead.get(f"/desk/removals/{other}").text
    assert "New uploads are checked against this request's hashes" in page
    assert [h[0] for h in desk.service.removals.store.open_hashes()] == [other]


RECEIPT = re.compile(r'<p class="receipt" id="receipt">([^<]+)</p>')
LOOKS = "We look for copies of the content on our platform."


def filed_by_form(desk: Desk, **changes: str) -> tuple[str, str, str]:
    """Send the public form: the request's number, receipt and receipt page."""
    public = desk.client()
    token = TOKEN.search(public.get("/removal").text)
    assert token is not None
    fields = {
        "submission": token.group(1),
        "locations": "https://social.example/p/post-1",
        "statement": STATEMENT,
        "statement_confirmed": "yes",
        "email": EMAIL,
        "signature": NAME,
        "signature_confirmed": "yes",
        **changes,
    }
    sent = public.post("/removal", data=fields)
    number, receipt = NUMBER.search(sent.text), RECEIPT.search(sent.text)
    assert number and receipt, sent.text
    return number.group(1), receipt.group(1), sent.text


def status_of(desk: Desk, number: str, receipt: str) -> str:
    page = desk.client().post(
        "/removal/status", data={"number": number, "receipt": receipt}
    )
    assert page.status_code == 200, page.text
    return " ".join(page.text.split())


def test_an_invalid_request_shows_the_reason_recorded(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    missing, receipt, _ = filed_by_form(desk, email="")
    shown = status_of(desk, missing, receipt)
    assert "Not accepted: a part the law asks for is missing" in shown
    complete, receipt, _ = filed_by_form(desk)
    reason = "the link shows a landscape, not a person"
    desk.service.removals.store.decide(complete, "invalid", reason=reason, actor="lead")
    shown = status_of(desk, complete, receipt)
    assert f"Not accepted: {reason}" in shown
    assert "a part the law asks for is missing" not in shown
    validity = desk.service.removals.store.get(complete).validity()
    assert validity["summary"] == f"invalid: {reason}"


def test_the_pages_say_copies_are_looked_for_only_where_they_can_be(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()  # reference_patterns set
    assert LOOKS in desk.client().get("/removal").text
    _, _, receipt_page = filed_by_form(desk)
    assert LOOKS in receipt_page and "the copies we found" in receipt_page
    # A location no pattern resolves: nothing to look for copies of.
    _, _, receipt_page = filed_by_form(desk, locations="my old profile picture")
    assert LOOKS not in receipt_page and "the copies we found" not in receipt_page
    assert "If it is valid, we remove the content." in receipt_page

    bare = removals_desk(removals={"reference_patterns": []}, catalog={})
    form_page = bare.client().get("/removal").text
    assert LOOKS not in form_page and "the copies we found" not in form_page
    assert "If it is valid, we remove the content." in form_page
    _, _, receipt_page = filed_by_form(bare)
    assert LOOKS not in receipt_page

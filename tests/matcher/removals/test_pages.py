"""The desk's removal pages and the public form, over HTTP: who sees what,
the buttons and decisions, the export, and the receipt check."""

from __future__ import annotations

import re
from collections.abc import Callable

from reclaim.matcher.desk.accounts import Role
from tests.matcher.desk.conftest import Desk, csrf_of
from tests.matcher.removals.conftest import (
    EMAIL,
    NAME,
    PERSONAL,
    STATEMENT,
    body,
)

RECEIPT = re.compile(r'<p class="receipt" id="receipt">([^<]+)</p>')
NUMBER = re.compile(r"(RR-[A-Z2-9]{10})")


def test_reviewers_see_the_request_without_personal_data_and_leads_with_it(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    number = desk.client().post("/v1/removal-requests", json=body()).json()["id"]
    reviewer = desk.sign_in("rae", Role.REVIEWER)
    listing = reviewer.get("/desk/removals")
    assert listing.status_code == 200 and number in listing.text
    page = reviewer.get(f"/desk/removals/{number}")
    assert page.status_code == 200
    assert (
        "hidden: lead only" in page.text and "48 h" in page.text or "47 h" in page.text
    )
    for secret in PERSONAL:
        assert secret not in page.text
    assert "export.json" not in page.text
    assert reviewer.get(f"/desk/removals/{number}/export.json").status_code == 403
    lead = desk.sign_in("lee", Role.LEAD)
    page = lead.get(f"/desk/removals/{number}")
    assert NAME in page.text and EMAIL in page.text and STATEMENT in page.text
    export = lead.get(f"/desk/removals/{number}/export.json")
    assert export.status_code == 200
    assert export.json()["request"]["id"] == number
    for secret in PERSONAL:
        assert secret not in export.text
    assert reviewer.get("/desk/removals/RR-AAAAAAAAAA").status_code == 404


def test_copies_are_marked_removed_and_leads_decide_with_csrf(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    number = desk.client().post("/v1/removal-requests", json=body()).json()["id"]
    reviewer = desk.sign_in("rae", Role.REVIEWER)
    page = reviewer.get(f"/desk/removals/{number}")
    assert "Mark" in page.text and "Record decision" not in page.text
    forged = reviewer.post(
        f"/desk/removals/{number}/removed", data={"reference": "post-1", "csrf": "x"}
    )
    assert forged.status_code == 400
    done = reviewer.post(
        f"/desk/removals/{number}/removed",
        data={"reference": "post-1", "csrf": csrf_of(page)},
    )
    assert done.status_code == 303
    shown = desk.service.removals.store.get(number)
    assert shown.state.value == "removed"
    assert shown.copies[0].removed_by == "rae"
    assert shown.events[-1].action == "closed" and shown.events[-1].actor == "rae"
    # A lead decides another request; a reviewer may not.
    other = desk.client().post("/v1/removal-requests", json=body(contact=None))
    other_number = other.json()["id"]
    denied = reviewer.post(
        f"/desk/removals/{other_number}/decide",
        data={"action": "valid", "reason": "x", "csrf": csrf_of(page)},
    )
    assert denied.status_code == 403
    lead = desk.sign_in("lee", Role.LEAD)
    page = lead.get(f"/desk/removals/{other_number}")
    assert "Record decision" in page.text
    made = lead.post(
        f"/desk/removals/{other_number}/decide",
        data={"action": "valid", "reason": "reached by post", "csrf": csrf_of(page)},
    )
    assert made.status_code == 303
    assert desk.service.removals.store.get(other_number).state.value == "valid"


def test_the_public_form_files_a_request_and_shows_the_receipt_once(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    public = desk.client()
    form = public.get("/removal")
    assert form.status_code == 200 and "48 hours" in form.text
    sent = public.post(
        "/removal",
        data={
            "role": "depicted_person",
            "locations": "https://social.example/p/post-9\n\n",
            "statement": STATEMENT,
            "statement_confirmed": "yes",
            "email": EMAIL,
            "signature": NAME,
            "signature_confirmed": "yes",
        },
    )
    assert sent.status_code == 200, sent.text
    receipt = RECEIPT.search(sent.text)
    number = NUMBER.search(sent.text)
    assert receipt and number
    filed = desk.service.removals.store.get(number.group(1), personal=True)
    assert filed.state.value == "received" and filed.personal is not None
    assert filed.personal.email == EMAIL
    assert filed.events[0].detail["via"] == "form"
    # The status check: the right pair, then a wrong receipt and an unknown
    # number, refused alike.
    checked = public.post(
        "/removal/status",
        data={"number": number.group(1), "receipt": receipt.group(1)},
    )
    assert checked.status_code == 200 and "our team is checking it" in checked.text
    assert "post-9" not in checked.text and EMAIL not in checked.text
    wrong = public.post(
        "/removal/status", data={"number": number.group(1), "receipt": "guess"}
    )
    unknown = public.post(
        "/removal/status", data={"number": "RR-AAAAAAAAAA", "receipt": "guess"}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.text.replace(number.group(1), "") == unknown.text.replace(
        "RR-AAAAAAAAAA", ""
    )
    # A form with too many links is shown again, with what was typed.
    many = "\n".join(f"https://social.example/p/p{n}" for n in range(51))
    again = public.post("/removal", data={"locations": many, "email": EMAIL})
    assert again.status_code == 400 and EMAIL in again.text


def test_the_public_form_can_be_turned_off(removals_desk: Callable[..., Desk]) -> None:
    desk = removals_desk(removals={"public_form": False})
    assert desk.client().get("/removal").status_code == 404
    assert desk.client().post("/removal/status", data={}).status_code == 404


def test_mark_removed_refuses_a_reference_longer_than_the_api_takes(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    number = desk.client().post("/v1/removal-requests", json=body()).json()["id"]
    reviewer = desk.sign_in("rae", Role.REVIEWER)
    token = csrf_of(reviewer.get(f"/desk/removals/{number}"))
    for _ in range(2):  # the second post too: refused, never a 500
        refused = reviewer.post(
            f"/desk/removals/{number}/removed",
            data={"reference": "r" * 250, "csrf": token},
        )
        assert refused.status_code == 400
        assert "250 characters: expected at most 200" in refused.text
    copies = desk.service.removals.store.get(number).copies
    assert [c.reference for c in copies] == ["post-1"]

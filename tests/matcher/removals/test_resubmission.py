"""A removal request sent twice is filed once: the public form's one-time
token (a reload of the receipt page sends the form again), the API's
Idempotency-Key (and in test_store: one token sent from many threads at once)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from reclaim.matcher.removals import tables
from tests.matcher.desk.conftest import Desk
from tests.matcher.removals.conftest import EMAIL, NAME, STATEMENT, body

TOKEN = re.compile(r'<input type="hidden" name="submission" value="([^"]+)"')
RECEIPT = re.compile(r'<p class="receipt" id="receipt">([^<]+)</p>')
NUMBER = re.compile(r"(RR-[A-Z2-9]{10})")


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(tables.requests)))


def form(token: str, **changes: str) -> dict[str, str]:
    """The public form's fields, complete, with its token."""
    return {
        "submission": token,
        "role": "depicted_person",
        "locations": "https://social.example/p/post-9",
        "statement": STATEMENT,
        "statement_confirmed": "yes",
        "email": EMAIL,
        "signature": NAME,
        "signature_confirmed": "yes",
        **changes,
    }


def test_the_same_form_sent_again_files_nothing_and_never_shows_the_receipt(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    engine = desk.service.engine
    public = desk.client()
    page = public.get("/removal").text
    token = TOKEN.search(page)
    assert token is not None and len(token.group(1)) >= 30
    other = TOKEN.search(public.get("/removal").text)
    assert other is not None and other.group(1) != token.group(1)  # one per form

    first = public.post("/removal", data=form(token.group(1)))
    assert first.status_code == 200, first.text
    receipt, number = RECEIPT.search(first.text), NUMBER.search(first.text)
    assert receipt and number
    again = public.post("/removal", data=form(token.group(1)))
    assert again.status_code == 200
    assert "We already received this request" in again.text
    assert number.group(1) in again.text
    filed = desk.service.removals.store.get(number.group(1))
    assert filed.deadline.strftime("%d %B %Y, %H:%M") in again.text
    assert "We showed your receipt when you first sent" in again.text
    assert receipt.group(1) not in again.text and 'id="receipt"' not in again.text
    assert count(engine) == 1
    assert [e.action for e in filed.events].count("received") == 1
    # Only the token's SHA-256 is kept, never the token.
    with engine.connect() as connection:
        kept = connection.scalar(select(tables.requests.c.submission_digest))
    assert kept == hashlib.sha256(token.group(1).encode()).hexdigest()

    # Another form's token files another request.
    second = public.post("/removal", data=form(other.group(1)))
    assert RECEIPT.search(second.text) and count(engine) == 2


def test_a_form_refused_keeps_its_token_and_files_once_when_corrected(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    public = desk.client()
    token = TOKEN.search(public.get("/removal").text)
    assert token is not None
    many = "\n".join(f"https://social.example/p/p{n}" for n in range(51))
    refused = public.post("/removal", data=form(token.group(1), locations=many))
    assert refused.status_code == 400
    assert f'name="submission" value="{token.group(1)}"' in refused.text
    assert count(desk.service.engine) == 0
    sent = public.post("/removal", data=form(token.group(1)))
    assert RECEIPT.search(sent.text)
    repeat = public.post("/removal", data=form(token.group(1)))
    assert "We already received this request" in repeat.text
    assert count(desk.service.engine) == 1
    # A form with no token, or a malformed one, is filed as sent.
    for token_sent in ("", "<script>"):
        plain = public.post("/removal", data=form(token_sent))
        assert RECEIPT.search(plain.text), plain.text
    assert count(desk.service.engine) == 3


def test_the_api_files_a_request_once_per_idempotency_key(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    client = desk.client()
    key = {"Idempotency-Key": "6f1c2a54-6a0e-4b8c-9d4e-2f7b1c0a9e11"}
    first = client.post("/v1/removal-requests", json=body(), headers=key)
    assert first.status_code == 201 and first.json()["receipt"]
    again = client.post("/v1/removal-requests", json=body(), headers=key)
    assert again.status_code == 200, again.text
    answer = again.json()
    assert answer["repeat"] is True and "receipt" not in answer
    assert answer["id"] == first.json()["id"]
    assert answer["deadline"] == first.json()["deadline"]
    assert count(desk.service.engine) == 1
    unkeyed = client.post("/v1/removal-requests", json=body())
    assert unkeyed.status_code == 201 and count(desk.service.engine) == 2
    short = client.post(
        "/v1/removal-requests", json=body(), headers={"Idempotency-Key": "short"}
    )
    assert short.status_code == 422
    assert short.json()["ok"] is False and short.json()["status"] == 422
    assert count(desk.service.engine) == 2


def test_a_form_changed_and_sent_again_with_its_old_token_is_not_a_repeat(
    removals_desk: Callable[..., Desk],
) -> None:
    """Back, fix the form, send it again: the browser sends the old token
    with a new body. It is not "already received": the form comes back as
    typed, with a new token and a plain word that the earlier one was sent."""
    desk = removals_desk()
    public = desk.client()
    page = public.get("/removal").text
    assert 'name="submission" value="' in page and 'autocomplete="off">' in page
    token = TOKEN.search(page)
    assert token is not None
    first = public.post("/removal", data=form(token.group(1), email=""))
    number = NUMBER.search(first.text)
    assert RECEIPT.search(first.text) and number  # filed, invalid: no contact
    fixed = public.post("/removal", data=form(token.group(1)))
    assert fixed.status_code == 409
    assert "We already received this request" not in fixed.text
    assert "This form was already sent" in fixed.text
    assert number.group(1) in fixed.text
    assert EMAIL in fixed.text  # what was typed is still there
    fresh = TOKEN.search(fixed.text)
    assert fresh is not None and fresh.group(1) != token.group(1)
    assert count(desk.service.engine) == 1
    second = public.post("/removal", data=form(fresh.group(1)))
    assert RECEIPT.search(second.text) and count(desk.service.engine) == 2
    # The same body with its token is still a repeat.
    repeat = public.post("/removal", data=form(fresh.group(1)))
    assert "We already received this request" in repeat.text


def test_the_api_refuses_an_idempotency_key_sent_with_another_body(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    client = desk.client()
    key = {"Idempotency-Key": "0d9b8f8e-1c55-4f0e-8a3b-6c2d5e4f7a10"}
    first = client.post("/v1/removal-requests", json=body(), headers=key)
    assert first.status_code == 201
    changed = body(contact={"email": "other@mail.example"})
    reused = client.post("/v1/removal-requests", json=changed, headers=key)
    assert reused.status_code == 422, reused.text
    answer = reused.json()
    assert set(answer) == {"ok", "error", "errors", "status", "code"}
    assert answer["ok"] is False and answer["status"] == 422
    assert "Idempotency-Key" in answer["error"]
    assert "other@mail.example" not in reused.text
    assert count(desk.service.engine) == 1
    same = client.post("/v1/removal-requests", json=body(), headers=key)
    assert same.status_code == 200 and same.json()["repeat"] is True

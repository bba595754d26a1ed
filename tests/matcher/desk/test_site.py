"""Signing in to the desk: sessions, roles, CSRF, and the API token beside it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reclaim.matcher.desk import site
from reclaim.matcher.desk.accounts import Accounts, Role
from tests.matcher.desk.conftest import PASSWORD, Desk, csrf_of


def test_pages_need_sign_in_and_a_session_signs_out(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk()
    with desk.client() as anonymous:
        reply = anonymous.get("/desk/audit?actor=x")
        assert reply.status_code == 303
        location = reply.headers["location"]
        assert location == "/desk/login?next=%2Fdesk%2Faudit%3Factor%3Dx"
        login = anonymous.get("/desk/login")
        assert login.status_code == 200 and 'type="password"' in login.text
        assert "script-src 'self'" in login.headers["content-security-policy"]
    ana = desk.sign_in("ana", Role.LEAD)
    cookie = ana.cookies["reclaim_desk"]
    # The store keeps only a digest of the cookie.
    with desk.service.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT digest FROM desk_sessions").all()
    assert [row[0] for row in stored] != [cookie] and len(stored) == 1
    page = ana.get("/desk")
    assert page.status_code == 200 and "ana (lead)" in page.text
    assert ana.get("/desk/audit").status_code == 200
    out = ana.post("/desk/logout", data={"csrf": csrf_of(page)})
    assert out.status_code == 303
    ana.cookies.set("reclaim_desk", cookie)  # a copy of the old cookie
    assert ana.get("/desk").status_code == 303


def test_wrong_passwords_are_refused_then_locked(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk()
    desk.account("bo")
    with desk.client() as client:
        for _ in range(5):
            reply = client.post("/desk/login", data={"name": "bo", "password": "nope"})
            assert reply.status_code == 401
            assert "do not match an active account" in reply.text
        unknown = client.post(
            "/desk/login", data={"name": "nobody", "password": PASSWORD}
        )
        assert "do not match an active account" in unknown.text
        locked = client.post("/desk/login", data={"name": "bo", "password": PASSWORD})
        assert locked.status_code == 401 and "paused" in locked.text


def test_roles_limit_pages(serve_desk: Callable[..., Desk]) -> None:
    desk = serve_desk()
    cy = desk.sign_in("cy", Role.REVIEWER)
    refused = cy.get("/desk/audit")
    assert refused.status_code == 403 and "needs the lead role" in refused.text
    assert cy.get("/desk/accounts").status_code == 403
    admin = desk.sign_in("dee", Role.ADMIN)
    page = admin.get("/desk/accounts")
    assert page.status_code == 200
    added = admin.post(
        "/desk/accounts",
        data={
            "csrf": csrf_of(page),
            "action": "add",
            "name": "eve",
            "password": PASSWORD,
            "role": "lead",
        },
    )
    assert added.status_code == 303
    assert desk.sign_in_existing("eve").get("/desk/audit").status_code == 200
    trail = admin.get("/desk/audit").text
    assert "account.add" in trail and "account:eve" in trail


def test_forms_need_this_sessions_token_and_origin(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk()
    admin = desk.sign_in("fay", Role.ADMIN)
    token = csrf_of(admin.get("/desk/accounts"))
    form = {"action": "add", "name": "gil", "password": PASSWORD, "role": "lead"}
    missing = admin.post("/desk/accounts", data=form)
    assert missing.status_code == 400 and "out of date" in missing.text
    foreign = admin.post(
        "/desk/accounts",
        data={**form, "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 400 and "another site" in foreign.text
    assert [a.name for a in desk.service_accounts()] == ["fay"]


def test_the_api_token_guards_the_api_not_the_desk(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(serve={"token": "t" * 32})
    with desk.client() as client:
        assert client.get("/v1/review").status_code == 401
        assert client.get("/desk/login").status_code == 200
        assert client.get("/desk").status_code == 303  # to sign-in, not 401
        assert client.get("/desk/static/desk.css").status_code == 200
    signed = desk.sign_in("hal", Role.REVIEWER)
    assert signed.get("/desk").status_code == 200
    assert signed.get("/v1/review").status_code == 401  # a session is not a token


def test_only_the_desk_and_the_public_form_are_open_without_the_token() -> None:
    from reclaim.matcher.access import is_open

    for path, method in (
        ("/desk", "GET"),
        ("/desk/login", "POST"),
        ("/removal", "GET"),
        ("/removal/status", "POST"),
        ("/v1/removal-requests", "POST"),
        ("/healthz", "GET"),
    ):
        assert is_open(path, method), path
    for path, method in (
        ("/deskx", "GET"),
        ("/removals", "GET"),
        ("/removal-export", "GET"),
        ("/v1/removal-requests", "GET"),
        ("/v1/removal-requests/RR-ABCDEFGHJK", "GET"),
        ("/v1/removal-requests/RR-ABCDEFGHJK/actions", "POST"),
        ("/status", "GET"),
    ):
        assert not is_open(path, method), path


def test_sign_in_checks_passwords_off_the_event_loop_a_few_at_a_time(
    serve_desk: Callable[..., Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site, "SIGN_INS_AT_ONCE", 1)
    desk = serve_desk()
    desk.account("ida")
    entered, release = threading.Event(), threading.Event()
    on_loop: list[bool] = []
    real = Accounts.authenticate

    def slow(self: Accounts, name: str, password: str) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        entered.set()
        release.wait(timeout=30)
        return real(self, name, password)

    monkeypatch.setattr(Accounts, "authenticate", slow)
    form = {"name": "ida", "password": PASSWORD, "next": "/desk"}
    first: list[httpx.Response] = []
    with desk.client() as waiting, desk.client() as other:
        worker = threading.Thread(
            target=lambda: first.append(waiting.post("/desk/login", data=form))
        )
        worker.start()
        try:
            assert entered.wait(timeout=30)
            # The loop is free while the check runs, and a second sign-in is
            # told to come back instead of waiting for a thread.
            assert other.get("/desk/login").status_code == 200
            busy = other.post("/desk/login", data=form)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
            assert "try again in a few seconds" in busy.text
        finally:
            release.set()
            worker.join(timeout=30)
        assert first[0].status_code == 303
        assert other.post("/desk/login", data=form).status_code == 303
    assert on_loop == [False, False]


def test_forms_behind_a_trusted_tls_proxy_are_same_origin(
    serve_desk: Callable[..., Desk],
) -> None:
    """TLS ends at a proxy: the browser's Origin is https, the matcher hears
    http. The proxy's X-Forwarded-Proto counts only from a trusted proxy."""
    for trusted, accepted in ((["127.0.0.1"], True), (["10.0.0.0/8"], False)):
        desk = serve_desk(serve={"trusted_proxies": trusted})
        host = desk.url.removeprefix("http://")
        with desk.client() as client:
            reply = client.post(
                "/desk/login",
                data={"name": "nobody", "password": "wrong password here"},
                headers={"Origin": f"https://{host}", "X-Forwarded-Proto": "https"},
            )
        if accepted:  # judged as a sign-in (and refused as one)
            assert reply.status_code == 401, reply.text
        else:
            assert reply.status_code == 400 and "another site" in reply.text


def test_what_anyone_may_send_without_the_token_is_small(
    serve_desk: Callable[..., Desk],
) -> None:
    from reclaim.matcher.app import PUBLIC_BODY_BYTES

    desk = serve_desk()
    big = b"x" * (PUBLIC_BODY_BYTES + 1)
    with desk.client() as client:
        for path in ("/v1/removal-requests", "/desk/login", "/removal"):
            reply = client.post(
                path, content=big, headers={"Content-Type": "application/json"}
            )
            assert reply.status_code == 413, path
            assert (
                reply.json()["ok"] is False and "far smaller" in reply.json()["error"]
            )
        # The API's own limit (uploads) still applies elsewhere.
        upload = client.post("/v1/match/media", content=big)
        assert upload.status_code != 413

"""Cross-site browser posts and non-JSON bodies are refused before counting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reclaim.api.origin import is_own_origin
from tests.api.people import case_body, open_case, registry_app, send
from tests.api.test_cases_api import assert_error_shape

WRONG = {"pin": "0000-0000-0000-0000"}


def test_a_hostile_page_cannot_lock_the_person_out(tmp_path: Path) -> None:
    """The probe: 30 cross-site `text/plain` posts from the person's browser
    (each answered 422) used up their allowance for an hour. Now they are
    refused (403) and count for nothing."""
    with registry_app(tmp_path, pin_rate=(3, 3600), case_rate=(2, 3600)) as (app, _):
        number, pin = open_case(app)
        url = f"/api/v1/cases/{number}/status"
        hostile = [
            {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
            {"origin": "https://evil.example"},  # an older browser
            {"origin": "null"},  # a sandboxed frame
            {"sec-fetch-site": "same-site", "origin": "https://blog.registry.test"},
        ]
        kinds = [{"content-type": "text/plain"}, {}]  # {}: a Blob without a type
        for headers in hostile * 4:
            for kind in kinds:
                for path in (url, "/api/v1/cases"):
                    refused = send(
                        app, "POST", path, content="not json", headers=headers | kind
                    )
                    payload = assert_error_shape(refused, 403)
                    assert "another" in str(payload["error"])
        # The person's own page still has all its allowance.
        own = {"sec-fetch-site": "same-origin", "origin": "http://registry.test"}
        for _ in range(3):
            answer = send(app, "POST", url, json={"pin": pin}, headers=own)
            assert answer.status_code == 200
        assert_error_shape(send(app, "POST", url, json={"pin": pin}, headers=own), 429)
        assert send(app, "POST", "/api/v1/cases", json=case_body()).status_code == 201


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", json.dumps(WRONG)),
        ("application/x-www-form-urlencoded", "pin=0000"),
        ("multipart/form-data; boundary=x", "--x--"),
        ("", json.dumps(WRONG)),
    ],
)
def test_only_json_bodies_are_read(
    tmp_path: Path, content_type: str, body: str
) -> None:
    with registry_app(tmp_path, pin_rate=(1, 3600)) as (app, _):
        number, pin = open_case(app)
        url = f"/api/v1/cases/{number}/status"
        headers = {"content-type": content_type}
        for _ in range(3):
            refused = send(app, "POST", url, content=body, headers=headers)
            assert "expected application/json" in str(
                assert_error_shape(refused, 415)["error"]
            )
        assert send(app, "POST", url, json={"pin": pin}).status_code == 200


def test_malformed_bodies_do_not_count(tmp_path: Path) -> None:
    with registry_app(tmp_path, pin_rate=(1, 3600), case_rate=(1, 3600)) as (app, _):
        number, pin = open_case(app, address="192.0.2.1")
        url = f"/api/v1/cases/{number}/status"
        for bad in ({}, {"pin": 7}, {"pin": "x", "extra": 1}, []):
            assert_error_shape(send(app, "POST", url, json=bad), 422)
            assert_error_shape(send(app, "POST", "/api/v1/cases", json=bad), 422)
        broken = send(
            app, "POST", url, content="{", headers={"content-type": "application/json"}
        )
        assert_error_shape(broken, 422)
        assert send(app, "POST", url, json={"pin": pin}).status_code == 200
        assert send(app, "POST", "/api/v1/cases", json=case_body()).status_code == 201


def test_clients_that_are_not_browsers_are_unaffected(tmp_path: Path) -> None:
    with registry_app(tmp_path) as (app, _):
        number, pin = open_case(app)
        for headers in (
            {},
            {"origin": "http://registry.test"},
            {"sec-fetch-site": "none"},
            {"content-type": "application/json; charset=utf-8"},
        ):
            answer = send(
                app,
                "POST",
                f"/api/v1/cases/{number}/status",
                content=json.dumps({"pin": pin}),
                headers={"content-type": "application/json", **headers},
            )
            assert answer.status_code == 200, (headers, answer.text)


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "own"),
    [
        ("https://registry.example", "registry.example", "http", True),
        ("https://registry.example", "registry.example:443", "http", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "http", True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", "http", False),
        ("https://registry.example.evil", "registry.example", "https", False),
        ("https://evil.example", "registry.example", "https", False),
        ("null", "registry.example", "https", False),
        ("file://", "registry.example", "https", False),
        ("https://[::1", "registry.example", "https", False),
    ],
)
def test_own_origin(origin: str, host: str, scheme: str, own: bool) -> None:
    assert is_own_origin(origin, host, scheme) is own

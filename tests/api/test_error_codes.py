"""Every error carries a stable machine code the page can translate."""

from __future__ import annotations

import httpx

from reclaim.api.errors import _CODE
from reclaim.strict import STATUS_CODES
from tests.api.test_cases_api import assert_error_shape, body


def code_of(response: httpx.Response, status: int) -> str:
    payload = assert_error_shape(response, status)
    code = payload["code"]
    assert isinstance(code, str)
    return code


def test_a_wrong_pin_and_an_unknown_case_share_one_code(client: httpx.Client) -> None:
    number = client.post("/api/v1/cases", json=body()).json()["case_number"]
    wrong = client.post(
        f"/api/v1/cases/{number}/status", json={"pin": "AAAA-AAAA-AAAA-AAAA"}
    )
    unknown = client.post("/api/v1/cases/7KQ-29M-XA4/status", json={"pin": "AAAA"})
    mistyped = client.post("/api/v1/cases/not-a-case/status", json={"pin": "AAAA"})
    assert code_of(wrong, 404) == "case_not_found"
    assert wrong.json() == unknown.json() == mistyped.json()


def test_a_withdrawn_case_is_case_closed(client: httpx.Client) -> None:
    created = client.post("/api/v1/cases", json=body()).json()
    url = f"/api/v1/cases/{created['case_number']}"
    client.post(f"{url}/withdraw", json={"pin": created["pin"]})
    again = client.post(f"{url}/withdraw", json={"pin": created["pin"]})
    assert code_of(again, 409) == "case_closed"
    more = client.post(f"{url}/hashes", json={"pin": created["pin"], **body(1)})
    assert more.json()["code"] in {"case_closed", "invalid_request"}


def test_transport_errors_have_their_status_codes(client: httpx.Client) -> None:
    assert code_of(client.get("/api/v1/nope"), 404) == "not_found"
    assert code_of(client.post("/api/v1/cases", json={"x": 1}), 422) == (
        "invalid_request"
    )
    refused = client.post(
        "/api/v1/cases", json=body(), headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert code_of(refused, 403) == "forbidden"
    typed = client.post(
        "/api/v1/cases", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert code_of(typed, 415) == "unsupported_media_type"
    huge = client.post(
        "/api/v1/cases",
        content=b"x" * 3_000_000,
        headers={"Content-Type": "application/json"},
    )
    assert code_of(huge, 413) == "too_large"


def test_codes_are_snake_case_and_distinct() -> None:
    codes = list(STATUS_CODES.values()) + list(_CODE.values())
    assert len(codes) == len(set(codes))
    assert all(code.replace("_", "").isalpha() and code.islower() for code in codes)

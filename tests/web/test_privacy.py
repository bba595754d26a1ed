"""Proof that the page sends nothing but hashes, and only to this site."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from tests.web.test_app_flow import choose_program_and_files, wait_until_hashed


def test_only_hashes_leave_the_page(
    page_factory, media: dict[str, Path], app_url: str
) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    requests: list[dict[str, object]] = []
    page.on(
        "request",
        lambda r: requests.append(
            {"url": r.url, "method": r.method, "body": r.post_data_buffer or b""}
        ),
    )
    page.goto("/")
    files = [media["jpeg"], media["heic"], media["png"], media["video"]]
    choose_program_and_files(page, files)
    wait_until_hashed(page, 4)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    pin = page.text_content("#case-pin")
    page.fill("#status-pin", pin or "")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")

    origin = urlparse(app_url).netloc
    contents = [f.read_bytes() for f in files]
    names = [f.name for f in files] + [f.stem for f in files]
    posts = [r for r in requests if r["method"] != "GET"]
    assert len(posts) == 2  # create the case, read its status
    for request in requests:
        url = urlparse(str(request["url"]))
        assert url.scheme in {"http", "blob", "data"}, request["url"]
        if url.scheme == "http":
            assert url.netloc == origin, f"request to another host: {request['url']}"
        for name in names:
            assert name not in str(request["url"])
    for request in posts:
        body = bytes(request["body"])  # type: ignore[arg-type]
        assert len(body) < 2048, f"a {len(body)}-byte body is more than hashes"
        for content in contents:
            for start in range(0, len(content) - 64, max(1, len(content) // 50)):
                assert content[start : start + 64] not in body
        for name in names:
            assert name.encode() not in body
        payload = json.loads(body)
        assert set(payload) <= {"program", "hashes", "pin"}
        for item in payload.get("hashes", []):
            assert set(item) <= {"type", "value", "quality"}
            assert item["type"] in {"pdq", "md5"}
            assert len(item["value"]) in {32, 64}
    gets = [
        r for r in requests if r["method"] == "GET" and str(r["url"]).startswith("http")
    ]
    assert all(
        "/static/" in str(r["url"]) or urlparse(str(r["url"])).path == "/" for r in gets
    )


def test_headers_forbid_third_parties(page_factory, app_url: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    response = httpx.get(f"{app_url}/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "set-cookie" not in response.headers
    page = page_factory()
    page.goto("/")
    assert page.context.cookies() == []
    html = response.text
    assert "http://" not in html.replace(app_url, "") and "https://" not in html

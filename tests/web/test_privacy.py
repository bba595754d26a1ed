"""Proof that the page sends nothing but hashes, and only to this site."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from reclaim.hashing.expansion import SUBMISSION_VIEWS
from reclaim.hashing.vpdq_format import VpdqHash
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
    # The video went as its MD5 and its vPDQ (made in this browser).
    sent = json.loads(bytes(posts[0]["body"]))["hashes"]  # type: ignore[arg-type]
    assert {"md5", "vpdq"} <= {item["type"] for item in sent}
    for request in requests:
        url = urlparse(str(request["url"]))
        assert url.scheme in {"http", "blob", "data"}, request["url"]
        if url.scheme == "http":
            assert url.netloc == origin, f"request to another host: {request['url']}"
        for name in names:
            assert name not in str(request["url"])
    for request in posts:
        body = bytes(request["body"])  # type: ignore[arg-type]
        payload = json.loads(body)
        hashes = payload.get("hashes", [])
        # Each picture is sent as its hash and its views' hashes: at most 115
        # bytes of JSON each; a video's vPDQ as its frames, and nothing else.
        frames = [item["value"] for item in hashes if item.get("type") == "vpdq"]
        room = 200 + 115 * len(hashes) + sum(len(value) for value in frames)
        assert len(body) < room, f"a {len(body)}-byte body"
        for content in contents:
            for start in range(0, len(content) - 64, max(1, len(content) // 50)):
                assert content[start : start + 64] not in body
        for name in names:
            assert name.encode() not in body
        assert set(payload) <= {"program", "hashes", "pin"}
        for item in hashes:
            assert set(item) <= {"type", "value", "quality", "item"}
            assert item["type"] in {"pdq", "md5", "vpdq"}
            if item["type"] == "vpdq":
                _only_frames(item["value"])
            else:
                assert len(item["value"]) in {32, 64}
                assert int(item["value"], 16) >= 0  # hex, nothing else
            assert isinstance(item.get("item", 0), int)
        # One item per file, never more hashes than a picture and its views.
        per_item = Counter(item.get("item") for item in hashes)
        assert len(per_item) <= len(files)
        assert all(n <= 1 + len(SUBMISSION_VIEWS) for n in per_item.values())
    gets = [
        r for r in requests if r["method"] == "GET" and str(r["url"]).startswith("http")
    ]
    assert all(
        "/static/" in str(r["url"]) or urlparse(str(r["url"])).path == "/" for r in gets
    )


def _only_frames(value: str) -> None:
    """A vPDQ value holds frames (number, quality, PDQ hash, time) and nothing
    else: it is the compact form, and packing its frames gives it back."""
    assert value.startswith("vpdq1:")
    parsed = VpdqHash.parse(value)
    assert parsed.to_compact() == value
    # The test clip: 20 frames at 10 a second, one hashed a second.
    assert [f.frame_number for f in parsed.frames] == [0, 10]
    assert all(0 <= f.quality <= 100 for f in parsed.frames)


def test_headers_forbid_third_parties(page_factory, app_url: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    response = httpx.get(f"{app_url}/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "set-cookie" not in response.headers
    page = page_factory()
    page.goto("/")
    assert page.context.cookies() == []
    # Nothing is loaded from another site; the only outside addresses are
    # links the person may choose to follow (help lines, the operator's
    # privacy notice), opened without a referrer.
    outside = _outside_addresses(response.text.replace(app_url, ""))
    assert outside, "the help lines link to their organisations"
    assert {tag for tag, _, _ in outside} == {"a"}, outside
    assert all("noreferrer" in rel for _, _, rel in outside)


def _outside_addresses(html: str) -> list[tuple[str, str, str]]:
    """(tag, address, rel) of every attribute that names another site."""
    from html.parser import HTMLParser

    found: list[tuple[str, str, str]] = []

    class Finder(HTMLParser):
        def handle_starttag(
            self, tag: str, attrs: list[tuple[str, str | None]]
        ) -> None:
            values = dict(attrs)
            for name in ("src", "href", "action", "srcset", "data", "poster"):
                value = values.get(name) or ""
                if value.startswith(("http://", "https://", "//")):
                    found.append((tag, value, values.get("rel") or ""))

    Finder().feed(html)
    return found


def test_labels_stay_on_the_device(page_factory, media: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    """Labels a person types are never sent, and Leave quickly erases them."""
    label = "Sommer-Zeltplatz-7Q"
    page = page_factory(width=360, height=780)
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.url + (r.post_data_buffer or b"").decode("latin-1")),
    )
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"]])
    wait_until_hashed(page, 1)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    page.fill("#status-pin", page.text_content("#case-pin") or "")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    page.check("#labels-on")
    page.fill("#label-0", label)
    # Everything else a person does next: add a file, look again, withdraw.
    page.click("#status-add")
    page.set_input_files("#file-input", [str(media["png"])])
    wait_until_hashed(page, 1)
    page.click("#submit")
    page.wait_for_selector("#label-1")
    assert page.input_value("#label-0") == label
    page.click("#status-form button[type=submit]")
    page.click("#status-withdraw")
    page.click("#confirm-yes")
    page.wait_for_selector("#status-withdraw", state="hidden")
    assert len(sent) > 3
    assert all(label not in request for request in sent)
    assert page.evaluate("Object.values(localStorage).join()").count(label) == 1
    page.click("#leave")
    page.wait_for_url("about:blank")
    page.goto("/")
    assert page.evaluate("localStorage.length") == 0

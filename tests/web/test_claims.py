"""What the page tells the person is true: each claim has a check here or in
the test that docs/claims.md names for it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from reclaim.api.app import create_app
from reclaim.registry.service import Registry
from reclaim.web.helplines import Directory, HelplinesError, load
from reclaim.web.i18n import LANGUAGES
from reclaim.web.routes import PageInfo, render
from tests.conftest import live_server, random_pdq

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "src" / "reclaim" / "web" / "locales"
CLAIMS = ROOT / "docs" / "claims.md"
ENGLISH = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
RNG = np.random.default_rng(15)

#: MatchableList keys whose text promises something about the service.
CLAIM_KEYS = [
    "intro.lead",
    "intro.what.1",
    "intro.what.2",
    "intro.what.3",
    "intro.what.4",
    "intro.not.1",
    "intro.not.2",
    "intro.not.3",
    "platforms.1",
    "platforms.2",
    "platforms.3",
    "platforms.4",
    "minor.1",
    "minor.2",
    "minor.3",
    "eligibility.changes",
    "next.1",
    "next.2",
    "next.3",
    "next.4",
    "participants.none",
    "operator.unset",
    "done.warning",
    "done.next",
    "receipt.keep",
    "privacy.body",
    "files.help",
    "leave.hint",
]


def test_the_overclaims_are_gone() -> None:
    for language in LANGUAGES:
        matchable = json.loads((LOCALES / f"{language.code}.json").read_text("utf-8"))
        assert not {"support.ncmec", "support.stopncii", "support.ccri"} & set(
            matchable
        ), language.code
    text = " ".join(ENGLISH.values()).lower()
    assert "nobody can turn it back" not in text
    assert "neither does anyone else" not in text
    assert "cannot be turned back into it" in ENGLISH["intro.what.2"]
    assert "moderator" in ENGLISH["intro.not.2"]


def test_every_claim_is_listed_in_docs_with_its_evidence() -> None:
    doc = CLAIMS.read_text(encoding="utf-8")
    for key in CLAIM_KEYS:
        assert f"`{key}`" in doc, f"docs/claims.md does not cover {key}"
    for path in set(re.findall(r"`((?:tests|src)/[\w/.-]+\.(?:py|js|json))`", doc)):
        assert (ROOT / path).exists(), f"docs/claims.md names {path}, which is missing"


def create_case(client: httpx.Client, program: str) -> dict[str, str]:
    body = {
        "program": program,
        "hashes": [{"type": "pdq", "value": random_pdq(RNG), "quality": 100}],
    }
    created = client.post("/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    return {
        "number": created.json()["case_number"],
        "pin": created.json()["pin"],
        "hash": body["hashes"][0]["value"],  # type: ignore[index]
    }


def test_platforms_get_hashes_and_lists_never_case_numbers_or_pins(
    registry: Registry,
) -> None:
    adult_key = registry.add_platform("adults only", ["adult"])[1]
    both_key = registry.add_platform("both lists", ["adult", "minor"])[1]
    with (
        live_server(create_app(registry.settings, registry)) as url,
        httpx.Client(base_url=url) as client,
    ):
        adult = create_case(client, "adult")
        minor = create_case(client, "minor")
        feeds = {}
        for name, key in (("adult", adult_key), ("both", both_key)):
            reply = client.get(
                "/api/v1/platform/changes",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert reply.status_code == 200, reply.text
            feeds[name] = reply
    for reply in feeds.values():
        for case in (adult, minor):
            assert case["number"] not in reply.text
            assert case["pin"] not in reply.text
            assert case["number"].replace("-", "") not in reply.text
    values = {
        name: {r["value"] for r in f.json()["records"]} for name, f in feeds.items()
    }
    programs = {r["program"] for r in feeds["both"].json()["records"]}
    # Only platforms allowed to read the under-18 list receive its hashes.
    assert values["adult"] == {adult["hash"]}
    assert values["both"] == {adult["hash"], minor["hash"]}
    assert programs == {"adult", "minor"}


def test_the_case_form_asks_for_nothing_about_the_person(registry: Registry) -> None:
    schema = create_app(registry.settings, registry).openapi()
    body = schema["paths"]["/api/v1/cases"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    fields = set(schema["components"]["schemas"][ref]["properties"])
    assert fields == {"program", "hashes"}


def test_the_operator_is_shown_or_said_to_be_unknown() -> None:
    unset = render("en", "https://example.org/")
    assert ENGLISH["operator.unset"] in unset
    assert ENGLISH["operator.no_contact"] in unset
    assert ENGLISH["operator.no_privacy"] in unset
    page = render(
        "en",
        "https://example.org/",
        PageInfo(
            operator_name="Helping Hands e.V.",
            operator_contact="+49 30 1234567",
            privacy_notice_url="https://example.org/privacy",
        ),
    )
    assert "This service is run by Helping Hands e.V." in page
    assert '<a href="tel:+49301234567" rel="noreferrer">+49 30 1234567</a>' in page
    assert '<a href="https://example.org/privacy" rel="noreferrer">' in page
    shown = page.split('id="messages">', 1)[0] + page.split("</script>", 2)[-1]
    assert ENGLISH["operator.unset"] not in shown


def test_help_lines_cite_sources_and_phone_numbers_are_tel_links() -> None:
    directory: Directory = load().directory
    languages = {lang.code for lang in LANGUAGES}
    assert set(directory.default_country) == languages
    lines = list(directory.international)
    for country in directory.countries.values():
        lines += country.lines
    assert len(lines) >= 40
    for line in lines:
        assert line.source.startswith(("https://", "http://")), line.name
        if line.phone:
            assert line.tel, line.name
    # Lines are for the main countries of every page language.
    assert {directory.country_for(code) for code in languages} - {""} == set(
        directory.default_country.values()
    )
    page = render("ko", "https://example.org/")
    assert 'href="tel:+8227358994"' in page  # the page's default country: KR
    shown = re.search(r'data-help-country="KR">(.*?)</ul>', page, re.S)
    assert shown and "02-735-8994" in shown.group(1)
    hidden = re.search(r'data-help-country="US" hidden>', page)
    assert hidden, "other countries' lines start hidden"
    chosen = render("ko", "https://example.org/", None, "US")
    assert 'data-help-country="US">' in chosen


def test_an_operator_file_replaces_the_help_lines(tmp_path: Path) -> None:
    own = {
        "international": [],
        "countries": {
            "IE": {
                "name": "Éire",
                "lines": [
                    {
                        "name": "Example Line",
                        "for": "all",
                        "phone": "1800 000 000",
                        "tel": "1800000000",
                        "url": "https://example.ie/",
                        "source": "https://example.ie/about",
                        "verified": True,
                    }
                ],
            }
        },
        "default_country": {"en": "IE"},
    }
    path = tmp_path / "lines.json"
    path.write_text(json.dumps(own), encoding="utf-8")
    loaded = load(str(path))
    page = render("en", "https://example.org/", PageInfo(directory=loaded))
    assert 'href="tel:1800000000"' in page and "United States" not in page
    path.write_text(json.dumps({**own, "countries": {"ie": own["countries"]["IE"]}}))
    with pytest.raises(HelplinesError, match="two capital letters"):
        load(str(path))


@pytest.mark.parametrize("locale", ["en-US", "ar", "uk", "es-ES"])
def test_the_questions_and_help_lines_at_360px(
    page_factory, tmp_path: Path, locale: str
) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import axe_violations

    shots = Path(os.environ.get("RECLAIM_TEST_ARTIFACTS") or tmp_path) / "questions"
    shots.mkdir(parents=True, exist_ok=True)
    page = page_factory(width=360, height=780, locale=locale)
    page.goto("/")
    for summary in page.query_selector_all(".questions summary"):
        summary.click()
    assert page.evaluate(
        "[...document.querySelectorAll('.questions details')].every((d) => d.open)"
    )
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the first screen scrolls sideways at 360 px"
    )
    page.screenshot(path=str(shots / f"{locale}-questions.png"), full_page=True)
    # The help lines follow the chosen country at once (no reload).
    page.select_option("#help-country", "GB")
    visible = page.evaluate(
        "[...document.querySelectorAll('[data-help-country]')]"
        ".filter((l) => !l.hidden).map((l) => l.dataset.helpCountry)"
    )
    assert visible == ["GB"]
    assert page.is_hidden("#help-show")
    assert page.query_selector('[data-help-country="GB"] a[href="tel:+443456000459"]')
    assert axe_violations(page) == []
    page.screenshot(path=str(shots / f"{locale}-help-GB.png"), full_page=True)
    copy = ROOT / "test-artifacts" / "questions"
    copy.mkdir(parents=True, exist_ok=True)
    for shot in shots.glob(f"{locale}-*.png"):
        shutil.copy(shot, copy / shot.name)

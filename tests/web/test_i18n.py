"""Every catalog has every key, the same placeholders, and a working page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reclaim.web.i18n import LANGUAGES, negotiate, placeholders
from reclaim.web.reviews import fingerprint, load, main, mark_reviewed, report
from reclaim.web.routes import render

LOCALES = Path(__file__).resolve().parents[2] / "src" / "reclaim" / "web" / "locales"
ENGLISH = json.loads((LOCALES / "en.json").read_text())


def test_at_least_the_take_it_down_languages() -> None:
    codes = {language.code for language in LANGUAGES}
    required = {
        "en",
        "es",
        "hi",
        "zh-Hans",
        "fr",
        "de",
        "is",
        "pt",
        "ur",
        "tl",
        "bn",
        "th",
        "ar",
        "nl",
        "ta",
        "tr",
        "it",
        "km",
        "id",
        "ml",
        "mr",
        "si",
        "vi",
        "ko",
        "uk",
        "pl",
    }
    assert required <= codes and {"ckb", "kmr"} <= codes
    assert {lang.code for lang in LANGUAGES if lang.rtl} == {"ar", "ur", "ckb"}


@pytest.mark.parametrize("language", [lang.code for lang in LANGUAGES])
def test_catalog_is_complete(language: str) -> None:
    path = LOCALES / f"{language}.json"
    assert path.exists(), f"{path.name} is missing"
    catalog = json.loads(path.read_text(encoding="utf-8"))
    assert set(catalog) == set(ENGLISH), (
        f"missing {sorted(set(ENGLISH) - set(catalog))}, "
        f"extra {sorted(set(catalog) - set(ENGLISH))}"
    )
    for key, english in ENGLISH.items():
        assert catalog[key].strip(), f"{language}:{key} is empty"
        assert sorted(placeholders(catalog[key])) == sorted(placeholders(english)), (
            f"{language}:{key} has placeholders {placeholders(catalog[key])}, "
            f"English has {placeholders(english)}"
        )


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.code)
def test_page_renders_in_every_language(language) -> None:  # type: ignore[no-untyped-def]
    page = render(language.code, "https://example.org/")
    assert f'<html lang="{language.code}" dir="{language.direction}">' in page
    assert "{{" not in page and "}}" not in page


@pytest.mark.parametrize(
    ("header", "requested", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", None, "es"),
        ("zh-CN,zh;q=0.9", None, "zh-Hans"),
        ("fil-PH", None, "tl"),
        ("de;q=0.2, uk;q=0.9", None, "uk"),
        ("xx, yy;q=0.5", None, "en"),
        (None, None, "en"),
        ("es", "ar", "ar"),
        ("es", "nonsense!!", "es"),
        ("ku-IQ", None, "ckb"),
    ],
)
def test_negotiation(header: str | None, requested: str | None, expected: str) -> None:
    assert negotiate(header, requested).code == expected


def test_report_lists_unreviewed_keys_per_language(tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.json"
    before = {entry.language: entry for entry in report(path=reviews)}
    assert set(before) == {lang.code for lang in LANGUAGES} - {"en"}
    assert all(set(e.keys) == set(ENGLISH) for e in before.values())
    mark_reviewed("uk", ["intro.heading", "brand"], path=reviews)
    (after,) = report(["uk"], path=reviews)
    assert set(after.keys) == set(ENGLISH) - {"intro.heading", "brand"}
    assert after.total == len(ENGLISH)


def test_a_review_goes_stale_when_the_english_text_changes(tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.json"
    reviews.write_text(
        json.dumps(
            {
                "es": {
                    "brand": fingerprint(ENGLISH["brand"]),
                    "intro.heading": fingerprint("an older English text"),
                }
            }
        )
    )
    (entry,) = report(["es"], path=reviews)
    assert "brand" not in entry.keys and "intro.heading" in entry.keys


def test_report_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reviews = str(tmp_path / "reviews.json")
    assert main(["reviewed", "ZH-hans", "brand", "--file", reviews]) == 0
    assert main(["report", "zh-Hans", "uk", "--keys", "--file", reviews]) == 0
    out = capsys.readouterr().out
    total = len(ENGLISH)
    assert f"zh-Hans: {total - 1} of {total} unreviewed" in out
    assert f"uk: {total} of {total} unreviewed" in out
    assert "  intro.heading" in out
    assert main(["report", "xx"]) == 2
    assert "'xx' is not a page language" in capsys.readouterr().err


def test_the_package_review_file_is_valid() -> None:
    data = load()
    assert all(lang in {x.code for x in LANGUAGES} for lang in data)
    assert all(key in ENGLISH for keys in data.values() for key in keys)

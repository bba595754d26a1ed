"""The page's errors: case numbers checked on the device exactly as the
registry checks them, and every server error code shown in the person's
language (never the server's English text)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from reclaim.api.errors import _CODE
from reclaim.registry.identifiers import ALPHABET, new_case_number, parse_case_number
from reclaim.strict import STATUS_CODES
from tests.web.conftest import wait_for

WEB = Path(__file__).resolve().parents[2] / "src" / "reclaim" / "web"
ERRORS_JS = (WEB / "static" / "errors.js").read_text()
LOCALES = WEB / "locales"

CHECK = """async (cases) => {
  const m = await import('/static/casenumber.js');
  return cases.map((c) => m.checkCaseNumber(c));
}"""


def mistyped(number: str, rng: random.Random) -> list[str]:
    """Every one-symbol typo and neighbour swap of some positions."""
    symbols = number.replace("-", "")
    found = []
    for position in rng.sample(range(len(symbols)), 3):
        for other in rng.sample(ALPHABET, 4):
            if other != symbols[position]:
                found.append(symbols[:position] + other + symbols[position + 1 :])
    for position in range(len(symbols) - 1):
        a, b = symbols[position], symbols[position + 1]
        if a != b:
            found.append(symbols[:position] + b + a + symbols[position + 2 :])
    return found


def test_javascript_and_python_agree_on_case_numbers(page_factory) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(15)
    valid = [new_case_number() for _ in range(60)]
    cases = list(valid)
    for number in valid[:20]:
        cases += mistyped(number, rng)
    cases += [
        valid[0].lower(),
        valid[1].replace("-", " "),
        " " + valid[2].replace("-", "") + " ",
        valid[3].replace("0", "o").replace("1", "l"),
        "",
        "   ",
        "ABC",
        "U" * 9,
        valid[4] + "7",
        "x" * 50,
    ]
    page = page_factory()
    page.goto("/")
    answers = page.evaluate(CHECK, cases)
    typos = 0
    for text, answer in zip(cases, answers, strict=True):
        expected = parse_case_number(text)
        if expected is not None:
            assert answer == {"ok": True, "number": expected}, text
            continue
        assert answer["ok"] is False, text
        cleaned = re.sub(r"[\s-]", "", text).upper()
        cleaned = cleaned.translate(str.maketrans("OIL", "011"))
        if not cleaned:
            assert answer["reason"] == "empty", text
        elif len(cleaned) == 9 and all(c in ALPHABET for c in cleaned):
            assert answer["reason"] == "typo", text
            typos += 1
        else:
            assert answer["reason"] == "form", text
    # Every single-symbol typo and neighbour swap of an issued number is caught.
    assert typos >= 20 * 12


def test_every_error_code_has_a_message_in_every_language() -> None:
    mapped = dict(re.findall(r"^\s+([a-z_]+): \"([a-z_.]+)\",$", ERRORS_JS, re.M))
    codes = set(STATUS_CODES.values()) | set(_CODE.values())
    assert codes <= set(mapped), f"no message for {sorted(codes - set(mapped))}"
    keys = set(mapped.values()) | {
        "error.generic",
        "submit.offline",
        "status.limited",
        "status.number_empty",
        "status.number_form",
        "status.number_typo",
        "status.pin_empty",
    }
    for path in LOCALES.glob("*.json"):
        catalog = json.loads(path.read_text(encoding="utf-8"))
        assert keys <= set(catalog), f"{path.name}: {sorted(keys - set(catalog))}"


def test_lookup_failures_are_told_apart_in_the_persons_language(
    page_factory,  # type: ignore[no-untyped-def]
) -> None:
    es = json.loads((LOCALES / "es.json").read_text(encoding="utf-8"))
    page = page_factory(locale="es-ES")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/" in r.url else None)
    page.goto("/")
    number = new_case_number()
    symbols = number.replace("-", "")
    typo = symbols[:-1] + next(c for c in ALPHABET if c != symbols[-1])

    def lookup(case_number: str, pin: str) -> str:
        page.fill("#status-number", case_number)
        page.fill("#status-pin", pin)
        page.evaluate("document.getElementById('status-error').textContent = ''")
        page.click("#status-form button[type=submit]")
        wait_for(page, "() => document.getElementById('status-error').textContent")
        return page.text_content("#status-error") or ""

    assert lookup("", "AAAA") == es["status.number_empty"]
    assert lookup("12345", "AAAA") == es["status.number_form"]
    assert lookup(typo, "AAAA") == es["status.number_typo"]
    assert page.get_attribute("#status-number", "aria-invalid") == "true"
    assert lookup(number, "") == es["status.pin_empty"]
    assert sent == [], "a failure caught on the device sent a request"
    # A well-formed number with a wrong PIN asks the registry, whose answer
    # (one for an unknown case and a wrong PIN) is shown in Spanish.
    assert lookup(number, "AAAA-AAAA-AAAA-AAAA") == es["status.not_found"]
    assert len(sent) == 1


def test_a_server_error_is_shown_translated_not_in_english(
    page_factory,  # type: ignore[no-untyped-def]
) -> None:
    uk = json.loads((LOCALES / "uk.json").read_text(encoding="utf-8"))
    page = page_factory(locale="uk")
    page.goto("/")
    shown = page.evaluate(
        """async () => {
          const {errorMessage} = await import('/static/errors.js');
          const catalog = JSON.parse(document.getElementById('messages').textContent);
          const t = (key) => catalog[key];
          return ['case_closed', 'unavailable', 'internal', 'invalid_request',
                  'too_large', 'forbidden', 'no_such_code'].map(
            (code) => errorMessage({code, message: 'English text'}, t));
        }"""
    )
    assert shown == [
        uk["error.case_closed"],
        uk["error.unavailable"],
        uk["error.internal"],
        uk["error.invalid_request"],
        uk["error.too_large"],
        uk["error.forbidden"],
        uk["error.generic"],
    ]
    assert not any("English" in text for text in shown)


def test_a_closed_case_says_start_a_new_case_and_not_try_again() -> None:
    english = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    shown = english["submit.error"].replace("{reason}", english["error.case_closed"])
    assert "start a new case" in shown and "try again" not in shown.lower()
    for path in LOCALES.glob("*.json"):
        catalog = json.loads(path.read_text(encoding="utf-8"))
        # The reason is the whole advice: nothing after it adds "try again".
        assert catalog["submit.error"].rstrip().endswith("{reason}"), path.name

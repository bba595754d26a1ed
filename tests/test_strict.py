"""reclaim.strict: the text check, strict models and error wording."""

from __future__ import annotations

import pydantic
import pytest

from reclaim.strict import (
    StrictModel,
    TextModel,
    bad_text,
    http_error,
    text_problem,
    validation_problems,
)


class Inner(StrictModel):
    value: str
    quality: int | None = None


class Outer(StrictModel):
    items: list[Inner]


class Wire(TextModel):
    name: str


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plain", None),
        ("\u00e9\U0001f600\u202e", None),
        ("a\\x00", None),  # a backslash, an x and two zeros: text
        ("a\x00b", "NUL"),
        ("\ud800", "surrogate"),
        ("ok\udfff", "surrogate"),
    ],
)
def test_text_problem(text: str, problem: str | None) -> None:
    found = text_problem(text)
    assert (found is None) if problem is None else (problem in str(found))


def test_bad_text_names_where() -> None:
    body = {"items": [{"value": "a"}, {"value": "b", "tags": ["x", "\x00"]}]}
    assert bad_text(body) == (
        "items[1].tags[1]",
        "holds a NUL character (\\u0000), which is never valid here: remove it",
    )
    assert bad_text({"k\x00": 1})[0] == "body (a key)"  # type: ignore[index]
    assert bad_text({"a": [1, 2.5, None, True]}) is None


def test_strict_models_refuse_coercion_unknown_fields_and_nul() -> None:
    assert Outer.model_validate({"items": [{"value": "a", "quality": 9}]})
    for bad in (
        {"items": [{"value": "a", "quality": "9"}]},
        {"items": [{"value": 1}]},
        {"items": [{"value": "a"}], "more": 1},
        {"items": [{"value": "a\x00"}]},
    ):
        with pytest.raises(pydantic.ValidationError):
            Outer.model_validate(bad)
    # A wire format's model allows unknown fields, but never NUL in them.
    assert Wire.model_validate({"name": "a", "extra": "b"}).name == "a"
    with pytest.raises(pydantic.ValidationError, match="extra holds a NUL"):
        Wire.model_validate({"name": "a", "extra": "\x00"})
    # A nested model validated alone still checks its own text.
    with pytest.raises(pydantic.ValidationError, match="NUL"):
        Inner.model_validate({"value": "\x00"})


def test_validation_problems_read_like_paths() -> None:
    errors = [
        {"loc": ("body", "hashes", 3, "value"), "msg": "bad"},
        {"loc": ("query", "cursor"), "msg": "too big"},
        {"loc": ("body",), "msg": "missing"},
    ]
    assert validation_problems(errors) == [
        "hashes[3].value: bad",
        "cursor: too big",
        "body: missing",
    ]


def test_http_error_wording() -> None:
    assert http_error(400, "There was an error parsing the body")[0] == 422
    assert http_error(404, "Not Found") == (404, "no such endpoint")
    assert http_error(404, "no entry 'x'") == (404, "no entry 'x'")
    assert http_error(405, "Method Not Allowed") == (405, "method not allowed here")

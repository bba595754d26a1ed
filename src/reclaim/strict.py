"""Strict request models and the one check that refuses text no database keeps.

Shared by the registry API and the matcher. Every request model derives from
`StrictModel` (no type coercion: `"90"` is not a number; unknown fields
refused) or, where a fixed outside wire format allows unknown fields,
`TextModel`. Both refuse, anywhere in the body, a string that holds a NUL
character (`\\u0000`, which PostgreSQL cannot store) or an unpaired UTF-16
surrogate (`\\ud800`, which is not text and cannot be encoded). The same
check covers URLs (path and query) as an app-wide dependency,
`refuse_bad_text_in_url`, so no route has to remember it. `ErrorReply`
documents the one error shape both services answer with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    model_validator,
)
from pydantic_core import PydanticCustomError

#: How deep a body may nest before the check stops looking (JSON parsers
#: refuse far deeper documents; ours are two or three levels).
_MAX_DEPTH = 64


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "holds a NUL character (\\u0000), which is never valid here: remove it"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return (
                "holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is "
                "not text: send valid Unicode"
            )
    return None


def bad_text(data: object, where: str = "", depth: int = 0) -> tuple[str, str] | None:
    """The first string in `data` (keys included) that cannot be stored, as
    (where, why), or None."""
    if isinstance(data, str):
        problem = text_problem(data)
        return (where or "value", problem) if problem else None
    if depth > _MAX_DEPTH:
        return None
    if isinstance(data, dict):
        for key, value in data.items():
            place = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and (problem := text_problem(key)):
                return (f"{where or 'body'} (a key)", problem)
            if found := bad_text(value, place, depth + 1):
                return found
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            if found := bad_text(value, f"{where}[{index}]", depth + 1):
                return found
    return None


#: Set while a model validates a body it has checked, for the models inside.
_CHECKING: ContextVar[bool] = ContextVar("reclaim_text_checked", default=False)


def _refuse_bad_text(data: Any) -> Any:
    # repr() runs in C and writes NUL as \x00 and a lone surrogate as \udXXX
    # (both unprintable): without either, no string in the body has one.
    text = repr(data)
    if "\\x00" not in text and "\\ud" not in text:
        return data
    found = bad_text(data)
    if found is not None:
        where, problem = found
        raise PydanticCustomError(
            "text", "{where} {problem}", {"where": where, "problem": problem}
        )
    return data


class TextModel(BaseModel):
    """A request model whose strings (at any depth) are all storable text."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _storable_text(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        # The outermost model checks the whole body once; the models inside
        # it (a hash of a list of 10,000) need not walk their part again.
        if _CHECKING.get():
            return handler(data)
        token = _CHECKING.set(True)
        try:
            return handler(_refuse_bad_text(data))
        finally:
            _CHECKING.reset(token)


class StrictModel(TextModel):
    """A request model with no coercion and no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorReply(BaseModel):
    """Every error has this shape (both services)."""

    ok: Literal[False] = False
    error: str
    errors: list[str]
    status: int
    code: str = Field(
        description="stable machine code (snake_case) a client may translate, "
        "e.g. case_not_found; see ERROR_CODES"
    )


#: The code of an error that has no more specific one, by HTTP status. Codes
#: are a wire contract (the web page translates each): never rename one.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def error_payload(
    status: int, message: str, errors: list[str] | None = None, code: str | None = None
) -> dict[str, Any]:
    """The one error body both services send (`ErrorReply`)."""
    return {
        "ok": False,
        "error": message,
        "errors": errors or [],
        "status": status,
        "code": code or STATUS_CODES.get(status, "error"),
    }


#: FastAPI's detail for a body it could not parse (not UTF-8, nested too deep).
_UNPARSED = "There was an error parsing the body"


def http_error(status: int, detail: object) -> tuple[int, str]:
    """The status and message both services answer an HTTP exception with.

    A body that cannot be parsed is bad input like any other (422), not
    FastAPI's bare 400.
    """
    if status == 400 and detail == _UNPARSED:
        return 422, (
            "the request body could not be read as JSON (not UTF-8, or nested "
            "too deeply): send a UTF-8 JSON document"
        )
    if status == 404 and detail == "Not Found":
        return 404, "no such endpoint"
    if status == 405:
        return 405, "method not allowed here"
    return status, str(detail)


def allowed_methods(request: Request, given: str | None) -> str:
    """Every method the app serves at the request's path, for a 405's Allow.

    Starlette names only the first route that matched the path (`given`),
    though a path often has a GET route and a POST route: the published
    schema names them all.
    """
    methods = {m.strip() for m in (given or "").split(",") if m.strip()}
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def validation_problems(errors: Sequence[Any]) -> list[str]:
    """One line per validation error, where first: `hashes[1].value: ...`.

    The `body` and `query` prefixes FastAPI puts first are dropped, list
    positions are written `[n]`. Values are never echoed (they may be a
    person's hashes or a PIN).
    """
    lines = []
    for error in errors:
        where = ""
        for part in error.get("loc", ()):
            if isinstance(part, int):
                where += f"[{part}]"
            elif not where and part in ("body", "query", "path", "header"):
                continue
            else:
                where += f".{part}" if where else str(part)
        lines.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return lines


async def refuse_bad_text_in_url(request: Request) -> None:
    """App-wide dependency: 422 for a NUL or surrogate in the path or query.

    Raised as a validation error, so each app answers it in its one error
    shape, before any handler or database sees the value.
    """
    problems = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            problems.append({"loc": ("path", name), "msg": problem, "type": "text"})
    for name, value in request.query_params.multi_items():
        for part, text in (("a name", name), ("", value)):
            if problem := text_problem(text):
                where = f"{name} ({part})" if part else name
                problems.append(
                    {"loc": ("query", where), "msg": problem, "type": "text"}
                )
    if problems:
        raise RequestValidationError(problems)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries: these statuses answer with ErrorReply."""
    answers: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorReply} for status in statuses
    }
    for status in statuses:
        if status in (503, 429):
            answers[status]["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "string"},
                }
            }
    return answers

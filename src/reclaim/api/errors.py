"""The one JSON error shape, and the mapping of domain errors onto it.

Every error response is `{"ok": false, "error": str, "errors": [str],
"status": int, "code": str}`, built only by `error_response`. `code` is a
stable machine name (`case_not_found`, `case_closed`, ...) that clients such
as the web page translate; `error` stays English for operators and the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reclaim.hashing.errors import HashingError
from reclaim.registry import errors as domain
from reclaim.strict import (
    allowed_methods,
    error_payload,
    http_error,
    validation_problems,
)

logger = logging.getLogger(__name__)


def error_body(
    status: int,
    message: str,
    errors: list[str] | None = None,
    *,
    code: str | None = None,
) -> dict[str, Any]:
    """The canonical error payload (code: the status's own when not given)."""
    return error_payload(status, message, errors, code)


def error_response(
    status: int,
    message: str,
    errors: list[str] | None = None,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
) -> JSONResponse:
    """A JSON response in the canonical error shape."""
    return JSONResponse(
        error_body(status, message, errors, code=code),
        status_code=status,
        headers=headers,
    )


_STATUS: dict[type[Exception], int] = {
    domain.InvalidRequestError: 422,
    domain.CaseAccessError: 404,
    domain.CaseClosedError: 409,
    domain.AuthenticationError: 401,
    domain.PermissionDeniedError: 403,
    domain.NotFoundError: 404,
    domain.ConflictError: 409,
    domain.RateLimitedError: 429,
    domain.SchemaError: 503,
}


#: Codes more specific than the status's own. A wrong PIN and an unknown
#: case are one code, as they are one error: the answer never tells them apart.
_CODE: dict[type[Exception], str] = {
    domain.CaseAccessError: "case_not_found",
    domain.CaseClosedError: "case_closed",
    domain.RevokedKeyError: "key_revoked",
    domain.SchemaError: "schema_outdated",
}


def _status_of(error: Exception) -> int:
    for kind in type(error).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    return 400


def _code_of(error: Exception) -> str | None:
    for kind in type(error).__mro__:
        if kind in _CODE:
            return _CODE[kind]
    return None


def install(app: FastAPI) -> None:
    """Register handlers so that no error escapes in another shape."""

    @app.exception_handler(domain.RegistryError)
    async def _domain(_: Request, error: domain.RegistryError) -> JSONResponse:
        status = _status_of(error)
        headers: dict[str, str] = {}
        if isinstance(error, domain.RateLimitedError):
            headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, domain.AuthenticationError):
            headers["WWW-Authenticate"] = "Bearer"
        details = error.details if isinstance(error, domain.InvalidRequestError) else []
        return error_response(
            status, str(error), details, headers, code=_code_of(error)
        )

    @app.exception_handler(HashingError)
    async def _hashing(_: Request, error: HashingError) -> JSONResponse:
        return error_response(422, str(error))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(
            422,
            "the request does not have the expected form",
            validation_problems(error.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        status, message = http_error(error.status_code, error.detail)
        headers = dict(error.headers) if error.headers else {}
        if status == 405:
            headers["Allow"] = allowed_methods(request, headers.get("Allow"))
        return error_response(status, message, headers=headers)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    async def _database(_: Request, error: Exception) -> JSONResponse:
        # Down, restarting, or too busy (lock timeouts after retries): the
        # request changed nothing, so the client may simply try again.
        logger.warning("database unavailable: %s", type(error).__name__)
        return error_response(
            503,
            "the registry's database is unavailable right now; nothing was "
            "changed: try again in a few seconds",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _internal(_: Request, error: Exception) -> JSONResponse:
        logger.error("internal error: %s", type(error).__name__, exc_info=error)
        return error_response(500, "internal error: the registry could not finish this")

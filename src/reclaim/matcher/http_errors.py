"""The matcher API's one JSON error shape, and domain errors mapped onto it.

Every error response is `{"ok": false, "error": str, "errors": [str],
"status": int, "code": str}`, the same shape as the registry's, built only by
`error_response`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reclaim.hashing import HashingError, MediaTooLargeError
from reclaim.matcher.errors import (
    AlreadyDecidedError,
    BusyError,
    MatcherError,
    NotReadyError,
    QueryError,
    RemovalLimitError,
    RemovalStateError,
    UnknownMatchError,
    UnknownRemovalError,
)
from reclaim.strict import (
    allowed_methods,
    error_payload,
    http_error,
    validation_problems,
)

logger = logging.getLogger(__name__)


class BadQueryError(QueryError):
    """Some items of a match request are malformed (one line each)."""

    def __init__(self, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.details = details


def error_response(
    status: int,
    message: str,
    errors: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the canonical error shape."""
    body = error_payload(status, message, errors)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register handlers so no error leaves in another shape."""

    @app.exception_handler(MatcherError)
    async def _matcher(_: Request, error: MatcherError) -> JSONResponse:
        if isinstance(error, UnknownMatchError | UnknownRemovalError):
            return error_response(404, str(error))
        if isinstance(error, AlreadyDecidedError | RemovalStateError):
            return error_response(409, str(error))
        if isinstance(error, NotReadyError):
            return error_response(
                503, str(error), headers={"Retry-After": str(error.retry_after)}
            )
        if isinstance(error, RemovalLimitError):
            return error_response(
                429, str(error), headers={"Retry-After": str(error.retry_after)}
            )
        if isinstance(error, BusyError):
            return error_response(
                503, str(error), headers={"Retry-After": str(error.retry_after)}
            )
        details = error.details if isinstance(error, BadQueryError) else []
        return error_response(422, str(error), details)

    @app.exception_handler(HashingError)
    async def _hashing(_: Request, error: HashingError) -> JSONResponse:
        status = 413 if isinstance(error, MediaTooLargeError) else 422
        return error_response(status, str(error))

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

    @app.exception_handler(Exception)
    async def _internal(_: Request, error: Exception) -> JSONResponse:
        logger.error("internal error: %s", type(error).__name__, exc_info=error)
        return error_response(500, "internal error: the matcher could not finish this")

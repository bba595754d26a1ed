"""Security headers and the request log, for both services (ASGI middleware).

The edge kit the registry API and the matcher share is three modules:
`reclaim.strict` (strict request models and the one error shape),
`reclaim.body_limit` (request-body size) and this one. Each service gives
`SecurityHeaders` its own headers (its Content-Security-Policy); what the
middleware does with them is the same: add each header a response did not
set itself (a page with a stricter policy keeps its own), mark API answers
`no-store`, add Strict-Transport-Security to answers to HTTPS requests when
asked, and log each request as method, route family, status and time: never
an address, a query, a case number or a body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Header = tuple[bytes, bytes]

#: What every answer of either service carries.
BASE_HEADERS: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # Nothing of ours may be framed by another site (clickjacking).
    (b"x-frame-options", b"DENY"),
)


def _whole_path(path: str) -> str:
    return path if len(path) <= 60 else path[:60]


class SecurityHeaders:
    """Add `headers` to each response that does not set them itself.

    `no_store`: path prefixes whose answers are never cached. `hsts_max_age`
    > 0 adds Strict-Transport-Security where `is_https(scope)` says the
    browser's request came over HTTPS (browsers ignore it over plain HTTP).
    `log`, when given, gets one line per request; `route_family` turns a
    path into what may be logged of it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Sequence[Header],
        no_store: tuple[str, ...] = (),
        hsts_max_age: int = 0,
        is_https: Callable[[Scope], bool] | None = None,
        log: logging.Logger | None = None,
        route_family: Callable[[str], str] = _whole_path,
    ) -> None:
        self.app = app
        self._headers = [*BASE_HEADERS, *headers]
        self._no_store = no_store
        self._hsts: Header | None = (
            (b"strict-transport-security", f"max-age={hsts_max_age}".encode())
            if hsts_max_age > 0 and is_https is not None
            else None
        )
        self._is_https = is_https
        self._log = log
        self._route_family = route_family

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        started = time.perf_counter()
        https = self._is_https is not None and self._is_https(scope)
        hsts = self._hsts if https else None
        status_seen = 0

        async def with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in self._headers if h[0] not in names]
                if hsts and hsts[0] not in names:
                    headers.append(hsts)
                if self._no_store and path.startswith(self._no_store):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            if self._log is not None:
                self._log.info(
                    "%s %s %d %.1fms",
                    scope.get("method", "?"),
                    self._route_family(path),
                    status_seen,
                    (time.perf_counter() - started) * 1000,
                )

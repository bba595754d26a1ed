"""ASGI middleware: security headers, request log without IPs (the body-size
limit is `reclaim.body_limit`, shared with the matcher)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("reclaim.api.requests")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
        b"img-src 'self' blob: data:; media-src 'self' blob:; worker-src 'self'; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), interest-cohort=()",
    ),
]


class SecurityHeaders:
    """Strict headers on every response; API answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        started = time.perf_counter()
        status_seen = 0

        async def with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if path.startswith(("/api/", "/stopncii/")):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            # Method, route prefix, status and time only: no address, no query,
            # no case number or body.
            logger.info(
                "%s %s %d %.1fms",
                scope.get("method", "?"),
                _route_family(path),
                status_seen,
                (time.perf_counter() - started) * 1000,
            )


def _route_family(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/api/v1/cases/") and len(parts) >= 6:
        return f"/api/v1/cases/*/{parts[5]}"
    return path if len(path) <= 60 else path[:60]

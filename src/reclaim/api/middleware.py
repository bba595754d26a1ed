"""ASGI middleware: security headers, HSTS on HTTPS, request log without IPs
(the body-size limit is `reclaim.body_limit`, shared with the matcher)."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reclaim.api.addresses import parse_address

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
    """Strict headers on every response; API answers are never cached.

    Strict-Transport-Security goes only on answers to HTTPS requests (browsers
    ignore it over plain HTTP): the ASGI server's own TLS, or a reverse proxy
    in `trusted_proxies` that says `X-Forwarded-Proto: https`. From any other
    peer that header is ignored. `hsts_max_age=0` never sends it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_max_age: int = 0,
        trusted_proxies: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    ) -> None:
        self.app = app
        self._hsts = (
            (b"strict-transport-security", f"max-age={hsts_max_age}".encode())
            if hsts_max_age > 0
            else None
        )
        self._proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        started = time.perf_counter()
        hsts = self._hsts if self._hsts and self._https(scope) else None
        status_seen = 0

        async def with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if hsts and hsts[0] not in names:
                    headers.append(hsts)
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

    def _https(self, scope: Scope) -> bool:
        """Did the browser's request reach us over HTTPS?"""
        if scope.get("scheme") == "https":
            return True
        client = scope.get("client")
        peer = parse_address(client[0]) if client else None
        if peer is None or not any(peer in net for net in self._proxies):
            return False
        # The nearest trusted proxy's value: the last one of the last header.
        protos = [v for k, v in scope.get("headers", []) if k == b"x-forwarded-proto"]
        last = protos[-1].split(b",")[-1].strip().lower() if protos else b""
        return last == b"https"


def _route_family(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/api/v1/cases/") and len(parts) >= 6:
        return f"/api/v1/cases/*/{parts[5]}"
    return path if len(path) <= 60 else path[:60]

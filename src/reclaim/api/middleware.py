"""The registry's security headers, HSTS on HTTPS and request log without IPs,
on the middleware both services share (`reclaim.headers`)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from starlette.types import ASGIApp, Scope

from reclaim import headers
from reclaim.api.addresses import from_trusted_proxy

logger = logging.getLogger("reclaim.api.requests")

#: The registry's own headers (the shared ones are `reclaim.headers`): the
#: person's page runs WebAssembly and workers, and loads nothing from elsewhere.
REGISTRY_HEADERS = [
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


class SecurityHeaders(headers.SecurityHeaders):
    """The registry's headers and request log; API answers are never cached.

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
        proxies = tuple(trusted_proxies)
        super().__init__(
            app,
            headers=REGISTRY_HEADERS,
            no_store=("/api/", "/stopncii/"),
            hsts_max_age=hsts_max_age,
            is_https=lambda scope: _https(scope, proxies),
            log=logger,
            route_family=_route_family,
        )


def _https(
    scope: Scope, proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    """Did the browser's request reach us over HTTPS?"""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if not from_trusted_proxy(client[0] if client else None, proxies):
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

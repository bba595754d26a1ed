"""Security headers on every matcher response: no framing, no sniffing.

The review page and /docs are HTML a moderator's browser opens; no other
site may frame them (clickjacking a "Blocked" button). A response that sets
its own Content-Security-Policy keeps it (the review page's is stricter).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
        b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
]


class SecurityHeaders:
    """Add `HEADERS` to each response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)

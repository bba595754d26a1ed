"""Security headers on every matcher response: no framing, no sniffing.

The review page and /docs are HTML a moderator's browser opens; no other
site may frame them (clickjacking a "Blocked" button). A response that sets
its own Content-Security-Policy keeps it (the review page's is stricter).
The middleware is the one both services share (`reclaim.headers`).
"""

from __future__ import annotations

from starlette.types import ASGIApp

from reclaim import headers

#: The matcher's own headers (the shared ones are `reclaim.headers`).
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
        b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
]


class SecurityHeaders(headers.SecurityHeaders):
    """The matcher's headers on each response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, headers=HEADERS)

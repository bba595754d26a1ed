"""An optional access token for the matcher's API.

With `[serve] token` set, every endpoint needs it, as `Authorization: Bearer
<token>` (the upload pipeline, Prometheus) or as the password of HTTP Basic
authentication, except: `/healthz` and `/readyz`; the desk (`/desk...`),
which has its own sign-in; and what is open to the public by law, the
removal form (`/removal...`) and `POST /v1/removal-requests`.
Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from reclaim.matcher.http_errors import error_response

#: Reachable without the token: the probes, the desk's front page (it has
#: its own sign-in) and the public removal form.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/desk", "/removal"})
#: Paths under these have their own sign-in (the desk) or are public.
OPEN_PREFIXES = ("/desk/", "/removal/")
#: The public intake of removal requests (posting only; reading needs the token).
PUBLIC_POSTS = frozenset({"/v1/removal-requests"})


def is_open(path: str, method: str) -> bool:
    """Whether a request may be served without the API token."""
    return (
        path in OPEN_PATHS
        or path.startswith(OPEN_PREFIXES)
        or (method == "POST" and path in PUBLIC_POSTS)
    )


def presented_token(authorization: str) -> str | None:
    """The token in a Bearer or Basic `Authorization` header, if any."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


class RequireToken:
    """Refuse requests without the configured token (401, one JSON shape)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(
            scope.get("path", ""), scope.get("method", "GET")
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = presented_token(headers.get(b"authorization", b"").decode("latin-1"))
        if given is not None and hmac.compare_digest(given.encode(), self._token):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401,
            "this matcher needs its access token: send 'Authorization: Bearer "
            "<token>' (the [serve] token of its config)",
        )
        response.headers["WWW-Authenticate"] = 'Basic realm="reclaim matcher"'
        await response(scope, receive, send)

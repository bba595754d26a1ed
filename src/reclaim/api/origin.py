"""Refuse person requests that another web site's page makes the browser send.

Any page a person visits can make their browser post to the registry (a
`text/plain` or type-less body needs no CORS permission), and the request
counts against the person's own address. So, before anything is counted:

* a browser's `Sec-Fetch-Site` must be `same-origin` (or `none`, typed by the
  person); `cross-site` and `same-site` get 403;
* without it (older browsers), an `Origin` header must name this server's own
  host (`null` and any other origin get 403);
* a body declared as anything but `application/json` gets 415 (a body with
  no type is read as JSON, as before: browsers that can send one cross-site
  send `Origin` with it).

Clients that are not browsers (the CLI, platforms, scripts) send neither
header and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from starlette.exceptions import HTTPException

#: Sec-Fetch-Site values of requests the person's own page (or the person) made.
OWN_SITE = frozenset({"same-origin", "none"})

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(scheme: str, netloc: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    return (parts.hostname or "", port)


def is_own_origin(origin: str, host: str, scheme: str) -> bool:
    """Whether an `Origin` names the server that the `Host` header names.

    The scheme is not compared: behind a TLS proxy this server sees http.
    Default ports are: `https://registry.example` is `registry.example:443`.
    """
    try:
        parts = urlsplit(origin)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return False
    theirs = _host_port(parts.scheme, parts.netloc)
    ours = {_host_port(parts.scheme, host), _host_port(scheme, host)}
    return theirs is not None and theirs in ours


async def person_request(request: Request) -> None:
    """Refuse cross-site browser requests (403) and non-JSON bodies (415)."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None:
        if site.strip().lower() not in OWN_SITE:
            raise HTTPException(
                403,
                f"a request sent by another web site (Sec-Fetch-Site: {site[:20]}) "
                "is refused: use the registry's own page or the reclaim CLI",
            )
    elif origin is not None and not is_own_origin(
        origin, request.headers.get("host", ""), request.url.scheme
    ):
        raise HTTPException(
            403,
            f"a request from another origin ({origin[:80]}) is refused: expected "
            "this registry's own page; use it or the reclaim CLI",
        )
    kind = request.headers.get("content-type")
    if kind is not None and kind.split(";")[0].strip().lower() != "application/json":
        raise HTTPException(
            415,
            f"a body of type {kind[:60]!r} is refused: expected "
            "application/json; send the request as JSON",
        )

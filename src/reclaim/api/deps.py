"""Request dependencies: the registry, rate limits and platform authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from reclaim.api.ratelimit import Limiter
from reclaim.config import Settings
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import Registry


def registry(request: Request) -> Registry:
    """The app's Registry."""
    found: Registry = request.app.state.registry
    return found


def settings(request: Request) -> Settings:
    """The app's Settings."""
    found: Settings = request.app.state.settings
    return found


def client_address(request: Request) -> str:
    """The client's address, for rate limiting only: never stored or logged."""
    config = settings(request)
    if config.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.client.host if request.client else "unknown"


def limit_case_creation(request: Request) -> None:
    """Count a case creation against this client's allowance."""
    limiter: Limiter = request.app.state.limiter
    limiter.hit("case", client_address(request), limit=settings(request).case_rate)


def limit_pin_attempts(request: Request) -> None:
    """Count a PIN use (right or wrong) against this client's allowance."""
    limiter: Limiter = request.app.state.limiter
    limiter.hit("pin", client_address(request), limit=settings(request).pin_rate)


def platform(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> PlatformIdentity:
    """The platform behind `Authorization: Bearer <key>`."""
    key = None
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return registry(request).authenticate(key)


RegistryDep = Annotated[Registry, Depends(registry)]
PlatformDep = Annotated[PlatformIdentity, Depends(platform)]

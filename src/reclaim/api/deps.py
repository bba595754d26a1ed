"""Request dependencies: the registry, rate limits and platform authentication.

Dependencies that do no I/O are `async`: FastAPI runs plain functions in a
worker thread, and a thread hop costs more than the work itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from reclaim.api.ratelimit import Limiter
from reclaim.config import Settings
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import Registry


def registry(request: Request) -> Registry:
    """The app's Registry (a plain function; `RegistryDep` is the dependency)."""
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


async def _registry_dependency(request: Request) -> Registry:
    return registry(request)


async def _hit(request: Request, bucket: str, limit: tuple[int, int]) -> None:
    limiter: Limiter = request.app.state.limiter
    client = client_address(request)
    if limiter.blocking:
        await run_in_threadpool(limiter.hit, bucket, client, limit=limit)
    else:
        limiter.hit(bucket, client, limit=limit)


async def limit_case_creation(request: Request) -> None:
    """Count a case creation against this client's allowance."""
    await _hit(request, "case", settings(request).case_rate)


async def limit_pin_attempts(request: Request) -> None:
    """Count a PIN use (right or wrong) against this client's allowance."""
    await _hit(request, "pin", settings(request).pin_rate)


def platform(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> PlatformIdentity:
    """The platform behind `Authorization: Bearer <key>`."""
    key = None
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return registry(request).authenticate(key)


RegistryDep = Annotated[Registry, Depends(_registry_dependency)]
PlatformDep = Annotated[PlatformIdentity, Depends(platform)]

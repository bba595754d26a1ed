"""Request dependencies: the registry, rate limits and platform authentication.

Dependencies that do no I/O are `async`: FastAPI runs plain functions in a
worker thread, and a thread hop costs more than the work itself.

Rate limits count only requests that reached the handler, i.e. whose body
parsed and validated (`PersonLimits` is called from inside it); cross-site
browser requests and non-JSON bodies are refused before that (`origin.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from reclaim.api import addresses
from reclaim.api.pin_guard import PinGuard
from reclaim.api.ratelimit import Limiter
from reclaim.config import Settings
from reclaim.registry.errors import CaseAccessError
from reclaim.registry.identifiers import parse_case_number
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import Registry

T = TypeVar("T")


def registry(request: Request) -> Registry:
    """The app's Registry (a plain function; `RegistryDep` is the dependency)."""
    found: Registry = request.app.state.registry
    return found


def settings(request: Request) -> Settings:
    """The app's Settings."""
    found: Settings = request.app.state.settings
    return found


def client_address(request: Request) -> str:
    """The client's network (IPv4 address or IPv6 /64), for rate limiting
    only: never stored or logged."""
    address = addresses.client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings(request).trusted_proxies,
    )
    return addresses.rate_key(address)


async def _registry_dependency(request: Request) -> Registry:
    return registry(request)


class PersonLimits:
    """The person's rate limits, counted from inside a handler."""

    def __init__(self, request: Request) -> None:
        config = settings(request)
        self._limiter: Limiter = request.app.state.limiter
        self._client = client_address(request)
        self._settings = config
        self._guard = PinGuard(
            self._limiter, rate=config.case_pin_rate, cap=config.case_pin_cap
        )

    async def _call(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._limiter.blocking:
            return await run_in_threadpool(work, *args, **kwargs)
        return work(*args, **kwargs)

    async def case_creation(self) -> None:
        """Count a case creation against this client's allowance."""
        limit = self._settings.case_rate
        await self._call(self._limiter.hit, "case", self._client, limit=limit)

    async def pin_use(self, number: str, check: Callable[[], T]) -> T:
        """Run `check` (a blocking registry call with a PIN) within the limits:
        the client's allowance (right or wrong PINs), then the case's limit on
        wrong PINs (`pin_guard`)."""
        limit = self._settings.pin_rate
        await self._call(self._limiter.hit, "pin", self._client, limit=limit)
        case = parse_case_number(number)
        if case is None:  # no case has it: the registry refuses it unchecked
            return await run_in_threadpool(check)
        attempt = await self._call(self._guard.admit, case, self._client)
        wrong = False
        try:
            return await run_in_threadpool(check)
        except CaseAccessError:
            wrong = True
            raise
        finally:
            # Settled even if the client went away meanwhile.
            with anyio.CancelScope(shield=True):
                await self._call(self._guard.settle, attempt, wrong=wrong)


async def person_limits(request: Request) -> PersonLimits:
    """The person's rate limits for this request."""
    return PersonLimits(request)


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
LimitsDep = Annotated[PersonLimits, Depends(person_limits)]

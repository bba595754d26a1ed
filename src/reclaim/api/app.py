"""`create_app(settings)`: the registry's FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI

from reclaim import __version__, apidocs
from reclaim.api import cases, errors, metrics, ncmec, platform, stopncii
from reclaim.api.list_index import ListIndex
from reclaim.api.middleware import SecurityHeaders
from reclaim.api.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from reclaim.body_limit import BodyLimit
from reclaim.config import Settings
from reclaim.registry.service import Registry
from reclaim.strict import refuse_bad_text_in_url
from reclaim.web import routes as web_routes

logger = logging.getLogger(__name__)

#: Threads doing blocking work at once: the database pool's steady size.
DATABASE_THREADS = 10


def create_app(settings: Settings, registry: Registry | None = None) -> FastAPI:
    """The registry API. Checks the database schema at startup."""
    # uvicorn's access log records client addresses and full paths: never on,
    # however the app is served.
    access = logging.getLogger("uvicorn.access")
    access.disabled = True
    access.propagate = False
    owned = registry is None
    service = registry or Registry(settings)
    try:
        service.check_schema()
    except Exception:
        if owned:
            service.close()
        raise

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Blocking work (database calls, PIN hashing) runs in threads. More
        # threads than pooled connections only queue on the pool and fight
        # for the GIL, which stretches the time the feed lock is held.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = DATABASE_THREADS
        yield
        if owned:
            service.close()

    app = FastAPI(
        title="reclaim registry",
        version=__version__,
        description=(
            "Anonymous hash submissions (never media), case status and withdrawal "
            "for people; the hash list with a change feed for platforms; and a "
            "StopNCII-compatible hash exchange."
        ),
        lifespan=lifespan,
        # NUL or unpaired surrogates anywhere in a URL: 422 before any route.
        dependencies=[Depends(refuse_bad_text_in_url)],
        # Swagger UI from the package, never a CDN (`reclaim.apidocs`).
        docs_url=None,
        redoc_url=None,
    )
    apidocs.install(app)
    app.state.settings = settings
    web_routes.check(settings)  # a bad help-line file stops startup here
    app.state.registry = service
    app.state.limiter = make_limiter(settings, service.secret())
    app.state.list_index = ListIndex(service)
    errors.install(app)
    app.include_router(cases.router)
    app.include_router(platform.router)
    app.include_router(stopncii.router)
    app.include_router(ncmec.router)
    app.include_router(web_routes.router)
    app.mount("/static", web_routes.static_files(), name="static")
    if settings.metrics_token:  # the operator's; not served without a token
        app.state.metrics = metrics.RegistryMetrics(service)
        app.include_router(metrics.router)

    @app.get("/healthz", tags=["service"], summary="Liveness and schema check")
    async def healthz() -> dict[str, object]:
        return {"ok": True, "version": __version__}

    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, hint="send fewer hashes"
    )
    app.add_middleware(
        SecurityHeaders,
        hsts_max_age=settings.hsts_max_age,
        trusted_proxies=settings.trusted_proxies,
    )
    if settings.metrics_token:  # outermost: counts every answer, 413s too
        app.add_middleware(metrics.RequestMetrics, metrics=app.state.metrics)
    return app


def app_from_env() -> FastAPI:
    """An app configured from RECLAIM_* variables (uvicorn's factory, workers)."""
    return create_app(Settings.from_env())


def make_limiter(settings: Settings, secret: str) -> Limiter:
    """Redis-backed limits when RECLAIM_REDIS_URL is set, else in-process ones."""
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, secret)
    return MemoryLimiter(secret)

"""`create_app(service)`: the matcher's HTTP API for a platform's upload pipeline.

| endpoint | what |
|---|---|
| `POST /v1/match` | match a batch of hashes (pdq, md5, vpdq) |
| `POST /v1/match/media` | match an uploaded image or video (hashed in memory) |
| `GET /v1/review`, `GET/POST /v1/review/{id}` | the review queue and decisions |
| `/v1/removal-requests...` | legal removal requests (removals/api.py) |
| `/desk/...` | the moderators' desk (its own sign-in; docs/desk.md) |
| `GET /status` | list size, cursor, lag, last sync result, backoff, outbox |
| `GET /metrics` | Prometheus metrics |
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi import Query as QueryParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from reclaim import __version__, apidocs
from reclaim.body_limit import BodyLimit
from reclaim.hashing import InvalidHashError, Md5Hash, PdqHash, VpdqHash
from reclaim.index.matching import Match
from reclaim.matcher import http_errors, transparency_api
from reclaim.matcher.access import RequireToken, is_open
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.decode_pool import Decoded, DecodePool
from reclaim.matcher.desk import site
from reclaim.matcher.errors import BusyError
from reclaim.matcher.headers import SecurityHeaders
from reclaim.matcher.http_errors import BadQueryError
from reclaim.matcher.media import MediaHashes
from reclaim.matcher.removals import api as removals_api
from reclaim.matcher.review import QueuedMatch
from reclaim.matcher.schemas import (
    Decision,
    HashIn,
    Health,
    MatchId,
    MatchReply,
    MatchRequest,
    MediaReply,
    Readiness,
    ReviewList,
    ReviewOne,
    ReviewState,
    error_responses,
)
from reclaim.matcher.service import MatcherService, Query, Result
from reclaim.strict import refuse_bad_text_in_url

#: The largest body a request without the API token may send (a removal
#: request at its largest, 50 locations and descriptions of 2,000 characters,
#: fits; a desk form is far smaller).
PUBLIC_BODY_BYTES = 1024 * 1024
#: Every status the API answers, per kind of route (all errors in one shape).
_ERRORS = (401, 413, 422, 500)
MATCH_ERRORS = error_responses(*_ERRORS, 503)
REVIEW_ERRORS = error_responses(*_ERRORS, 404, 409)


def serving_options(config: MatcherConfig) -> dict[str, Any]:
    """How uvicorn serves the matcher: no access log (it would record client
    addresses), no server header, and forwarded headers only from
    `[serve] trusted_proxies` (the desk checks the scheme of form posts)."""
    return {
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "proxy_headers": True,
        "forwarded_allow_ips": list(config.trusted_proxies),
    }


def create_app(service: MatcherService, *, background: bool = False) -> FastAPI:
    """The matcher API; `background` starts sync and delivery threads with it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            service.start()
        yield
        decoders.close()
        if background:
            service.stop()

    app = FastAPI(
        title="reclaim matcher",
        version=__version__,
        description="Match uploads against the synced hash list; review and act.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_bad_text_in_url)],
        docs_url=None,
        redoc_url=None,
    )
    apidocs.install(app)
    http_errors.install(app)
    config = service.config
    decoders = DecodePool(config.decode)  # uploads are hashed in its workers
    app.add_middleware(
        BodyLimit,
        limit=config.max_upload_bytes,
        hint="send fewer hashes or a smaller file, or raise [serve] max_upload_bytes",
    )
    # What anyone may send without the token (the public removal form and
    # intake, the desk's sign-in and forms) is small: refused far sooner.
    app.add_middleware(
        BodyLimit,
        limit=PUBLIC_BODY_BYTES,
        hint="a removal request or a form is far smaller; send less",
        only=lambda scope: is_open(scope.get("path", ""), scope.get("method", "")),
    )
    if config.token:
        app.add_middleware(RequireToken, token=config.token)
    app.add_middleware(SecurityHeaders)

    @app.post(
        "/v1/match",
        summary="Match a batch of hashes",
        response_model=MatchReply,
        response_model_exclude_none=True,
        responses=MATCH_ERRORS,
    )
    def match(body: MatchRequest) -> dict[str, Any]:
        # After validation: a malformed request is 422 even before the first sync.
        service.require_ready()
        if len(body.hashes) > config.max_batch:
            raise BadQueryError(
                f"{len(body.hashes)} hashes in one request is too many: at most "
                f"{config.max_batch}; split the batch",
                [],
            )
        started = time.perf_counter()
        results = service.match(_queries(body.hashes))
        service.metrics.latency.labels("hashes").observe(time.perf_counter() - started)
        return {
            "ok": True,
            "results": [
                {"index": n, "matches": _matches(result)}
                for n, result in enumerate(results)
            ],
        }

    @app.post(
        "/v1/match/media",
        summary="Match an uploaded image or video (hashed in memory, never stored)",
        response_model=MediaReply,
        response_model_exclude_none=True,
        responses=MATCH_ERRORS,
        openapi_extra={
            "requestBody": {
                "content": {"application/octet-stream": {}},
                "required": True,
            }
        },
    )
    async def match_media(
        request: Request,
        reference: str | None = QueryParam(None, max_length=200),
    ) -> dict[str, Any]:
        service.require_ready()  # 503 until every source has a complete list
        started = time.perf_counter()
        try:
            # A preview for the desk is made by the worker too, never here.
            decoded = await decode_upload(
                request,
                decoders,
                dihedral=config.dihedral,
                preview=service.preview_side,
            )
        except BusyError:
            service.metrics.uploads.labels("busy").inc()
            raise
        except Exception:
            service.metrics.uploads.labels("unreadable").inc()
            raise
        hashes = decoded.hashes
        result = await run_in_threadpool(
            functools.partial(
                service.match_media,
                hashes,
                reference=reference,
                preview=decoded.preview,
            )
        )
        service.metrics.uploads.labels("matched" if result.matches else "clear").inc()
        service.metrics.latency.labels("media").observe(time.perf_counter() - started)
        return {
            "ok": True,
            "media": "video" if hashes.video is not None else "image",
            "matches": _matches(result),
        }

    @app.get(
        "/v1/review",
        summary="The review queue, newest first",
        response_model=ReviewList,
        responses=REVIEW_ERRORS,
    )
    def review_list(
        state: ReviewState | None = QueryParam(None),
        limit: int = QueryParam(50, ge=1, le=1000),
    ) -> dict[str, Any]:
        items = service.queue.list(state=state, limit=limit)
        return {"ok": True, "matches": [i.summary() for i in items]}

    @app.get(
        "/v1/review/{match_id}",
        summary="One match",
        response_model=ReviewOne,
        responses=REVIEW_ERRORS,
    )
    def review_show(match_id: MatchId) -> dict[str, Any]:
        return {"ok": True, "match": service.queue.get(match_id).summary()}

    @app.post(
        "/v1/review/{match_id}",
        summary="Decide a pending match",
        response_model=ReviewOne,
        responses=REVIEW_ERRORS,
    )
    def review_decide(match_id: MatchId, body: Decision) -> dict[str, Any]:
        item = service.decide(match_id, body.decision, reviewer=body.reviewer)
        return {"ok": True, "match": item.summary()}

    @app.get(
        "/status",
        summary="List size, cursor, lag and sync health",
        responses=error_responses(401, 500),
    )
    def status() -> dict[str, Any]:
        return service.status()

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **error_responses(401, 500),
        },
    )
    def metrics() -> Response:
        return Response(
            service.metrics.render(),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    app.include_router(transparency_api.router(service))
    site.install(app, service)

    async def attached(request: Request) -> MediaHashes:
        decoded = await decode_upload(request, decoders, dihedral=config.dihedral)
        return decoded.hashes

    app.include_router(removals_api.router(service, attached=attached))

    @app.get(
        "/healthz",
        summary="Liveness: the process is up (it may not be ready to match)",
        response_model=Health,
        responses=error_responses(500),
    )
    def healthz() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    @app.get(
        "/readyz",
        summary="Readiness: every source has a complete list (else 503)",
        response_model=Readiness,
        responses=error_responses(500, 503),
    )
    def readyz() -> dict[str, Any]:
        service.require_ready()
        return {"ok": True, "ready": True, "sources": sorted(service.stores)}

    return app


def _queries(items: list[HashIn]) -> list[Query]:
    queries: list[Query] = []
    problems: list[str] = []
    for number, item in enumerate(items):
        try:
            if item.type == "pdq":
                queries.append(
                    Query(pdq=(PdqHash.parse(item.value),), reference=item.reference)
                )
            elif item.type == "md5":
                queries.append(
                    Query(md5=Md5Hash.parse(item.value), reference=item.reference)
                )
            else:
                queries.append(
                    Query(video=VpdqHash.parse(item.value), reference=item.reference)
                )
        except InvalidHashError as error:
            problems.append(f"hashes[{number}]: {error}")
    if problems:
        raise BadQueryError(
            f"{len(problems)} of {len(items)} hashes are not valid; nothing was "
            "matched",
            problems,
        )
    return queries


def _matches(result: Result) -> list[dict[str, Any]]:
    return [_match(match, item) for match, item in result.matches]


def _match(match: Match, item: QueuedMatch) -> dict[str, Any]:
    body: dict[str, Any] = {
        "match_id": item.id,
        "type": match.kind.value,
        "program": match.program,
        "distance": match.distance,
        "state": item.state.value,
        "source": match.source,
        "sources": list(item.sources),
    }
    if match.variant is not None:
        body["variant"] = match.variant
    if match.query_percent is not None:
        body["query_percent"] = round(match.query_percent, 2)
        body["compared_percent"] = round(match.compared_percent or 0.0, 2)
    return body


async def decode_upload(
    request: Request, decoders: DecodePool, *, dihedral: bool, preview: int = 0
) -> Decoded:
    """An upload hashed in a decode worker (`/v1/match/media`, and a removal
    request's attached file): the place is reserved before the body is read
    (BusyError, 503, when all are taken), and the bytes leave memory once
    hashed. With `preview` > 0 the worker also makes the desk's preview."""
    place = decoders.reserve()
    try:
        data = await _read_upload(request)
        return await place.decode(data, dihedral=dihedral, preview=preview)
    finally:
        place.release()
        data = b""


async def _read_upload(request: Request) -> bytes:
    """The upload's bytes (`BodyLimit` has already refused any over the limit)."""
    chunks = [chunk async for chunk in request.stream()]
    if not any(chunks):
        raise BadQueryError(
            "the upload is empty: send the image or video bytes as the request body",
            [],
        )
    return b"".join(chunks)

"""The removal request API: public intake, and the platform's own endpoints.

| endpoint (under `/v1/removal-requests`) | who | what |
|---|---|---|
| `POST` | anyone | file a request (the Act's four parts) |
| `GET` | platform | requests, a page at a time (view, state, due within hours) |
| `GET /{id}` | platform | one request: copies, actions, events |
| `POST /{id}/media` | platform | attach the reported file (hashed, dropped) |
| `POST /{id}/actions` | platform | removed, valid, invalid, rejected |

Intake is open to the public by law (access.py lets it through without the
API token); the rest needs the token. Replies never carry personal data
(signature, contact, statement): only the desk shows it, to leads. The
intake's reply carries only what the requester may know (number, state,
times, validity, receipt): never the copies found or the searches made,
which would tell anyone what the platform holds. The requester's receipt
is in the intake reply once and nowhere else. A request sent again with
the same `Idempotency-Key` header is not filed twice: the reply is 200,
with `repeat: true` and the request first filed, and no receipt; the same
key with a different body is refused (422, naming the Idempotency-Key).
About `[removals] max_per_hour` requests are taken an hour, from everyone
together (429 past it; a repeat is never refused by it). It is one count
for everyone, so one sender can use it all up, and a few requests arriving
at the same moment can pass it by a few.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Request
from fastapi import Query as QueryParam
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from reclaim.matcher.media import MediaHashes
from reclaim.matcher.removals.model import Intake, State
from reclaim.matcher.removals.schemas import ActionIn, RemovalRequestIn
from reclaim.matcher.schemas import error_responses
from reclaim.matcher.service import MatcherService

#: A request number in a path.
PublicId = Annotated[str, Path(max_length=20, description="the request's RR- number")]
#: A client's key for one request, so that sending it again files nothing.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=16,
        max_length=200,
        pattern=r"^[!-~]+$",
        description=(
            "optional: a random key (a UUID) for this request; the same key "
            "sent again with the same body files nothing and answers 200 with "
            "the request it filed, `repeat: true` and no receipt; with another "
            "body it is refused (422)"
        ),
    ),
]
#: How an attached upload is hashed: the API's one upload hasher.
UploadHasher = Callable[[Request], Awaitable[MediaHashes]]

INTAKE_ERRORS = error_responses(413, 422, 429, 500)
#: The intake's answer to a request sent again with the same Idempotency-Key.
INTAKE_REPEAT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "sent before with this Idempotency-Key: nothing filed; the request "
            "it filed then, with `repeat: true` and no receipt"
        )
    }
}
PLATFORM_ERRORS = error_responses(401, 404, 409, 413, 422, 500)


def router(service: MatcherService, *, attached: UploadHasher) -> APIRouter:
    """The removal request endpoints of this matcher."""
    routes = APIRouter(tags=["removal requests"])
    removals = service.removals

    @routes.post(
        "/v1/removal-requests",
        summary="File a removal request (TAKE IT DOWN Act): open to anyone",
        status_code=201,
        responses={**INTAKE_REPEAT, **INTAKE_ERRORS},
    )
    async def intake(
        body: RemovalRequestIn, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        parsed = Intake.of(body, via="api")
        filed = await run_in_threadpool(
            removals.file, parsed, submission=idempotency_key
        )
        if filed.receipt is None:  # sent before with this key: filed once
            return JSONResponse({"ok": True, **filed.view.summary(), "repeat": True})
        return JSONResponse(
            {"ok": True, **filed.view.summary(), "receipt": filed.receipt},
            status_code=201,
        )

    @routes.get(
        "/v1/removal-requests",
        summary="Removal requests, open ones first by deadline, a page at a time",
        responses=PLATFORM_ERRORS,
    )
    def listing(
        view: Literal["open", "closed", "all"] = QueryParam("all"),
        state: State | None = QueryParam(None),
        due_within_hours: float | None = QueryParam(None, ge=0, le=10_000),
        limit: int = QueryParam(100, ge=1, le=500),
        offset: int = QueryParam(0, ge=0, le=10_000_000),
    ) -> dict[str, Any]:
        page = removals.store.listed(
            view=view,
            state=state.value if state else None,
            due_within_hours=due_within_hours,
            limit=limit,
            offset=offset,
        )
        return {
            "ok": True,
            "requests": [r.summary() for r in page.requests],
            "total": page.total,
            "offset": page.offset,
            "next_offset": page.next_offset,
        }

    @routes.get(
        "/v1/removal-requests/{public_id}",
        summary="One removal request: deadline, copies, actions and events",
        responses=PLATFORM_ERRORS,
    )
    def show(public_id: PublicId) -> dict[str, Any]:
        return {"ok": True, **removals.store.get(public_id).summary()}

    @routes.post(
        "/v1/removal-requests/{public_id}/media",
        summary="Attach the reported file (hashed in memory; hashes kept, bytes not)",
        responses=PLATFORM_ERRORS,
        openapi_extra={
            "requestBody": {
                "content": {"application/octet-stream": {}},
                "required": True,
            }
        },
    )
    async def media(
        request: Request,
        public_id: PublicId,
        reference: str | None = QueryParam(None, max_length=200),
    ) -> dict[str, Any]:
        # 404 before the upload is read; the store is read off the event loop.
        await run_in_threadpool(removals.store.get, public_id)
        hashes = await attached(request)
        found = await run_in_threadpool(
            removals.attach, public_id, hashes, reference=reference
        )
        return {"ok": True, **found.summary()}

    @routes.post(
        "/v1/removal-requests/{public_id}/actions",
        summary="Record copies removed, or decide: valid, invalid, rejected",
        responses=PLATFORM_ERRORS,
    )
    def act(public_id: PublicId, body: ActionIn) -> dict[str, Any]:
        if body.action == "removed":
            found = removals.store.mark_removed(public_id, body.references, actor="api")
        else:
            found = removals.store.decide(
                public_id, body.action, reason=body.reason, actor="api"
            )
        return {"ok": True, **found.summary()}

    return routes

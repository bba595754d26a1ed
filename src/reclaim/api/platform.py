"""The platform endpoints: the change feed, the snapshot stream, feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from reclaim.api.deps import PlatformDep, RegistryDep
from reclaim.api.list_index import ListIndex, parse_queries
from reclaim.api.schemas import (
    ChangesReply,
    FeedbackBatch,
    FeedbackCounts,
    FeedbackReply,
    FeedbackSummary,
    FeedbackSummaryQuery,
    FeedbackSummaryReply,
    MatchOut,
    MatchQuery,
    MatchReply,
    MatchResult,
    Program,
    error_responses,
)
from reclaim.registry.feed import as_utc
from reclaim.registry.service import MAX_PAGE

router = APIRouter(prefix="/api/v1/platform", tags=["platform"])

ERRORS = error_responses(400, 401, 403, 413, 422, 500, 503)


@router.get(
    "/changes",
    response_model=ChangesReply,
    responses=ERRORS,
    summary="Records changed after a cursor, oldest first",
)
async def changes(
    platform: PlatformDep,
    registry: RegistryDep,
    cursor: int = Query(0, ge=0, le=2**62, description="last cursor you received"),
    limit: int = Query(1000, ge=1, le=MAX_PAGE),
    program: list[Program] | None = Query(None, description="restrict to programs"),
) -> Response:
    page = await run_in_threadpool(
        lambda: registry.changes(platform, cursor=cursor, limit=limit, programs=program)
    )
    # Written by hand: pydantic, or even a dict per record, costs more than
    # the query for 10,000-record pages. The shape is ChangesReply's (checked
    # by the tests).
    records = ",".join(
        _record(kind, value, quality, program, status, count, flagged, change, at)
        for kind, value, quality, program, status, count, flagged, change, at in (
            page.entries
        )
    )
    body = (
        f'{{"ok":true,"records":[{records}],"cursor":{page.cursor},'
        f'"has_more":{"true" if page.has_more else "false"}}}'
    )
    return Response(body.encode(), media_type="application/json")


def _record(
    kind: object,
    value: object,
    quality: object,
    program: object,
    status: object,
    case_count: object,
    quarantined: object,
    change: object,
    updated: object,
) -> str:
    """One record as a JSON object (the snapshot's lines and `changes`).

    Every field but `value` is a name or a number from the database.
    """
    text = str(value)
    # Canonical hex needs no escaping; vPDQ text and anything else does.
    quoted = f'"{text}"' if text.isalnum() else json.dumps(text)
    return (
        f'{{"type":"{kind}","value":{quoted},'
        f'"quality":{"null" if quality is None else quality},'
        f'"program":"{program}","status":"{status}","case_count":{case_count},'
        f'"quarantined":{"true" if quarantined else "false"},"change":{change},'
        f'"updated_at":"{_iso(updated)}"}}'
    )


@router.get(
    "/snapshot",
    responses={200: {"content": {"application/x-ndjson": {}}}, **ERRORS},
    summary="Every active record as NDJSON, then a line with the cursor",
)
async def snapshot(
    platform: PlatformDep,
    registry: RegistryDep,
    program: list[Program] | None = Query(None, description="restrict to programs"),
) -> StreamingResponse:
    cursor, rows = await run_in_threadpool(registry.snapshot, platform, program)
    return StreamingResponse(
        _ndjson(cursor, rows),
        media_type="application/x-ndjson",
        headers={"X-Reclaim-Cursor": str(cursor)},
    )


def _ndjson(cursor: int, rows: Iterator[tuple[object, ...]]) -> Iterator[bytes]:
    """Lines of records, 2,000 to a chunk, and a closing line with the count.

    The closing line lets a client tell a complete snapshot from a cut one.
    """
    count = 0
    chunk: list[str] = []
    for kind, value, quality, program, case_count, quarantined, change, updated in rows:
        count += 1
        chunk.append(
            _record(
                kind,
                value,
                quality,
                program,
                "active",
                case_count,
                bool(quarantined),
                change,
                updated,
            )
        )
        if len(chunk) >= 2000:
            yield ("\n".join(chunk) + "\n").encode()
            chunk = []
    chunk.append(json.dumps({"end": True, "cursor": cursor, "count": count}))
    yield ("\n".join(chunk) + "\n").encode()


def _iso(value: object) -> str:
    """The same UTC timestamp form as the JSON endpoints ('...Z')."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    return str(value)


@router.post(
    "/match",
    response_model=MatchReply,
    responses=ERRORS,
    summary="Match hashes against the list without holding it",
)
async def match(
    body: MatchQuery, request: Request, platform: PlatformDep, registry: RegistryDep
) -> MatchReply:
    index: ListIndex = request.app.state.list_index
    queries = parse_queries([(h.type, h.value) for h in body.hashes])
    found = await run_in_threadpool(
        lambda: index.match(queries, programs=platform.programs, radius=body.radius)
    )
    await run_in_threadpool(
        lambda: registry.note_fetch(
            platform, kind="match", queries=len(queries), matched=sum(map(bool, found))
        )
    )
    return MatchReply(
        results=[
            MatchResult(
                matches=[
                    MatchOut(
                        type=m.kind.value,
                        value=m.value,
                        program=m.program,
                        distance=m.distance,
                    )
                    for m in matches
                ]
            )
            for matches in found
        ]
    )


@router.post(
    "/feedback",
    response_model=FeedbackReply,
    responses=ERRORS,
    summary="Report what you did about matched hashes",
)
async def give_feedback(
    body: FeedbackBatch, platform: PlatformDep, registry: RegistryDep
) -> FeedbackReply:
    items = [item.model_dump() for item in body.items]
    accepted, unknown = await run_in_threadpool(registry.give_feedback, platform, items)
    return FeedbackReply(accepted=accepted, unknown=unknown)


@router.post(
    "/feedback/summary",
    response_model=FeedbackSummaryReply,
    responses=ERRORS,
    summary="Count what other platforms reported about listed hashes",
)
async def feedback_summary(
    body: FeedbackSummaryQuery, platform: PlatformDep, registry: RegistryDep
) -> FeedbackSummaryReply:
    """Per hash: whether it is listed for you, quarantined, and how many other
    platforms' current feedback is each value. Your own feedback is left out,
    and no platform is named; a hash not listed for you gets zeros."""
    found = await run_in_threadpool(
        registry.feedback_summary, platform, [(h.type, h.value) for h in body.hashes]
    )
    return FeedbackSummaryReply(
        results=[
            FeedbackSummary(
                type=r.signal_type,
                value=r.value,
                listed=r.listed,
                quarantined=r.quarantined,
                reports=FeedbackCounts(**{k.value: n for k, n in r.counts.items()}),
            )
            for r in found
        ]
    )

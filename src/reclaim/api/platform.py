"""The platform endpoints: the change feed, the snapshot stream, feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from reclaim.api.deps import PlatformDep, RegistryDep
from reclaim.api.schemas import (
    ChangesReply,
    FeedbackBatch,
    FeedbackReply,
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
    program: list[str] | None = Query(None, description="restrict to programs"),
) -> JSONResponse:
    page = await run_in_threadpool(
        lambda: registry.changes(platform, cursor=cursor, limit=limit, programs=program)
    )
    # Serialised by hand: pydantic per record costs more than the query for
    # 10,000-record pages. The shape is ChangesReply's (checked by the tests).
    body = {
        "ok": True,
        "records": [
            {
                "type": e.signal_type,
                "value": e.value,
                "quality": e.quality,
                "program": e.program,
                "status": e.status,
                "case_count": e.case_count,
                "quarantined": e.quarantined,
                "change": e.change,
                "updated_at": _iso(e.updated_at),
            }
            for e in page.entries
        ],
        "cursor": page.cursor,
        "has_more": page.has_more,
    }
    return JSONResponse(body)


@router.get(
    "/snapshot",
    responses={200: {"content": {"application/x-ndjson": {}}}, **ERRORS},
    summary="Every active record as NDJSON, then a line with the cursor",
)
async def snapshot(
    platform: PlatformDep,
    registry: RegistryDep,
    program: list[str] | None = Query(None, description="restrict to programs"),
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
    dumps = json.dumps
    count = 0
    chunk: list[str] = []
    for kind, value, quality, program, case_count, quarantined, change, updated in rows:
        count += 1
        stamp = _iso(updated)
        chunk.append(
            f'{{"type":"{kind}","value":{dumps(value)},"quality":{dumps(quality)},'
            f'"program":"{program}","status":"active","case_count":{case_count},'
            f'"quarantined":{dumps(bool(quarantined))},"change":{change},'
            f'"updated_at":"{stamp}"}}\n'
        )
        if len(chunk) >= 2000:
            yield "".join(chunk).encode()
            chunk = []
    chunk.append(dumps({"end": True, "cursor": cursor, "count": count}) + "\n")
    yield "".join(chunk).encode()


def _iso(value: object) -> str:
    """The same UTC timestamp form as the JSON endpoints ('...Z')."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    return str(value)


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

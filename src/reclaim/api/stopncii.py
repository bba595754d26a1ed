"""StopNCII-compatible hash exchange under /stopncii/v1/.

Field names, enum values, paging and header authentication follow the
StopNCII API as python-threatexchange's `StopNCIIAPI` client uses it, so that
client works against this registry unchanged: pass
`base_url_override="https://<registry>/stopncii/v1"` and the platform's API
key as both the subscription key and the function key. pytx's exchange (and
so HMA) needs `reclaim.interop.StopNCIISignalExchangeAPI` to honour
withdrawals: see docs/hma.md.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from reclaim.api.deps import registry as registry_of
from reclaim.api.schemas import (
    ExchangeFeedbackBatch,
    ExchangeRecordBatch,
    error_responses,
)
from reclaim.api.stopncii_wire import (
    FEEDBACK_NAMES,
    SIGNAL_NAMES,
    STATUS_NAMES,
    feedback_items,
    submitted_records,
)
from reclaim.registry.errors import AuthenticationError
from reclaim.registry.exchange import ExchangePage
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import MAX_PAGE

router = APIRouter(prefix="/stopncii/v1", tags=["stopncii"])

ERRORS = error_responses(400, 401, 413, 422, 500, 503)

#: 9999-12-31T23:59:59Z, the last second a timestamp can name.
MAX_TIMESTAMP = 253_402_300_799


def exchange_platform(
    request: Request,
    x_functions_key: Annotated[str | None, Header()] = None,
    ocp_apim_subscription_key: Annotated[str | None, Header()] = None,
) -> PlatformIdentity:
    """Both StopNCII headers must carry a valid key of the same platform."""
    if not x_functions_key or not ocp_apim_subscription_key:
        raise AuthenticationError(
            "send your API key in both x-functions-key and Ocp-Apim-Subscription-Key"
        )
    service = registry_of(request)
    first = service.authenticate(ocp_apim_subscription_key)
    if x_functions_key != ocp_apim_subscription_key:
        second = service.authenticate(x_functions_key)
        if second.id != first.id:
            raise AuthenticationError("the two keys belong to different platforms")
    return first


ExchangePlatform = Annotated[PlatformIdentity, Depends(exchange_platform)]


@router.get("/FetchHashes", responses=ERRORS, summary="StopNCII FetchHashes")
async def fetch_hashes(
    request: Request,
    platform: ExchangePlatform,
    start_timestamp: int = Query(10, alias="startTimestamp", ge=0, le=MAX_TIMESTAMP),
    page_size: int = Query(800, alias="pageSize", ge=1, le=MAX_PAGE),
    next_page_token: str | None = Query(None, alias="nextPageToken", max_length=40),
) -> Response:
    service = registry_of(request)
    page = await run_in_threadpool(
        lambda: service.exchange_fetch(
            platform,
            start_timestamp=start_timestamp,
            token=next_page_token,
            page_size=page_size,
        )
    )
    return Response(render_page(page), media_type="application/json")


def render_page(page: ExchangePage) -> bytes:
    """A FetchHashes answer as JSON, written directly.

    10,000-record pages are common; building a dict per record and encoding
    it costs several times the query. Values are canonical hex (PDQ, MD5),
    checked here, so they need no escaping; anything else is escaped.
    """
    dumps = json.dumps
    parts = []
    for last_modified, kind, value, state, feedbacks in page.records:
        signal = SIGNAL_NAMES[kind]
        status = STATUS_NAMES.get(state, "Unknown")
        quoted = f'"{value}"' if value.isalnum() else dumps(value)
        opinions = (
            dumps(
                [
                    {
                        "feedbackValue": FEEDBACK_NAMES[v],
                        "tags": list(tags),
                        "source": source,
                    }
                    for v, tags, source in feedbacks
                ]
            )
            if feedbacks
            else "[]"
        )
        parts.append(
            f'{{"lastModtimestamp":{last_modified},"signalType":"{signal}",'
            f'"hashValue":{quoted},"hashStatus":"{status}","caseNumbers":{{}},'
            f'"CSPFeedbacks":{opinions}}}'
        )
    head = dumps(
        {
            "count": len(page.records),
            "nextPageToken": page.next_token,
            "nextSetTimestamp": page.next_set_timestamp,
            "hasMoreRecords": page.has_more,
        }
    )
    return f'{head[:-1]},"hashRecords":[{",".join(parts)}]}}'.encode()


@router.post("/SubmitFeedback", responses=ERRORS, summary="StopNCII SubmitFeedback")
async def submit_feedback(
    request: Request, platform: ExchangePlatform, payload: ExchangeFeedbackBatch
) -> dict[str, Any]:
    items = feedback_items(payload.hashFeedbacks)
    service = registry_of(request)
    applied, unknown = await run_in_threadpool(
        service.exchange_feedback, platform, items
    )
    return {"count": applied, "unknownHashIndexes": unknown}


@router.post("/SubmitHashes", responses=ERRORS, summary="StopNCII SubmitHashes")
async def submit_hashes(
    request: Request, platform: ExchangePlatform, payload: ExchangeRecordBatch
) -> dict[str, Any]:
    service = registry_of(request)
    hashes, notes = submitted_records(
        payload.hashRecords, limit=service.request_limit()
    )
    count = await run_in_threadpool(service.exchange_submit, platform, hashes, notes)
    return {"count": count}

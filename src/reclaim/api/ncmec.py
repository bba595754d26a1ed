"""NCMEC Hash Sharing API v2 under /ncmec/v2/, for NCMEC's own clients.

Unmodified python-threatexchange (`NCMECHashAPI`, and so HMA) fetches,
pages, sees deletions and sends feedback here when its base URL is
`https://<registry>/ncmec` (`reclaim.interop.NCMECSignalExchangeAPI` sets
it from RECLAIM_NCMEC_URL). Authentication is HTTP Basic: the platform's
name as the user and its API key as the password. Answers are XML; errors
keep the project's one JSON shape (NCMEC's clients only read the status).
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from reclaim.api import ncmec_xml
from reclaim.api.deps import registry as registry_of
from reclaim.api.deps import settings as settings_of
from reclaim.api.schemas import ErrorReply
from reclaim.registry.errors import (
    AuthenticationError,
    InvalidRequestError,
    RevokedKeyError,
)
from reclaim.registry.ncmec import REGISTRY_MEMBER, PageRef, platform_member
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import MAX_PAGE

XML = "application/xml"


class XMLResponse(Response):
    """An XML document (so that the OpenAPI schema says so)."""

    media_type = XML


#: Every answer is an XML document (see `ncmec_xml`), every error the one JSON
#: shape. The error schema is given inline: with a `model`, FastAPI would file
#: it under the routes' XML media type.
_ERROR = {"application/json": {"schema": ErrorReply.model_json_schema()}}
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An NCMEC Hash Sharing API v2 XML document",
        "content": {XML: {"schema": {"type": "string"}}},
    },
    **{
        status: {"description": "An error, in the one error shape", "content": _ERROR}
        for status in (401, 404, 413, 422, 500, 503)
    },
}

router = APIRouter(
    prefix="/ncmec/v2",
    tags=["ncmec"],
    responses=ANSWERS,
    default_response_class=XMLResponse,
)
CHALLENGE = {"WWW-Authenticate": 'Basic realm="reclaim NCMEC API", charset="UTF-8"'}
_LARGEST = 2**63 - 1


def _credentials(authorization: str | None) -> tuple[str, str]:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationError(
            "send HTTP Basic authentication: your platform's name as the user and "
            "its API key as the password"
        )
    try:
        user, colon, password = (
            b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        user, colon, password = "", "", ""
    if not colon:
        raise AuthenticationError(
            "the Basic credentials are not base64 of 'name:key' in UTF-8: send "
            "your platform's name and API key"
        )
    return user, password


def ncmec_platform(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> PlatformIdentity:
    """The platform whose name and API key are the Basic user and password."""
    try:
        user, key = _credentials(authorization)
        try:
            platform = registry_of(request).authenticate(key)
        except RevokedKeyError:
            raise
        except AuthenticationError:
            raise AuthenticationError(
                "the password is not a valid API key: send your platform's name "
                "as the user and its API key as the password"
            ) from None
        # Compared in constant time, as the key is: the name is half the login.
        if not hmac.compare_digest(user.encode(), platform.name.encode()):
            raise AuthenticationError(
                "the user name is not the name of the platform that owns this API "
                "key: send the platform's name as the user"
            )
    except AuthenticationError as error:
        # The app answers AuthenticationError with a Bearer challenge; NCMEC
        # clients need a Basic one.
        raise HTTPException(401, str(error), headers=CHALLENGE) from None
    return platform


NCMECPlatform = Annotated[PlatformIdentity, Depends(ncmec_platform)]


def _xml(body: bytes) -> Response:
    return XMLResponse(body)


@router.get("/status", summary="Who you are, as an NCMEC member")
async def status(platform: NCMECPlatform) -> Response:
    return _xml(ncmec_xml.status(platform_member(platform.id, platform.name)))


@router.get("/members", summary="Every member (ESP)")
async def members(request: Request, platform: NCMECPlatform) -> Response:
    listing = await run_in_threadpool(registry_of(request).ncmec_members)
    return _xml(ncmec_xml.members(listing))


@router.get(
    "/feedback/{fingerprint_type}/reasons",
    summary="Reasons for negative feedback on a fingerprint type",
)
async def feedback_reasons(fingerprint_type: str, platform: NCMECPlatform) -> Response:
    kind = _fingerprint(fingerprint_type)
    return _xml(ncmec_xml.reasons(kind.capitalize()))


@router.get("/entries", summary="Entries updated in a time window")
async def entries(
    request: Request,
    platform: NCMECPlatform,
    start_time: str = Query(..., alias="from", max_length=40),
    end_time: str = Query(..., alias="to", max_length=40),
    start: int | None = Query(None, ge=0, le=_LARGEST),
    size: int | None = Query(None, ge=1, le=MAX_PAGE),
    last: int | None = Query(None, alias="max", ge=0, le=_LARGEST),
) -> Response:
    begin = ncmec_xml.parse_time(start_time, "from")
    end = ncmec_xml.parse_time(end_time, "to")
    if (start is None) != (last is None):
        raise InvalidRequestError(
            "'start' and 'max' come together, from a `next` link: pass both, or "
            "neither for a window's first page"
        )
    ref = None if start is None or last is None else PageRef(start, last)
    chosen = size or settings_of(request).ncmec_page_size
    service = registry_of(request)
    page = await run_in_threadpool(
        lambda: service.ncmec_entries(
            platform, start=begin, end=end, page=ref, size=chosen
        )
    )
    return _xml(ncmec_xml.entries(page, REGISTRY_MEMBER, size=chosen))


@router.put(
    "/entries/{member_id}/{entry_id}/{fingerprint_type}/feedback",
    summary="Affirmative or negative feedback on an entry's fingerprint",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {XML: {"schema": {"type": "string"}}},
        }
    },
)
async def feedback(
    request: Request,
    platform: NCMECPlatform,
    member_id: int,
    entry_id: str,
    fingerprint_type: str,
) -> Response:
    kind = _fingerprint(fingerprint_type)
    vote, guids = ncmec_xml.parse_vote(await request.body())
    service = registry_of(request)
    await run_in_threadpool(
        lambda: service.ncmec_feedback(
            platform,
            member_id=member_id,
            entry_id=entry_id,
            signal_type=kind,
            vote=vote,
            reason_guids=guids,
        )
    )
    return _xml(ncmec_xml.submission_result())


def _fingerprint(name: str) -> str:
    """Our hash type for an NCMEC fingerprint type in a path ('PDQ' -> 'pdq')."""
    kind = ncmec_xml.FINGERPRINT_TYPES.get(name.upper())
    if kind is None:
        raise InvalidRequestError(
            f"{name[:30]!r} is not a fingerprint type served here: expected "
            f"{' or '.join(ncmec_xml.FINGERPRINT_TYPES)}"
        )
    return kind

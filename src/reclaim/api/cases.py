"""The person's endpoints: open a case, read it, add hashes, withdraw it.

PINs travel in request bodies (never URLs), and every well-formed PIN use
counts against the client's allowance, right or wrong; wrong ones also count
against the case (`pin_guard`). Browser requests from other sites and non-JSON
bodies are refused before anything is counted (`origin`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from starlette.concurrency import run_in_threadpool

from reclaim.api.deps import LimitsDep, RegistryDep
from reclaim.api.origin import person_request
from reclaim.api.schemas import (
    AddHashes,
    CaseNumber,
    CaseOut,
    CaseReply,
    CreateCase,
    CreatedReply,
    HashOut,
    ItemOut,
    PinOnly,
    SharedOut,
    error_responses,
)
from reclaim.registry.cases import CaseView, SharedOutcome
from reclaim.registry.idempotency import HEADER, IdempotencyKey

router = APIRouter(
    prefix="/api/v1/cases", tags=["cases"], dependencies=[Depends(person_request)]
)

ERRORS = error_responses(400, 403, 404, 409, 413, 415, 422, 429, 500, 503)


def case_out(view: CaseView) -> CaseOut:
    """The wire form of a case."""

    def shared(outcomes: tuple[SharedOutcome, ...]) -> list[SharedOut]:
        return [
            SharedOut(platform=s.platform, outcome=s.outcome, copies=s.copies)
            for s in outcomes
        ]

    return CaseOut(
        number=view.number,
        program=view.program,
        status=view.status,
        created_at=view.created_at,
        withdrawn_at=view.withdrawn_at,
        hashes=[
            HashOut(
                type=h.signal_type,
                value=h.value,
                status=h.status,
                item=h.item,
                platforms_matched=h.platforms_matched,
                platforms_reviewed=h.platforms_reviewed,
                platforms_removed=h.platforms_removed,
                shared=shared(h.shared),
            )
            for h in view.hashes
        ],
        items=[
            ItemOut(
                item=i.item,
                kinds=list(i.kinds),
                hashes=i.hashes,
                status=i.status,
                platforms_matched=i.platforms_matched,
                platforms_reviewed=i.platforms_reviewed,
                platforms_removed=i.platforms_removed,
                shared=shared(i.shared),
            )
            for i in view.items
        ],
    )


def _items(hashes: list) -> list[dict[str, object]]:  # type: ignore[type-arg]
    return [h.model_dump(exclude_none=True) for h in hashes]


@router.post(
    "",
    status_code=201,
    response_model=CreatedReply,
    responses=ERRORS,
    summary="Open a case with hashes (never media)",
)
async def create_case(
    body: CreateCase,
    registry: RegistryDep,
    response: Response,
    limits: LimitsDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="22-64 URL-safe random characters, new for each case: "
            "a retry of the same request with the same key gets the same case "
            "number and PIN (for 24 hours), never a second case.",
        ),
    ] = None,
) -> CreatedReply:
    key = IdempotencyKey.parse(idempotency_key) if idempotency_key is not None else None
    await limits.case_creation()
    new = await run_in_threadpool(
        partial(registry.create_case, idempotency_key=key),
        body.program,
        _items(body.hashes),
    )
    if new.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CreatedReply(case_number=new.number, pin=new.pin, case=case_out(new.view))


@router.post(
    "/{number}/status",
    response_model=CaseReply,
    responses=ERRORS,
    summary="Read a case's status with its PIN",
)
async def case_status(
    number: CaseNumber, body: PinOnly, registry: RegistryDep, limits: LimitsDep
) -> CaseReply:
    view = await limits.pin_use(number, partial(registry.case_status, number, body.pin))
    return CaseReply(case=case_out(view))


@router.post(
    "/{number}/hashes",
    response_model=CaseReply,
    responses=ERRORS,
    summary="Add hashes to an open case",
)
async def add_hashes(
    number: CaseNumber, body: AddHashes, registry: RegistryDep, limits: LimitsDep
) -> CaseReply:
    view = await limits.pin_use(
        number, partial(registry.add_hashes, number, body.pin, _items(body.hashes))
    )
    return CaseReply(case=case_out(view))


@router.post(
    "/{number}/withdraw",
    response_model=CaseReply,
    responses=ERRORS,
    summary="Withdraw a case: its hashes leave the list",
)
async def withdraw_case(
    number: CaseNumber, body: PinOnly, registry: RegistryDep, limits: LimitsDep
) -> CaseReply:
    view = await limits.pin_use(
        number, partial(registry.withdraw_case, number, body.pin)
    )
    return CaseReply(case=case_out(view))

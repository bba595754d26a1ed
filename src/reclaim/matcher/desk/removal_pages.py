"""Removal requests on the desk, and the public form at /removal.

Desk pages: `/desk/removals` (open requests by deadline, overdue first,
50 a page, or the closed ones, newest first; a banner counts those overdue,
due soon and waiting for a lead to check) and `/desk/removals/{id}` (the
deadline and time left, the four parts, validity, copies with how each was
found and a Mark removed button, actions and the record of efforts).
Personal data (signature, contact, statement, descriptions, on whose
behalf) is shown to leads and admins only; reviewers see "hidden: lead
only". Only leads decide (valid, invalid, rejected, with a reason): a
complete request waits, `received`, until a lead marks it valid. Leads
export the record as JSON (no personal data). Every post checks CSRF.

Public pages (with `[removals] public_form`): `/removal`, a plain-language
form for the Act's four parts, which shows the receipt once (each form
carries a random one-time token: sent again, by a reload of the receipt
page, it files nothing and says the request was already received; sent
again changed, after Back, it comes back as typed with a new token and
says the earlier form was sent); and
`/removal/status`, where the number and receipt (posted, never in a URL)
tell the state, the deadline and whether the content was removed, and a
wrong pair is told apart from an unknown number in no way. Every sentence
these pages say of what happens (the check by a person, the retention of
personal data, no IP address kept) must stay true of the code: tests pin
them. The store's work runs in the threadpool, off the event loop.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.sessions import DeskUser
from reclaim.matcher.errors import (
    DeskError,
    RemovalError,
    RemovalLimitError,
    SubmissionReusedError,
    UnknownRemovalError,
)
from reclaim.matcher.removals.listing import VIEWS
from reclaim.matcher.removals.model import OPEN, Intake, RemovalRequest, State
from reclaim.matcher.removals.schemas import MAX_ITEMS, RemovalRequestIn
from reclaim.strict import validation_problems

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk, Form

#: Requests on one page of the desk's list.
PAGE = 50
#: What the public form says past `[removals] max_per_hour`.
BUSY = (
    "We are receiving an unusual number of requests right now and could not "
    "take yours. Nothing was sent: please send it again in an hour. What you "
    "typed is still here."
)

#: What the record's steps are called on the page.
STEPS = {
    "received": "Request received",
    "checked": "Four parts checked",
    "hashed": "Reported item hashed",
    "hashes_skipped": "Hashes skipped: they would match nearly anything",
    "searched_catalog": "Catalog searched",
    "watching_uploads": "Watching new uploads",
    "copy_found": "Copy found",
    "takedown_asked": "Takedown asked of the platform",
    "copy_removed": "Copy removed",
    "reminder": "Reminder sent",
    "escalated": "Escalated",
    "overdue": "Deadline passed",
    "skipped": "Notice skipped (a later one was due)",
    "valid": "Marked valid",
    "invalid": "Marked invalid",
    "rejected": "Rejected",
    "closed": "Closed: all copies removed",
    "redacted": "Personal data deleted",
}
FOUND_BY = {
    "reported": "named in the request",
    "forward": "matched as uploaded",
    "catalog": "found in the catalog",
    "platform": "named by the platform",
}
#: A well-formed one-time submission token (as `submission_token` makes).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
STATEMENT = (
    "I believe in good faith that this intimate image or video was published "
    "without the consent of the person shown."
)


def time_left(deadline: datetime, now: datetime) -> str:
    """'41 h 12 min left', or 'overdue by 3 h 5 min'."""
    seconds = int((deadline - now).total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    span = f"{hours} h {minutes} min"
    return f"{span} left" if seconds >= 0 else f"overdue by {span}"


def install(desk: Desk) -> None:
    """The desk's removal pages and the public form."""
    _desk_pages(desk)
    _public_pages(desk)


def _desk_pages(desk: Desk) -> None:
    router = desk.router
    reviewer = Depends(desk.needs(Role.REVIEWER))
    lead = Depends(desk.needs(Role.LEAD))
    removals = desk.service.removals

    @router.get("/desk/removals")
    def listing(
        request: Request,
        view: str = Query("open", max_length=8),
        state: str = Query("", max_length=16),
        page: int = Query(1, ge=1, le=100_000),
        user: DeskUser = reviewer,
    ) -> Response:
        now = datetime.now(UTC)
        chosen = state if state in {s.value for s in State} else ""
        shown = view if view in VIEWS else "open"
        if chosen:
            shown = "open" if State(chosen) in OPEN else "closed"
        found = removals.store.listed(
            view=shown,
            state=chosen or None,
            now=now,
            limit=PAGE,
            offset=(page - 1) * PAGE,
        )
        return desk.page(
            request,
            "removals.html",
            user=user,
            section="removals",
            requests=found.requests,
            total=found.total,
            page=page,
            pages=max(1, -(-found.total // PAGE)),
            view=shown,
            state=chosen,
            states=[s.value for s in State],
            counts=removals.store.counts(now=now),
            remind_hours=removals.config.remind_hours,
            left=lambda r: time_left(r.deadline, now),
            now=now,
        )

    @router.get("/desk/removals/{public_id}")
    def one(request: Request, public_id: str, user: DeskUser = reviewer) -> Response:
        found = _get(desk, public_id, personal=user.may(Role.LEAD))
        now = datetime.now(UTC)
        return desk.page(
            request,
            "removal.html",
            user=user,
            section="removals",
            item=found,
            left=time_left(found.deadline, now),
            overdue=found.open and found.deadline <= now,
            lead=user.may(Role.LEAD),
            steps=STEPS,
            found_by=FOUND_BY,
            validity=found.validity(),
            detail=_detail,
        )

    @router.get("/desk/removals/{public_id}/export.json")
    def export(public_id: str, user: DeskUser = lead) -> Response:
        found = _get(desk, public_id, personal=False)
        return Response(
            json.dumps({"request": found.summary()}, indent=2, sort_keys=True),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{found.public_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/desk/removals/{public_id}/removed")
    async def removed(
        request: Request, public_id: str, user: DeskUser = reviewer
    ) -> Response:
        form = await desk.form(request, user)
        references = [r for r in form.all("reference") if r.strip()]
        try:
            # The store holds every reference to the API's rule (check_reference).
            done = await run_in_threadpool(
                removals.store.mark_removed, public_id, references, actor=user.name
            )
        except RemovalError as error:
            raise DeskError(str(error)) from None
        notice = f"{len(references)} marked removed"
        if done.state is State.REMOVED:
            notice += ": every copy is removed and the request is closed"
        return desk.back(f"/desk/removals/{public_id}", notice=notice)

    @router.post("/desk/removals/{public_id}/decide")
    async def decide(
        request: Request, public_id: str, user: DeskUser = lead
    ) -> Response:
        form = await desk.form(request, user)
        try:
            done = await run_in_threadpool(
                removals.store.decide,
                public_id,
                form.get("action"),
                reason=form.get("reason")[:1000],
                actor=user.name,
            )
        except RemovalError as error:
            raise DeskError(str(error)) from None
        return desk.back(
            f"/desk/removals/{public_id}", notice=f"Request is now {done.state.value}"
        )


def _public_pages(desk: Desk) -> None:
    router = desk.router
    removals = desk.service.removals

    def page(
        request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        if not removals.config.public_form:
            raise HTTPException(404)
        # "We look for copies" only where copies can be found: a location
        # must resolve to a reference (the form sends no hashes).
        context.setdefault("searching", bool(removals.store.patterns))
        return desk.page(
            request,
            template,
            user=None,
            status=status,
            retention_days=removals.config.retention_days,
            **context,
        )

    def again(
        request: Request, form: Form, status: int, problems: list[str]
    ) -> Response:
        """The form filled in as sent, with what to fix (same token: nothing
        was filed with it)."""
        return page(
            request,
            "removal_form.html",
            status=status,
            given=_given(form),
            submission=_token(form) or submission_token(),
            statement=STATEMENT,
            problems=problems,
        )

    @router.get("/removal")
    def form_page(request: Request) -> Response:
        return page(
            request,
            "removal_form.html",
            given={},
            submission=submission_token(),
            statement=STATEMENT,
        )

    @router.post("/removal")
    async def form_sent(request: Request) -> Response:
        if not removals.config.public_form:
            raise HTTPException(404)
        form = await desk.form(request, None)
        try:
            body = RemovalRequestIn.model_validate(_body(form))
            intake = Intake.of(body, via="form")
        except (ValidationError, RemovalError) as error:
            problems = (
                validation_problems(error.errors())
                if isinstance(error, ValidationError)
                else [str(error)]
            )
            return again(request, form, 400, problems)
        try:
            filed = await run_in_threadpool(
                removals.file, intake, submission=_token(form)
            )
        except RemovalLimitError as error:
            answer = again(request, form, 429, [BUSY])
            answer.headers["Retry-After"] = str(error.retry_after)
            return answer
        except SubmissionReusedError as error:
            # Back, changed, sent again: the old token with another form.
            # Not a repeat: the form as typed now, with a new token.
            return page(
                request,
                "removal_form.html",
                status=409,
                given=_given(form),
                submission=submission_token(),
                statement=STATEMENT,
                earlier=error.public_id,
            )
        if filed.receipt is None:  # this form was sent before: filed once
            return page(request, "removal_receipt.html", item=filed.view, repeat=True)
        searching = bool(intake.hashes) or any(
            removals.store.resolve(location) for location in intake.locations
        )
        return page(
            request,
            "removal_receipt.html",
            item=filed.view,
            receipt=filed.receipt,
            searching=searching,
        )

    @router.get("/removal/status")
    def status_page(request: Request) -> Response:
        return page(request, "removal_receipt.html", item=None, asking=True)

    @router.post("/removal/status")
    async def status(request: Request) -> Response:
        if not removals.config.public_form:
            raise HTTPException(404)
        form = await desk.form(request, None)
        try:
            # Hashing the receipt and reading the store: off the event loop.
            found = await run_in_threadpool(
                removals.store.check_receipt,
                form.get("number").strip().upper()[:20],
                form.get("receipt").strip(),
            )
        except UnknownRemovalError as error:
            return page(
                request,
                "removal_receipt.html",
                status=404,
                item=None,
                asking=True,
                problem=str(error),
            )
        return page(request, "removal_receipt.html", item=found, checked=True)


def submission_token() -> str:
    """A new random one-time token for a form: filed with it once at most."""
    return secrets.token_urlsafe(24)


def _token(form: Form) -> str | None:
    """The form's one-time token, if it sent a well-formed one (a form
    without one is filed as sent, with nothing to tell a repeat by)."""
    token = form.get("submission")
    return token if _TOKEN.fullmatch(token) else None


def _get(desk: Desk, public_id: str, *, personal: bool) -> RemovalRequest:
    try:
        return desk.service.removals.store.get(public_id, personal=personal)
    except UnknownRemovalError:
        raise HTTPException(404) from None


def _detail(event: Any) -> str:
    """A step's detail in words (no personal data is ever in it)."""
    detail = event.detail
    parts = []
    for name, value in detail.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        parts.append(f"{name.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _given(form: Form) -> dict[str, str]:
    """What was typed, to fill the form in again after a problem."""
    names = (
        "role",
        "on_behalf_of",
        "locations",
        "description",
        "statement",
        "statement_confirmed",
        "email",
        "phone",
        "postal_address",
        "signature",
        "signature_confirmed",
    )
    return {name: form.get(name) for name in names}


def _body(form: Form) -> dict[str, Any]:
    """The public form's fields as the API's request body."""
    locations = [line.strip() for line in form.get("locations").splitlines()]
    locations = [line for line in locations if line]
    description = form.get("description").strip() or None
    role = form.get("role") or "depicted_person"
    return {
        "requester": {
            "role": role,
            "on_behalf_of": form.get("on_behalf_of").strip() or None,
        },
        "signature": {
            "name": form.get("signature").strip(),
            "confirmed": form.get("signature_confirmed") == "yes",
        },
        "content": [
            {"location": location, "description": description if n == 0 else None}
            for n, location in enumerate(locations[: MAX_ITEMS + 1])
        ],
        "good_faith_statement": {
            "confirmed": form.get("statement_confirmed") == "yes",
            "statement": form.get("statement").strip(),
        },
        "contact": {
            "email": form.get("email").strip() or None,
            "phone": form.get("phone").strip() or None,
            "postal_address": form.get("postal_address").strip() or None,
        },
    }

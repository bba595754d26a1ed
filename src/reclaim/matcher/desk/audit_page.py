"""The audit trail page: who decided, undid or changed what, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from reclaim.matcher.desk import audit
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.sessions import DeskUser
from reclaim.matcher.desk.site import whole_number

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk

PAGE = 100


def install(desk: Desk) -> None:
    """`GET /desk/audit` (leads and admins)."""
    lead = Depends(desk.needs(Role.LEAD))

    @desk.router.get("/desk/audit")
    def audit_trail(
        request: Request,
        subject: str | None = Query(None, max_length=80),
        actor: str | None = Query(None, max_length=64),
        before: str | None = None,
        user: DeskUser = lead,
    ) -> Response:
        found = audit.events(
            desk.service.engine,
            subject=subject or None,
            actor=actor or None,
            limit=PAGE + 1,
            before=whole_number(before, "place in the trail") if before else None,
        )
        return desk.page(
            request,
            "audit.html",
            user=user,
            section="audit",
            events=found[:PAGE],
            more=found[PAGE - 1].id if len(found) > PAGE else None,
            subject=subject or "",
            actor=actor or "",
        )

"""The review queue on the desk: pending matches and moderators' decisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Request
from fastapi.responses import Response

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.sessions import DeskUser

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk


def install(desk: Desk) -> None:
    """`GET /desk` (the queue) and `POST /desk/decide`."""
    reviewer = Depends(desk.needs(Role.REVIEWER))

    @desk.router.get("/desk")
    def queue_page(request: Request, user: DeskUser = reviewer) -> Response:
        service = desk.service
        return desk.page(
            request,
            "queue.html",
            user=user,
            section="queue",
            items=service.queue.list(state="pending", limit=200),
            counts=service.queue.counts(),
        )

    @desk.router.post("/desk/decide")
    async def decide(request: Request, user: DeskUser = reviewer) -> Response:
        form = await desk.form(request, user)
        decision = form.get("decision")
        ids = [int(n) for n in form.all("id") if n.isdigit()]
        for match_id in ids:
            desk.service.decide(match_id, decision, reviewer=user.name)
        return desk.back("/desk", notice=f"{len(ids)} decided")

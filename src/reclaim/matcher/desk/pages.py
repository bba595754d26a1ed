"""Which pages the desk has: each feature adds its routes to the desk's router."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk


def install(desk: Desk) -> None:
    """Add every feature's pages (in the order the navigation lists them)."""
    from reclaim.matcher.desk import (
        audit_page,
        dashboard,
        queue,
        removal_pages,
        transparency_pages,
    )

    queue.install(desk)
    removal_pages.install(desk)
    dashboard.install(desk)
    transparency_pages.install(desk)
    audit_page.install(desk)

"""The HTTP layer: FastAPI routes over `reclaim.registry.service.Registry`."""

from __future__ import annotations

from reclaim.api.app import create_app

__all__ = ["create_app"]

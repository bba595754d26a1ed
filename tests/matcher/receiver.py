"""A real local HTTP server that receives the matcher's webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from reclaim.matcher.webhook import verify
from tests.conftest import live_server


@dataclass
class Receiver:
    """What a platform's moderation endpoint saw."""

    url: str = ""
    secret: str = ""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    failing: bool = False
    bad_signatures: int = 0


@contextmanager
def webhook_receiver(secret: str) -> Iterator[Receiver]:
    """Serve a receiver that checks signatures; `failing` makes it answer 503."""
    seen = Receiver(secret=secret)
    app = FastAPI()

    @app.post("/hooks")
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        if seen.failing:
            seen.refused += 1
            return JSONResponse({"ok": False}, status_code=503)
        if not verify(secret, dict(request.headers), body):
            seen.bad_signatures += 1
            return JSONResponse({"ok": False}, status_code=401)
        seen.deliveries.append(json.loads(body))
        return JSONResponse({"ok": True})

    with live_server(app) as url:
        seen.url = f"{url}/hooks"
        yield seen

"""A request-body size limit for the registry API and the matcher (ASGI).

Bodies are refused with 413 before they are read whole: at once when the
declared Content-Length is over the limit (or not a number), and as soon as
a streamed body passes it, by raising `BodyTooLargeError` from the app's
`receive`. That is an HTTP exception (413), so FastAPI passes it through
its body parsing untouched and the app's own HTTP error handler answers.
Both answers use the project's error shape: `{"ok": false, "error",
"errors", "status"}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reclaim.strict import error_payload


class BodyTooLargeError(HTTPException):
    """A request body over the limit (413); `detail` says the limit and what
    to do instead."""

    def __init__(self, limit: int, hint: str) -> None:
        super().__init__(413, f"the request body is over {limit} bytes: {hint}")
        self.limit = limit


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413; `hint` tells the
    client what to do instead (e.g. "send fewer hashes"). With `only`, the
    limit applies to the requests it accepts (by their ASGI scope)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        hint: str,
        only: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.hint = hint
        self.only = only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.only is not None and not self.only(scope)):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self.limit
        ):
            await _refuse(send, BodyTooLargeError(self.limit, self.hint).detail)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLargeError(self.limit, self.hint)
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Send, message: str) -> None:
    body = error_payload(413, message)
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})

"""`/docs` for the registry and the matcher: Swagger UI served from the package.

Nothing is loaded from another origin (a CDN would be blocked by the apps'
own Content-Security-Policy, and would learn who reads the docs). The page
is plain HTML; Swagger UI's files are vendored from the npm package
`swagger-ui-dist` by the web build (`web/build.mjs`, run by `make setup`)
into `vendor/`, and `docs.js` starts it without an inline script.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

HERE = Path(__file__).parent

#: Every file the page loads, by the name it is served under.
ASSETS = {
    "swagger-ui-bundle.js": HERE / "vendor" / "swagger-ui-bundle.js",
    "swagger-ui.css": HERE / "vendor" / "swagger-ui.css",
    "docs.js": HERE / "docs.js",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs.js"></script>
</body></html>
"""


def install(app: FastAPI) -> None:
    """Serve `/docs` and its files from this package (create the app with
    `docs_url=None, redoc_url=None`)."""
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(
            PAGE.format(title=escape(app.title), openapi=escape(openapi)),
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        path = ASSETS.get(name)
        if path is None:
            raise HTTPException(404, f"{name[:40]!r} is not a file of the docs page")
        if not path.is_file():
            raise HTTPException(
                404,
                f"{name} was not vendored: run `make setup` (the web build copies "
                "Swagger UI from the npm package swagger-ui-dist)",
            )
        return FileResponse(path, media_type=_TYPES[path.suffix])

"""Serving the web app: the page in the person's language, and static files."""

from __future__ import annotations

import functools
import html
import json
import mimetypes
import re
from importlib import resources

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from reclaim.web.i18n import LANGUAGES, Language, catalog, negotiate

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")

router = APIRouter(include_in_schema=False)

_SLOT = re.compile(r"\{\{(t:)?([a-z0-9_.]+)\}\}")


def static_files() -> StaticFiles:
    """The app's static files (scripts, styles, vendored libraries)."""
    directory = resources.files("reclaim.web").joinpath("static")
    return StaticFiles(directory=str(directory))


@functools.lru_cache(maxsize=1)
def _template() -> str:
    path = resources.files("reclaim.web").joinpath("templates", "index.html")
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=64)
def render(code: str, leave_url: str) -> str:
    """The page, every text in the chosen language."""
    language = next(lang for lang in LANGUAGES if lang.code == code)
    messages = catalog(code)
    values = {
        "lang": language.code,
        "dir": language.direction,
        "leave_url": html.escape(leave_url, quote=True),
        "lang_options": "".join(_option(lang, language) for lang in LANGUAGES),
        # A JSON data block: never executed, so the CSP allows it.
        "messages": json.dumps(messages, ensure_ascii=False).replace("</", "<\\/"),
    }

    def fill(match: re.Match[str]) -> str:
        if match.group(1):
            return html.escape(messages[match.group(2)], quote=True)
        return values[match.group(2)]

    return _SLOT.sub(fill, _template())


def _option(language: Language, chosen: Language) -> str:
    selected = " selected" if language == chosen else ""
    return (
        f'<option value="{language.code}" lang="{language.code}" '
        f'dir="{language.direction}"{selected}>{html.escape(language.name)}</option>'
    )


@router.get("/", response_class=HTMLResponse)
async def page(
    request: Request, lang: str | None = Query(None, max_length=20)
) -> HTMLResponse:
    """The app, in the language asked for or the browser's."""
    language = negotiate(request.headers.get("accept-language"), lang)
    leave_url: str = request.app.state.settings.leave_url
    return HTMLResponse(
        render(language.code, leave_url),
        headers={"Content-Language": language.code, "Vary": "Accept-Language"},
    )

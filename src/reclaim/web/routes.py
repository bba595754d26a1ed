"""Serving the web app: the page in the person's language, and static files.

Besides the catalog's texts, the page shows what the operator configured
(who runs the registry, a contact, a privacy notice), the platforms that
agreed to be named, and the help-line directory (`helplines.py`).
"""

from __future__ import annotations

import functools
import html
import json
import mimetypes
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from reclaim.config import Settings
from reclaim.web import helplines
from reclaim.web.i18n import LANGUAGES, Language, catalog, negotiate

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")

router = APIRouter(include_in_schema=False)

_SLOT = re.compile(r"\{\{(t:)?([a-z0-9_.]+)\}\}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,30}$")


@dataclass(frozen=True, slots=True)
class Participant:
    """A platform that agreed to be named on the page, and the lists it reads."""

    name: str
    programs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PageInfo:
    """What the page shows besides its texts: the operator's details, the
    platforms named with their consent, and the help lines."""

    operator_name: str | None = None
    operator_contact: str | None = None
    privacy_notice_url: str | None = None
    platforms: tuple[Participant, ...] = ()
    directory: helplines.Loaded = field(default_factory=lambda: _built_in())

    @classmethod
    def of(
        cls, settings: Settings, platforms: tuple[Participant, ...] = ()
    ) -> PageInfo:
        """The page's details from the operator's settings."""
        return cls(
            settings.operator_name,
            settings.operator_contact,
            settings.privacy_notice_url,
            platforms,
            directory_of(settings.helplines_file),
        )


@functools.lru_cache(maxsize=8)
def directory_of(path: str | None) -> helplines.Loaded:
    """The help-line directory (validated once per file)."""
    return helplines.load(path)


def _built_in() -> helplines.Loaded:
    return directory_of(None)


def check(settings: Settings) -> None:
    """Fail at startup, not on the first page, if the help-line file is bad."""
    directory_of(settings.helplines_file)


def static_files() -> StaticFiles:
    """The app's static files (scripts, styles, vendored libraries)."""
    directory = resources.files("reclaim.web").joinpath("static")
    return StaticFiles(directory=str(directory))


@functools.lru_cache(maxsize=1)
def _template() -> str:
    path = resources.files("reclaim.web").joinpath("templates", "index.html")
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=128)
def render(
    code: str, leave_url: str, info: PageInfo | None = None, country: str = ""
) -> str:
    """The page, every text in the chosen language; help lines for `country`
    (default: the one the language suggests)."""
    info = info or PageInfo()
    language = next(lang for lang in LANGUAGES if lang.code == code)
    messages = catalog(code)

    def t(key: str, **values: str) -> str:
        text = html.escape(messages[key], quote=True)
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return text

    values = {
        "lang": language.code,
        "dir": language.direction,
        "leave_url": html.escape(leave_url, quote=True),
        "lang_options": "".join(_option(lang, language) for lang in LANGUAGES),
        # A JSON data block: never executed, so the CSP allows it.
        "messages": json.dumps(messages, ensure_ascii=False).replace("</", "<\\/"),
        "operator": _operator(info, t),
        "participants": _participants(info, t),
        "helplines": _helplines(info.directory.directory, language.code, country, t),
        "privacy_notice": _privacy_notice(info, t),
    }

    def fill(match: re.Match[str]) -> str:
        if match.group(1):
            return html.escape(messages[match.group(2)], quote=True)
        return values[match.group(2)]

    return _SLOT.sub(fill, _template())


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}" rel="noreferrer">{text}</a>'


def _contact_link(contact: str) -> str:
    shown = html.escape(contact)
    if _EMAIL.match(contact):
        return _link(f"mailto:{contact}", shown)
    if contact.startswith("https://"):
        return _link(contact, shown)
    if _PHONE.match(contact):
        return _link("tel:" + re.sub(r"[^0-9+]", "", contact), shown)
    return shown


def _operator(info: PageInfo, t: _Translate) -> str:
    parts = []
    if info.operator_name:
        parts.append(t("operator.by", name=html.escape(info.operator_name)))
    else:
        parts.append(t("operator.unset"))
    if info.operator_contact:
        parts.append(
            t("operator.contact", contact=_contact_link(info.operator_contact))
        )
    else:
        parts.append(t("operator.no_contact"))
    parts.append(_privacy_notice(info, t))
    return "".join(
        part if part.startswith("<p") else f"<p>{part}</p>" for part in parts
    )


def _privacy_notice(info: PageInfo, t: _Translate) -> str:
    if info.privacy_notice_url:
        return f"<p>{_link(info.privacy_notice_url, t('operator.privacy'))}</p>"
    return f"<p>{t('operator.no_privacy')}</p>"


def _participants(info: PageInfo, t: _Translate) -> str:
    if not info.platforms:
        return f"<p>{t('participants.none')}</p>"
    items = "".join(
        f"<li>{html.escape(p.name)} ({_programs(p.programs, t)})</li>"
        for p in info.platforms
    )
    intro, more = t("participants.intro"), t("participants.more")
    return f"<p>{intro}</p><ul>{items}</ul><p>{more}</p>"


def _programs(programs: tuple[str, ...], t: _Translate) -> str:
    return ", ".join(t(f"participants.{p}") for p in sorted(programs))


def _helplines(
    directory: helplines.Directory, code: str, country: str, t: _Translate
) -> str:
    chosen = country if country in directory.countries else directory.country_for(code)
    countries = sorted(directory.countries.items(), key=lambda c: c[1].name.casefold())
    options = "".join(
        f'<option value="{cc}"{" selected" if cc == chosen else ""}>'
        f"{html.escape(country.name)}</option>"
        for cc, country in countries
    )
    picker = (
        '<form class="help-country" method="get" action="/#support-h">'
        f'<label for="help-country">{t("help.country")}</label> '
        f'<select id="help-country" name="country">{options}</select> '
        f'<input type="hidden" name="lang" value="{code}">'
        f'<button type="submit" id="help-show">{t("help.show")}</button></form>'
    )
    lists = "".join(
        f'<ul class="helplines" data-help-country="{cc}"'
        f"{'' if cc == chosen else ' hidden'}>"
        + "".join(_line(line, t) for line in country.lines)
        + (f"<li>{t('help.none')}</li>" if not country.lines else "")
        + "</ul>"
        for cc, country in countries
    )
    everywhere = "".join(_line(line, t) for line in directory.international)
    return (
        picker
        + lists
        + f'<h3 class="help-everywhere">{t("help.everywhere")}</h3>'
        + f'<ul class="helplines">{everywhere}</ul>'
    )


def _line(line: helplines.Line, t: _Translate) -> str:
    who = t(f"help.for.{line.audience}")
    bits = [f"<strong>{html.escape(line.name)}</strong> ({who})"]
    if line.phone and line.tel:
        bits.append(
            f'<a href="tel:{html.escape(line.tel)}">'
            f'<bdi dir="ltr">{html.escape(line.phone)}</bdi></a>'
        )
    bits.append(_link(line.url, f'<bdi dir="ltr">{html.escape(_host(line.url))}</bdi>'))
    return "<li>" + " · ".join(bits) + "</li>"


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")


class _Translate(Protocol):
    """t(key, **values): a message, HTML-escaped, with values filled in."""

    def __call__(self, key: str, **values: str) -> str: ...


def _option(language: Language, chosen: Language) -> str:
    selected = " selected" if language == chosen else ""
    return (
        f'<option value="{language.code}" lang="{language.code}" '
        f'dir="{language.direction}"{selected}>{html.escape(language.name)}</option>'
    )


@router.get("/", response_class=HTMLResponse)
async def page(
    request: Request,
    lang: str | None = Query(None, max_length=20),
    country: str | None = Query(None, max_length=2),
) -> HTMLResponse:
    """The app, in the language asked for or the browser's."""
    language = negotiate(request.headers.get("accept-language"), lang)
    settings: Settings = request.app.state.settings
    named = tuple(
        Participant(p.name, p.programs)
        for p in await run_in_threadpool(request.app.state.registry.named_platforms)
    )
    return HTMLResponse(
        render(
            language.code,
            settings.leave_url,
            PageInfo.of(settings, named),
            (country or "").upper(),
        ),
        headers={"Content-Language": language.code, "Vary": "Accept-Language"},
    )

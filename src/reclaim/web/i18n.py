"""Languages of the web app: catalogs, negotiation from Accept-Language, RTL.

Catalogs are flat JSON files in `locales/`, one per language, with the same
keys as `en.json` and the same `{placeholders}` (a test checks both).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Language:
    """A language the page is offered in."""

    code: str
    name: str  # in the language itself
    rtl: bool = False

    @property
    def direction(self) -> str:
        """The HTML `dir` value."""
        return "rtl" if self.rtl else "ltr"


#: English first, then the languages NCMEC's Take It Down offers, then more.
LANGUAGES: tuple[Language, ...] = (
    Language("en", "English"),
    Language("es", "Español"),
    Language("hi", "हिन्दी"),
    Language("zh-Hans", "简体中文"),
    Language("fr", "Français"),
    Language("de", "Deutsch"),
    Language("is", "Íslenska"),
    Language("pt", "Português"),
    Language("ur", "اردو", rtl=True),
    Language("tl", "Tagalog"),
    Language("bn", "বাংলা"),
    Language("th", "ไทย"),
    Language("ar", "العربية", rtl=True),
    Language("nl", "Nederlands"),
    Language("ta", "தமிழ்"),
    Language("tr", "Türkçe"),
    Language("it", "Italiano"),
    Language("km", "ខ្មែរ"),
    Language("ckb", "کوردی (سۆرانی)", rtl=True),
    Language("kmr", "Kurdî (Kurmancî)"),
    Language("id", "Bahasa Indonesia"),
    Language("ml", "മലയാളം"),
    Language("mr", "मराठी"),
    Language("si", "සිංහල"),
    Language("vi", "Tiếng Việt"),
    Language("ko", "한국어"),
    Language("uk", "Українська"),
    Language("pl", "Polski"),
)
BY_CODE = {language.code.lower(): language for language in LANGUAGES}
DEFAULT = LANGUAGES[0]

#: Other tags browsers send for the same languages.
ALIASES = {
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-hans-cn": "zh-Hans",
    "fil": "tl",
    "ku": "kmr",
    "ku-arab": "ckb",
    "ku-iq": "ckb",
    "ku-ir": "ckb",
    "in": "id",
}

_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


def find(tag: str | None) -> Language | None:
    """The language for a tag like 'es-MX', 'zh-CN' or 'ckb', if offered."""
    if not tag or not _TAG.match(tag.strip()):
        return None
    lowered = tag.strip().lower()
    parts = lowered.split("-")
    for size in range(len(parts), 0, -1):
        candidate = "-".join(parts[:size])
        code = ALIASES.get(candidate, candidate)
        if code.lower() in BY_CODE:
            return BY_CODE[code.lower()]
    return None


def negotiate(accept_language: str | None, requested: str | None = None) -> Language:
    """The page language: ?lang= first, then Accept-Language by q, then English."""
    chosen = find(requested)
    if chosen:
        return chosen
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    for _, _, tag in sorted(weighted):
        found = find(tag)
        if found:
            return found
    return DEFAULT


@functools.lru_cache(maxsize=64)
def catalog(code: str) -> dict[str, str]:
    """A language's messages, with English for anything missing."""
    english = _load("en")
    if code == "en":
        return english
    return {**english, **_load(code)}


def _load(code: str) -> dict[str, str]:
    path = resources.files("reclaim.web").joinpath("locales", f"{code}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(k): str(v) for k, v in data.items()}


PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(text: str) -> list[str]:
    """The `{names}` in a message, in order."""
    return PLACEHOLDER.findall(text)


if __name__ == "__main__":  # python -m reclaim.web.i18n report
    from reclaim.web.reviews import main

    raise SystemExit(main())

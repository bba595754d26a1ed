"""The help-line directory: national help lines by country, from a data file.

The built-in `helplines.json` is seeded with lines for the main countries of
the page's languages, each citing the organisation's own page; an operator
replaces it with RECLAIM_HELPLINES_FILE (same format). The file is validated
once, at startup, so a typo stops the server instead of showing a broken line.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reclaim.errors import ReclaimError

logger = logging.getLogger(__name__)

_COUNTRY = r"^[A-Z]{2}$"


class HelplinesError(ReclaimError):
    """The help-line file cannot be read or does not have the expected form."""


class Line(BaseModel):
    """One help line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    audience: Literal["minor", "adult", "all"] = Field(alias="for")
    phone: str | None = Field(default=None, max_length=40)
    tel: str | None = Field(default=None, pattern=r"^\+?[0-9]{2,20}$")
    url: str = Field(pattern=r"^https?://\S+$", max_length=500)
    source: str = Field(pattern=r"^https?://\S+$", max_length=500)
    verified: bool = False
    note: str | None = Field(default=None, max_length=500)


class Country(BaseModel):
    """A country's name (in its own language) and its lines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    lines: tuple[Line, ...]


class Directory(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str = ""
    international: tuple[Line, ...]
    countries: dict[str, Country]
    default_country: dict[str, str]

    def country_for(self, language: str) -> str:
        """The country shown first for a page language ('' if none)."""
        code = self.default_country.get(language, "")
        return code if code in self.countries else ""

    def unverified(self) -> list[str]:
        """'CC: name' of each line whose details the operator should check."""
        found = [f"--: {line.name}" for line in self.international if not line.verified]
        for code, country in sorted(self.countries.items()):
            found += [f"{code}: {ln.name}" for ln in country.lines if not ln.verified]
        return found


@dataclass(frozen=True, slots=True, eq=False)
class Loaded:
    """A validated directory and where it came from (compared by identity:
    it is loaded once per file)."""

    directory: Directory
    origin: str


def load(path: str | None = None) -> Loaded:
    """The operator's file if given, else the built-in one; validated."""
    if path:
        origin = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise HelplinesError(
                f"RECLAIM_HELPLINES_FILE={path!r} cannot be read "
                f"({error.strerror}): give a readable JSON file, or unset it"
            ) from None
    else:
        origin = "built-in"
        text = (
            resources.files("reclaim.web")
            .joinpath("helplines.json")
            .read_text(encoding="utf-8")
        )
    try:
        directory = Directory.model_validate(json.loads(text))
    except (ValueError, ValidationError) as error:
        first = str(error).splitlines()[:3]
        raise HelplinesError(
            f"the help-line file {origin!r} is not valid: {' '.join(first)}; "
            "compare it with reclaim/web/helplines.json"
        ) from None
    bad = [code for code in directory.countries if not re.match(_COUNTRY, code)]
    if bad:
        raise HelplinesError(
            f"the help-line file {origin!r} has country code {bad[0]!r}: expected "
            "two capital letters (ISO 3166-1), e.g. GB"
        )
    unchecked = directory.unverified()
    if unchecked:
        logger.warning(
            "help lines (%s): %d entries are marked for the operator to check",
            origin,
            len(unchecked),
        )
    return Loaded(directory, origin)

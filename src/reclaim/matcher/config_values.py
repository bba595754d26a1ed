"""Reading the matcher's TOML config: typed look-ups with errors that name the
file, the section, the key, what was expected and what to do; and the value
parsers each key uses (`reclaim.matcher.config` says which key takes which).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NoReturn, TypeVar

from reclaim.matcher.errors import ConfigError

T = TypeVar("T")


class ConfigReader:
    """Typed look-ups in the TOML tables, with errors that name the key.

    `known` is every section and its keys; sections in `apart` are arrays
    of tables read elsewhere, one reader each.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        origin: str,
        *,
        known: Mapping[str, set[str]],
        apart: frozenset[str] = frozenset(),
        titles: Mapping[str, str] | None = None,
    ) -> None:
        self.data = data
        self.known = known
        self.origin = origin
        self.titles = dict(titles or {})
        for section, table in data.items():
            if section in apart:
                continue  # read (and its shape checked) by a reader of its own
            if section not in self.known or not isinstance(table, dict):
                raise ConfigError(
                    f"{origin}: [{section}] is not a matcher config section: "
                    f"expected one of {', '.join(sorted(self.known))}"
                )
            for key in table:
                if key not in self.known[section]:
                    raise ConfigError(
                        f"{origin}: {self.title(section)} {key} is not a known key: "
                        "expected "
                        f"one of {', '.join(sorted(self.known[section]))}; check "
                        "the spelling"
                    )

    def title(self, section: str) -> str:
        """How errors name a section: `[store]`, `[[sources]] #2`."""
        return self.titles.get(section, f"[{section}]")

    def get(
        self,
        section: str,
        key: str,
        parse: Callable[[Any], T],
        default: T | None,
    ) -> T:
        table = self.data.get(section, {})
        if key not in table:
            if default is None:
                self.missing(section, key, "a value")
            return default
        try:
            return parse(table[key])
        except (TypeError, ValueError) as error:
            self.bad(section, key, table[key], str(error))

    def bad(self, section: str, key: str, value: object, expected: str) -> NoReturn:
        secret = "key" in key or key in ("secret", "password", "token")
        shown = "<secret>" if secret else repr(value)
        raise ConfigError(
            f"{self.origin}: {self.title(section)} {key} = {shown} is not valid: "
            "expected "
            f"{expected}; fix the config file"
        )

    def missing(self, section: str, key: str, what: str) -> NoReturn:
        raise ConfigError(
            f"{self.origin}: {self.title(section)} {key} is missing: expected "
            f"{what}; add it to the config file"
        )


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string in quotes")
    return value


def strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of strings")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("a positive number of seconds")
    return float(value)


def percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a percentage from 0 to 100")
    if not 0 <= value <= 100:
        raise ValueError("a percentage from 0 to 100")
    return float(value)


def moment(value: Any) -> int:
    """Unix seconds, from an integer or a TOML date or date-time (UTC if naive)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return max(0, int(moment.timestamp()))
    if isinstance(value, date):
        return max(
            0, int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
        )
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("Unix seconds or a date-time such as 2024-01-01T00:00:00Z")
    return value


def count(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"an integer from {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return value

    return parse


def positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("a positive number")
    return float(value)


def non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("zero or a positive number")
    return float(value)


def patterns(value: Any) -> list[str]:
    """Regular expressions, each with a named group `reference`."""
    patterns = strings(value)
    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise ValueError(
                f"regular expressions; {pattern!r} does not compile ({error})"
            ) from None
        if "reference" not in compiled.groupindex:
            raise ValueError(
                f"regular expressions with a named group (?P<reference>...); "
                f"{pattern!r} has none"
            )
    return patterns


def networks(value: Any) -> list[str]:
    """IP addresses or networks (CIDR), each checked."""
    found = strings(value)
    for item in found:
        try:
            # Strict, as uvicorn reads them: 10.0.0.1/8 would never match there.
            ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise ValueError(
                f"IP addresses or networks such as 10.0.0.0/8 (no host bits set "
                f"after the /); {item!r} is neither"
            ) from None
    return found

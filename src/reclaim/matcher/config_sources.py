"""The matcher config's hash-list sources: one `[source]` table or several
`[[sources]]` tables, each checked for what its kind needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reclaim.index import DEFAULT_SOURCE
from reclaim.matcher import config_values as values
from reclaim.matcher.config_values import ConfigReader
from reclaim.matcher.errors import ConfigError

SOURCE_KINDS = ("reclaim", "stopncii", "ncmec")
#: The label each kind gives its records unless `program` says otherwise.
DEFAULT_PROGRAM = {"reclaim": "", "stopncii": "adult", "ncmec": "minor"}
SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

#: The keys of a source table.
SOURCE_KEYS = {
    "name",
    "kind",
    "url",
    "api_key",
    "programs",
    "subscription_key",
    "function_key",
    "program",
    "page_size",
    "timeout_seconds",
    "user",
    "password",
    "start",
}


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where the list comes from and how to authenticate."""

    kind: str
    url: str
    api_key: str = ""
    programs: tuple[str, ...] = ()
    subscription_key: str = ""
    function_key: str = ""
    program: str = "adult"
    page_size: int = 5000
    timeout_seconds: float = 30.0
    #: The source's label in status, match labels and metrics (never a key).
    name: str = DEFAULT_SOURCE
    #: ncmec: the HTTP Basic user and password.
    user: str = ""
    password: str = ""
    #: ncmec: the first time to fetch from (Unix seconds).
    start: int = 0

    def __repr__(self) -> str:
        # Keys and passwords never appear in logs or tracebacks.
        return f"SourceConfig(name={self.name!r}, kind={self.kind!r}, url={self.url!r})"


def read_sources(
    reader: ConfigReader,
    data: Mapping[str, Any],
    origin: str,
    *,
    known: Mapping[str, set[str]],
) -> tuple[SourceConfig, ...]:
    """The `[[sources]]` tables, or the one `[source]` table as "default"."""
    if "source" in data and "sources" in data:
        raise ConfigError(
            f"{origin}: both [source] and [[sources]] are set: expected one of "
            "them; move the [source] table into a [[sources]] table with a name"
        )
    if "sources" not in data:
        return (read_source(reader, "source"),)
    tables = data["sources"]
    if not isinstance(tables, list) or not tables:
        raise ConfigError(
            f"{origin}: sources is not valid: expected one or more [[sources]] "
            "tables; write each source as a [[sources]] table"
        )
    found: list[SourceConfig] = []
    for number, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise ConfigError(
                f"{origin}: sources #{number} is not a table: expected a "
                "[[sources]] table; fix the config file"
            )
        title = f"[[sources]] #{number}"
        sub = ConfigReader(
            {"source": table}, origin, known=known, titles={"source": title}
        )
        if "name" not in table:
            sub.missing("source", "name", "a short label such as 'ncmec'")
        source = read_source(sub, "source")
        if any(s.name == source.name for s in found):
            raise ConfigError(
                f"{origin}: {title} name = {source.name!r} is not valid: expected "
                "a name no other source has; give each [[sources]] table its own "
                "name"
            )
        found.append(source)
    return tuple(found)


def read_source(reader: ConfigReader, section: str) -> SourceConfig:
    """One source table, checked for what its kind needs."""
    name = reader.get(section, "name", values.text, DEFAULT_SOURCE)
    if not SOURCE_NAME.fullmatch(name):
        reader.bad(
            section,
            "name",
            name,
            "1 to 32 lower-case letters, digits, '-' or '_' (a label, not a key)",
        )
    kind = reader.get(section, "kind", values.text, "reclaim")
    if kind not in SOURCE_KINDS:
        reader.bad(section, "kind", kind, "'reclaim', 'stopncii' or 'ncmec'")
    url = reader.get(section, "url", values.text, None)
    if not url.startswith(("http://", "https://")):
        reader.bad(section, "url", url, "an http:// or https:// URL")
    subscription = reader.get(section, "subscription_key", values.text, "")
    source = SourceConfig(
        kind=kind,
        url=url.rstrip("/"),
        api_key=reader.get(section, "api_key", values.text, ""),
        programs=tuple(reader.get(section, "programs", values.strings, [])),
        subscription_key=subscription,
        function_key=reader.get(section, "function_key", values.text, subscription),
        program=reader.get(
            section, "program", values.text, DEFAULT_PROGRAM[kind] or "adult"
        ),
        # NCMEC chooses its own page size unless one is asked for.
        page_size=reader.get(
            section,
            "page_size",
            values.count(1, 10_000),
            0 if kind == "ncmec" else 5000,
        ),
        timeout_seconds=reader.get(section, "timeout_seconds", values.seconds, 30.0),
        name=name,
        user=reader.get(section, "user", values.text, ""),
        password=reader.get(section, "password", values.text, ""),
        start=reader.get(section, "start", values.moment, 0),
    )
    if kind == "reclaim" and not source.api_key:
        reader.missing(section, "api_key", "the platform's registry API key")
    if kind == "stopncii" and not source.subscription_key:
        reader.missing(section, "subscription_key", "your StopNCII API key")
    if kind == "ncmec":
        if not source.user:
            reader.missing(section, "user", "your NCMEC hash-sharing user name")
        if not source.password:
            reader.missing(section, "password", "your NCMEC hash-sharing password")
    return source

"""Settings: one frozen object read from RECLAIM_* environment variables.

This is the only module that reads the environment. `Settings.from_env()` is
called once at startup (CLI or server) and the result is passed inward.
Every setting has a name, a default and a help string (`SETTINGS`), and
`docs/configuration.md` documents each one (a test checks it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from reclaim.errors import ReclaimError


class SettingsError(ReclaimError):
    """A RECLAIM_* variable has a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class Setting:
    """Documentation and parsing of one setting."""

    name: str
    default: str
    help: str
    parse: Callable[[str], Any]
    #: A secret's value is never echoed in an error.
    secret: bool = False


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _rate(text: str) -> tuple[int, int]:
    """'10/minute' -> (10, 60): at most N events per window of seconds."""
    windows = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    count, _, window = text.partition("/")
    if window not in windows:
        raise ValueError("expected N/second, N/minute, N/hour or N/day")
    return _positive_int(count), windows[window]


def _optional(text: str) -> str | None:
    return text or None


def _token(text: str) -> str | None:
    """'' -> None; otherwise a secret of at least 32 characters."""
    if text and len(text) < 32:
        raise ValueError(
            "expected at least 32 characters (e.g. `openssl rand -hex 32`), or nothing"
        )
    return text or None


def _base_url(text: str) -> str | None:
    """'' -> None; an https URL (http only to this machine) without a
    trailing slash otherwise: the URL is sent a platform's key."""
    if not text:
        return None
    local = text.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
    if not (text.startswith("https://") or local) or " " in text:
        raise ValueError(
            "expected an https:// URL (http:// only to 127.0.0.1 or localhost: "
            "the platform's key travels with every request), or nothing"
        )
    return text.rstrip("/")


def _notice_url(text: str) -> str | None:
    """'' -> None; an https:// URL or a path on this site ('/privacy')."""
    if not text:
        return None
    local = text.startswith("/") and not text.startswith("//")
    if not (text.startswith("https://") or local) or " " in text:
        raise ValueError(
            "expected an https:// URL or a path on this site such as /privacy"
        )
    return text


def _page_size(text: str) -> int:
    """A page size of 1 to 10,000 entries (the registry's largest page)."""
    value = _positive_int(text)
    if value > 10_000:
        raise ValueError("at most 10000 (the largest page the registry serves)")
    return value


def _networks(
    text: str,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """'127.0.0.1, 10.0.0.0/8' -> networks (bare addresses are one-address ones)."""
    found = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or CIDR network; expected a "
                "comma-separated list such as 127.0.0.1,10.0.0.0/8,fd00::/8"
            ) from None
    return tuple(found)


def _bool(text: str) -> bool:
    if text.lower() in {"1", "true", "yes", "on"}:
        return True
    if text.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "sqlite:///./reclaim-data/reclaim.db",
        "SQLAlchemy URL of the registry database. SQLite (the default) needs no "
        "server; use postgresql+psycopg://user@host/db in production.",
        str,
    ),
    Setting(
        "redis_url",
        "",
        "Redis URL for rate limits shared by several API processes. Empty: "
        "limits are kept in this process's memory.",
        _optional,
    ),
    Setting("host", "127.0.0.1", "Address `reclaim serve` listens on.", str),
    Setting("port", "8000", "Port `reclaim serve` listens on.", _positive_int),
    Setting(
        "registry_url",
        "http://127.0.0.1:8000",
        "Registry that `reclaim submit/status/withdraw` talk to.",
        str,
    ),
    Setting(
        "max_hashes_per_case",
        "5000",
        "Most hashes one case may hold, over all its requests.",
        _positive_int,
    ),
    Setting(
        "max_hashes_per_request",
        "1000",
        "Most hashes one request may carry.",
        _positive_int,
    ),
    Setting(
        "max_body_bytes",
        "2097152",
        "Largest request body accepted, in bytes; larger ones get 413. The "
        "default takes a 10-hour video's vPDQ hash (1.7 MB in compact form).",
        _positive_int,
    ),
    Setting(
        "case_rate",
        "20/hour",
        "Case creations allowed per client (an IPv4 address or an IPv6 /64; "
        "N/second|minute|hour|day). Only well-formed requests count.",
        _rate,
    ),
    Setting(
        "pin_rate",
        "30/hour",
        "Case lookups with a PIN (status, add, withdraw) allowed per client "
        "(an IPv4 address or an IPv6 /64). Wrong and right PINs count alike; "
        "malformed and cross-site requests do not count.",
        _rate,
    ),
    Setting(
        "case_pin_rate",
        "10/hour",
        "Wrong PINs one case takes, from all clients together, before each "
        "client is held to 3 wrong PINs for that case per window; clients that "
        "have not failed for it keep their 3 tries, so the owner's PIN works.",
        _rate,
    ),
    Setting(
        "case_pin_cap",
        "50/day",
        "Wrong PINs one case takes in the longer window before each client is "
        "held to 3 wrong PINs for that case per this window (it slows "
        "guessing from many networks; see docs/registry.md).",
        _rate,
    ),
    Setting(
        "idempotency_hours",
        "24",
        "Hours the registry keeps the sealed answer to a case creation sent "
        "with an Idempotency-Key, so a retry gets the same case number and PIN; "
        "expired answers are purged.",
        _positive_int,
    ),
    Setting(
        "quarantine_after",
        "2",
        "A hash that this many platforms mark not_blocked is quarantined for "
        "the operator's review (it stays in the list).",
        _positive_int,
    ),
    Setting(
        "trusted_proxies",
        "",
        "Your reverse proxies' addresses or CIDR networks, comma-separated. "
        "When the direct peer is one, the client is the rightmost "
        "X-Forwarded-For entry that is not; empty: the header is ignored.",
        _networks,
    ),
    Setting("log_level", "INFO", "Logging level of the server.", str),
    Setting(
        "ncmec_page_size",
        "1000",
        "Entries per page of the registry's NCMEC Hash Sharing API (NCMEC "
        "serves 1000; clients follow the `next` link whatever the size; at "
        "most 10000).",
        _page_size,
    ),
    Setting(
        "ncmec_url",
        "",
        "Base URL of a reclaim registry's NCMEC API, e.g. "
        "https://registry.example/ncmec, for the NCMEC exchange in "
        "reclaim.interop (HMA, pytx). Empty: NCMEC's own servers.",
        _base_url,
    ),
    Setting(
        "leave_url",
        "https://www.wikipedia.org/",
        "Neutral site the web app's 'Leave quickly' button opens.",
        str,
    ),
    Setting(
        "operator_name",
        "",
        "Who runs this registry (an organisation or person), shown on the "
        "person's page. Empty: the page says plainly that this is a "
        "self-hosted instance whose operator has not said who they are.",
        _optional,
    ),
    Setting(
        "operator_contact",
        "",
        "How people reach the operator, shown on the person's page: an email "
        "address, a phone number or an https:// URL. Empty: the page says the "
        "operator has not given one.",
        _optional,
    ),
    Setting(
        "privacy_notice_url",
        "",
        "The operator's privacy notice (an https:// URL, or a path on this "
        "site), linked from the person's page. Empty: the page says the "
        "operator has not published one.",
        _notice_url,
    ),
    Setting(
        "helplines_file",
        "",
        "A JSON file of help lines by country that replaces the built-in "
        "directory (reclaim/web/helplines.json, same format). Empty: the "
        "built-in one. Checked once at startup.",
        _optional,
    ),
    Setting(
        "hsts_max_age",
        "31536000",
        "Strict-Transport-Security max-age in seconds, sent on answers to HTTPS "
        "requests only: X-Forwarded-Proto: https from one of "
        "RECLAIM_TRUSTED_PROXIES, or TLS at the ASGI server. 0: never sent.",
        _non_negative_int,
    ),
    Setting(
        "metrics_token",
        "",
        "Bearer token of the operator's GET /metrics (Prometheus, no personal "
        "data). Empty: /metrics is not served.",
        _token,
        secret=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration. Build with `Settings.from_env()` or directly."""

    database_url: str = "sqlite:///./reclaim-data/reclaim.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    registry_url: str = "http://127.0.0.1:8000"
    max_hashes_per_case: int = 5000
    max_hashes_per_request: int = 1000
    max_body_bytes: int = 2_097_152
    case_rate: tuple[int, int] = (20, 3600)
    pin_rate: tuple[int, int] = (30, 3600)
    idempotency_hours: int = 24
    quarantine_after: int = 2
    case_pin_rate: tuple[int, int] = (10, 3600)
    case_pin_cap: tuple[int, int] = (50, 86400)
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    log_level: str = "INFO"
    ncmec_page_size: int = 1000
    ncmec_url: str | None = None
    leave_url: str = "https://www.wikipedia.org/"
    operator_name: str | None = None
    operator_contact: str | None = None
    privacy_notice_url: str | None = None
    helplines_file: str | None = None
    hsts_max_age: int = 31_536_000
    metrics_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every RECLAIM_* variable, falling back to the defaults."""
        env = os.environ if environ is None else environ
        _refuse_retired(env)
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            values[setting.name] = _read(setting, env)
        known = {f"RECLAIM_{s.name.upper()}" for s in SETTINGS} | set(RETIRED)
        unknown = sorted(k for k in env if k.startswith("RECLAIM_") and k not in known)
        if unknown:
            raise SettingsError(
                f"unknown setting {unknown[0]}: expected one of "
                f"{', '.join(sorted(known))}; check the spelling"
            )
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (used by tests and benchmarks)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return Settings(**current)


#: Settings that no longer exist, with what replaces them.
RETIRED = {
    "RECLAIM_TRUST_FORWARDED_FOR": (
        "it trusted the leftmost X-Forwarded-For entry, which the client chooses; "
        "list your reverse proxies instead, e.g. RECLAIM_TRUSTED_PROXIES=127.0.0.1 "
        "(the client is then the rightmost entry that is not a proxy), and unset "
        "RECLAIM_TRUST_FORWARDED_FOR"
    ),
}


def _refuse_retired(env: Mapping[str, str]) -> None:
    """Stop on a retired setting that asks for something (false/empty is harmless)."""
    for variable, replacement in RETIRED.items():
        text = env.get(variable)
        if text is not None and _bool_or_none(text) is not False:
            raise SettingsError(
                f"{variable}={text!r} is no longer supported: {replacement}"
            )


def _bool_or_none(text: str) -> bool | None:
    try:
        return _bool(text.strip())
    except ValueError:
        return None


def _read(setting: Setting, env: Mapping[str, str]) -> Any:
    variable = f"RECLAIM_{setting.name.upper()}"
    text = env.get(variable, setting.default).strip()
    try:
        return setting.parse(text)
    except ValueError as error:
        shown = f"<{len(text)} characters>" if setting.secret else repr(text)
        raise SettingsError(
            f"{variable}={shown} is not valid: {error}; default is {setting.default!r}"
        ) from None


def ncmec_url(environ: Mapping[str, str] | None = None) -> str | None:
    """RECLAIM_NCMEC_URL alone, for clients that run inside HMA or pytx.

    Those processes have no `Settings` of ours, and other RECLAIM_* variables
    meant for a registry on the same machine must not stop them.
    """
    setting = next(s for s in SETTINGS if s.name == "ncmec_url")
    found: str | None = _read(setting, os.environ if environ is None else environ)
    return found

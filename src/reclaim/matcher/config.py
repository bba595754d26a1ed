"""The matcher's config file: TOML data, parsed once into frozen objects.

```toml
[[sources]]                   # where the hash list comes from; one table each
name = "registry"             # a short label for status, matches and metrics
kind = "reclaim"              # or "stopncii" or "ncmec"
url = "https://registry.example"
api_key = "..."               # reclaim: the platform key
programs = ["minor", "adult"] # reclaim: the programs to follow (default: all)
# stopncii: subscription_key, function_key (default: subscription_key),
#           program (the label given to its records, default "adult")
# ncmec:    user, password (HTTP Basic), start (first time to fetch from),
#           program (default "minor")
# A single [source] table (no name) still works: it is the source "default".

[store]
url = "sqlite:///./matcher-data/matcher.db"   # or postgresql+psycopg://...

[sync]
poll_seconds = 5

[match]
radius = 31
dihedral = true

[policy]
auto_action_distance = 0      # omit: every match goes to human review

[webhook]
url = "https://moderation.example/hooks/reclaim"
secret = "..."

[serve]
host = "127.0.0.1"
port = 8100
token = "..."                 # optional: the API then needs it (Bearer/Basic)

[decode]                      # hashing uploads: see DecodeConfig
workers = 2

[catalog]                     # opt-in: see CatalogConfig and docs/catalog.md
enabled = true
path = "./matcher-data/catalog"   # or s3://bucket/catalog, ...

[desk]                        # the moderators' desk: see DeskConfig, docs/desk.md
undo_seconds = 30
keep_media_hours = 0          # previews of matched uploads: 0 keeps none

[removals]                    # legal removal requests: see RemovalsConfig
reference_patterns = ["^https://platform.example/p/(?P<reference>[A-Za-z0-9]+)$"]

[dsa]                         # DSA statements of reasons: dsa.DsaConfig's fields
terms_url = "https://platform.example/terms#intimate-images"

[[alerts]]                    # spike alerts: see reclaim.matcher.alerts
name = "adult-spike"
program = "adult"
```
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from reclaim.hashing import MATCH_DISTANCE, MAX_PIXELS
from reclaim.index import DEFAULT_SOURCE
from reclaim.matcher.alerts import SpikeRule, parse_rules
from reclaim.matcher.dsa import DsaConfig
from reclaim.matcher.errors import ConfigError, MatcherError

T = TypeVar("T")

SOURCE_KINDS = ("reclaim", "stopncii", "ncmec")
#: The label each kind gives its records unless `program` says otherwise.
DEFAULT_PROGRAM = {"reclaim": "", "stopncii": "adult", "ncmec": "minor"}
SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
DEFAULT_STORE = "sqlite:///./matcher-data/matcher.db"


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


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What happens to a match: auto-action when close enough, else review."""

    auto_action_distance: int | None = None

    def auto_action(self, distance: int) -> bool:
        """Whether a match at `distance` is actioned without a person."""
        limit = self.auto_action_distance
        return limit is not None and distance <= limit


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """The platform's moderation endpoint and the HMAC secret to sign for it."""

    url: str = ""
    secret: str = ""
    timeout_seconds: float = 10.0
    max_backoff_seconds: float = 300.0

    @property
    def enabled(self) -> bool:
        """Whether actions are delivered at all."""
        return bool(self.url)

    def __repr__(self) -> str:
        return f"WebhookConfig(url={self.url!r})"


@dataclass(frozen=True, slots=True)
class DecodeConfig:
    """How uploads are hashed: worker processes, their limits, and budgets.

    Each key's help is `DECODE_HELP`; docs/matcher.md lists them all.
    """

    workers: int = 2
    queue: int = 16
    max_pixels: int = 40_000_000
    memory_mb: int = 512
    cpu_seconds: float = 60.0
    timeout_seconds: float = 60.0
    video_max_frames: int = 18_000
    video_sample_frames: int = 600
    video_max_seconds: float = 36_000.0


#: `[decode]` keys: what each one bounds (checked against docs/matcher.md).
DECODE_HELP = {
    "workers": "Worker processes that hash uploads at the same time.",
    "queue": "Uploads that may wait for a worker; past it, 503 with Retry-After.",
    "max_pixels": "Largest image, in pixels, read from its header before decoding.",
    "memory_mb": "Memory a worker may allocate beyond its start, in MB.",
    "cpu_seconds": "CPU time one upload may use in its worker, all threads.",
    "timeout_seconds": "Wall time one upload may take; the worker is then killed.",
    "video_max_frames": "Longest video hashed exactly (every vPDQ frame), in frames.",
    "video_sample_frames": "Keyframes hashed from a video past video_max_frames.",
    "video_max_seconds": "Longest video accepted, in seconds.",
}


@dataclass(frozen=True, slots=True)
class CatalogConfig:
    """`[catalog]`: the platform's content catalog, for retroactive matching.

    Off unless `enabled`. Each upload with a `reference` is kept as one
    catalog item (`reclaim.catalog.items`): its MD5, four PDQ hashes, the
    reference and the upload time, nothing else. `path` is the shards'
    root (a directory or a filesystem URL); `flush_items` uploads collect
    in the store before they are written out as a shard; `rescan` starts
    reverse matching after every sync that listed new hashes; `address`
    runs it on a Ray cluster (empty: in this process).
    """

    enabled: bool = False
    path: str = "./matcher-data/catalog"
    flush_items: int = 10_000
    flush_seconds: float = 300.0
    rescan: bool = True
    address: str = ""


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """`[desk]`: the moderators' desk (docs/desk.md).

    `session_hours` a login lasts; `undo_seconds` a decision made on the
    desk is held before its webhook and feedback leave, so it can be undone;
    `keep_media_hours` a matched upload's preview is kept for the desk (0:
    none is kept, and the desk says so); `secure_cookies` marks the login
    cookie Secure (browsers still send it to http://127.0.0.1 and
    localhost: turn it off only on a plain-HTTP private network).
    """

    session_hours: float = 12.0
    undo_seconds: float = 30.0
    keep_media_hours: float = 0.0
    secure_cookies: bool = True


@dataclass(frozen=True, slots=True)
class RemovalsConfig:
    """`[removals]`: legal removal requests (docs/desk.md).

    `reference_patterns` turn a location a requester gives (a URL) into the
    platform's content reference: regular expressions with a named group
    `reference`, tried in order (none matching: the location is kept as
    given, and a moderator resolves it). `remind_hours` and
    `escalate_hours` before the 48-hour deadline the desk and the webhook
    are told; `retention_days` after a request is closed its personal data
    (signature, contact, statement) is blanked; `public_form` serves the
    form at /removal for people who are not users; `max_per_hour` requests
    are taken in any hour, from everyone together (more: HTTP 429).
    """

    reference_patterns: tuple[str, ...] = ()
    remind_hours: float = 24.0
    escalate_hours: float = 6.0
    retention_days: int = 30
    public_form: bool = True
    max_per_hour: int = 200


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    """Everything `reclaim matcher` needs, validated.

    `sources` are every source, in config order; `source` is the first (the
    only one of a config with a single `[source]` table).
    """

    source: SourceConfig
    store_url: str = DEFAULT_STORE
    poll_seconds: float = 5.0
    max_backoff_seconds: float = 300.0
    radius: int = MATCH_DISTANCE
    dihedral: bool = True
    vpdq_threshold: float = 80.0
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    host: str = "127.0.0.1"
    port: int = 8100
    max_upload_bytes: int = 64 * 1024 * 1024
    max_batch: int = 10_000
    #: When set, the API needs it (Bearer, or Basic's password); see access.py.
    token: str = field(default="", repr=False)
    sources: tuple[SourceConfig, ...] = ()
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    desk: DeskConfig = field(default_factory=DeskConfig)
    removals: RemovalsConfig = field(default_factory=RemovalsConfig)
    #: `[dsa]`: what every DSA statement of reasons says (dsa.DsaConfig).
    dsa: DsaConfig = field(default_factory=DsaConfig)
    #: `[[alerts]]`: the spike rules (alerts.SpikeRule), none by default.
    alerts: tuple[SpikeRule, ...] = ()

    def __post_init__(self) -> None:
        if not self.sources:
            # Frozen: the one way to fill a derived field in.
            object.__setattr__(self, "sources", (self.source,))

    @classmethod
    def load(cls, path: str | Path) -> MatcherConfig:
        """Read and validate a TOML config file."""
        where = Path(path)
        try:
            text = where.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"cannot read the matcher config {str(where)!r}: {error.strerror}; "
                "pass --config with the path of a TOML file (see docs/matcher.md)"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(
                f"{str(where)!r} is not valid TOML: {error}; fix the file"
            ) from None
        return cls.from_mapping(data, origin=str(where))

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, origin: str = "config"
    ) -> MatcherConfig:
        """Validate already-parsed TOML data."""
        reader = _Reader(data, origin)
        sources = _sources(reader, data, origin)
        webhook = WebhookConfig(
            url=reader.get("webhook", "url", _text, ""),
            secret=reader.get("webhook", "secret", _text, ""),
            timeout_seconds=reader.get("webhook", "timeout_seconds", _seconds, 10.0),
            max_backoff_seconds=reader.get(
                "webhook", "max_backoff_seconds", _seconds, 300.0
            ),
        )
        if webhook.url and len(webhook.secret) < 16:
            reader.missing(
                "webhook", "secret", "an HMAC secret of at least 16 characters"
            )
        auto = reader.get("policy", "auto_action_distance", _count(0, 256), -1)
        return cls(
            source=sources[0],
            sources=sources,
            store_url=reader.get("store", "url", _text, DEFAULT_STORE),
            poll_seconds=reader.get("sync", "poll_seconds", _seconds, 5.0),
            max_backoff_seconds=reader.get(
                "sync", "max_backoff_seconds", _seconds, 300.0
            ),
            radius=reader.get("match", "radius", _count(0, 128), MATCH_DISTANCE),
            dihedral=reader.get("match", "dihedral", _boolean, True),
            vpdq_threshold=reader.get("match", "vpdq_threshold", _percent, 80.0),
            policy=PolicyConfig(None if auto < 0 else auto),
            webhook=webhook,
            host=reader.get("serve", "host", _text, "127.0.0.1"),
            port=reader.get("serve", "port", _count(1, 65535), 8100),
            max_upload_bytes=reader.get(
                "serve", "max_upload_bytes", _count(1, 2**40), 64 * 1024 * 1024
            ),
            max_batch=reader.get("serve", "max_batch", _count(1, 1_000_000), 10_000),
            token=reader.get("serve", "token", _text, ""),
            decode=_decode(reader),
            catalog=_catalog(reader),
            desk=_desk(reader),
            removals=_removals(reader),
            dsa=_dsa(reader),
            alerts=parse_rules(data.get("alerts", []), origin=origin),
        )


def _dsa(reader: _Reader) -> DsaConfig:
    """The `[dsa]` table: DsaConfig's fields, each typed as its default is
    ("" leaves an optional text out). A statement is built from it at once,
    so a text the Transparency Database would refuse fails here, not later."""
    from reclaim.matcher import dsa

    default = DsaConfig()
    values: dict[str, Any] = {}
    for key in reader.data.get("dsa", {}):
        current = getattr(default, key)
        if isinstance(current, tuple):
            values[key] = tuple(reader.get("dsa", key, _strings, []))
        elif key == "incompatible_also_illegal":
            values[key] = reader.get("dsa", key, _boolean, False)
        else:
            text = reader.get("dsa", key, _text, "")
            optional = current is None
            values[key] = None if optional and not text.strip() else text
    try:
        found = DsaConfig(**values)
        grounds: tuple[dsa.Ground, ...] = ("illegal", "incompatible")
        for ground in grounds:
            trial = dsa.StatementInput(
                puid="config-check",
                decided_at=datetime.now(UTC),
                content_type="image",
                automated_detection=True,
                automated_decision="partially",
                source="notice",
                ground=ground,
            )
            dsa.statement(trial, found)
    except MatcherError as error:
        raise ConfigError(
            f"{reader.origin}: [dsa] is not valid: {error}; fix the config file"
        ) from None
    return found


def _desk(reader: _Reader) -> DeskConfig:
    """The `[desk]` table: the moderators' desk."""
    default = DeskConfig()
    return DeskConfig(
        session_hours=reader.get(
            "desk", "session_hours", _positive, default.session_hours
        ),
        undo_seconds=reader.get(
            "desk", "undo_seconds", _non_negative, default.undo_seconds
        ),
        keep_media_hours=reader.get(
            "desk", "keep_media_hours", _non_negative, default.keep_media_hours
        ),
        secure_cookies=reader.get(
            "desk", "secure_cookies", _boolean, default.secure_cookies
        ),
    )


def _removals(reader: _Reader) -> RemovalsConfig:
    """The `[removals]` table: legal removal requests."""
    default = RemovalsConfig()
    found = RemovalsConfig(
        reference_patterns=tuple(
            reader.get("removals", "reference_patterns", _patterns, [])
        ),
        remind_hours=reader.get(
            "removals", "remind_hours", _positive, default.remind_hours
        ),
        escalate_hours=reader.get(
            "removals", "escalate_hours", _positive, default.escalate_hours
        ),
        retention_days=reader.get(
            "removals", "retention_days", _count(0, 3650), default.retention_days
        ),
        public_form=reader.get(
            "removals", "public_form", _boolean, default.public_form
        ),
        max_per_hour=reader.get(
            "removals", "max_per_hour", _count(1, 1_000_000), default.max_per_hour
        ),
    )
    if not found.escalate_hours < found.remind_hours < 48:
        reader.bad(
            "removals",
            "escalate_hours",
            found.escalate_hours,
            f"fewer hours than remind_hours ({found.remind_hours:g}), both under "
            "the 48-hour deadline",
        )
    return found


def _catalog(reader: _Reader) -> CatalogConfig:
    """The `[catalog]` table: the content catalog (off by default)."""
    default = CatalogConfig()
    found = CatalogConfig(
        enabled=reader.get("catalog", "enabled", _boolean, default.enabled),
        path=reader.get("catalog", "path", _text, default.path),
        flush_items=reader.get(
            "catalog", "flush_items", _count(1, 10_000_000), default.flush_items
        ),
        flush_seconds=reader.get(
            "catalog", "flush_seconds", _seconds, default.flush_seconds
        ),
        rescan=reader.get("catalog", "rescan", _boolean, default.rescan),
        address=reader.get("catalog", "address", _text, default.address),
    )
    if found.enabled and not reader.get("match", "dihedral", _boolean, True):
        raise ConfigError(
            f"{reader.origin}: [catalog] enabled = true needs [match] dihedral = "
            "true: a catalog item keeps the upload's rotations, which only "
            "dihedral hashing computes; set dihedral = true or turn the catalog off"
        )
    if found.enabled and not found.path.strip():
        reader.missing("catalog", "path", "the catalog's directory or URL")
    return found


def _decode(reader: _Reader) -> DecodeConfig:
    """The `[decode]` table: limits on hashing uploads."""
    default = DecodeConfig()
    return DecodeConfig(
        workers=reader.get("decode", "workers", _count(1, 256), default.workers),
        queue=reader.get("decode", "queue", _count(0, 100_000), default.queue),
        max_pixels=reader.get(
            "decode", "max_pixels", _count(1, MAX_PIXELS), default.max_pixels
        ),
        memory_mb=reader.get(
            "decode", "memory_mb", _count(64, 1_048_576), default.memory_mb
        ),
        cpu_seconds=reader.get("decode", "cpu_seconds", _seconds, default.cpu_seconds),
        timeout_seconds=reader.get(
            "decode", "timeout_seconds", _seconds, default.timeout_seconds
        ),
        video_max_frames=reader.get(
            "decode", "video_max_frames", _count(1, 10**9), default.video_max_frames
        ),
        video_sample_frames=reader.get(
            "decode",
            "video_sample_frames",
            _count(1, 100_000),
            default.video_sample_frames,
        ),
        video_max_seconds=reader.get(
            "decode", "video_max_seconds", _seconds, default.video_max_seconds
        ),
    )


def _sources(
    reader: _Reader, data: Mapping[str, Any], origin: str
) -> tuple[SourceConfig, ...]:
    """The `[[sources]]` tables, or the one `[source]` table as "default"."""
    if "source" in data and "sources" in data:
        raise ConfigError(
            f"{origin}: both [source] and [[sources]] are set: expected one of "
            "them; move the [source] table into a [[sources]] table with a name"
        )
    if "sources" not in data:
        return (_source(reader, "source"),)
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
        sub = _Reader({"source": table}, origin, titles={"source": title})
        if "name" not in table:
            sub.missing("source", "name", "a short label such as 'ncmec'")
        source = _source(sub, "source")
        if any(s.name == source.name for s in found):
            raise ConfigError(
                f"{origin}: {title} name = {source.name!r} is not valid: expected "
                "a name no other source has; give each [[sources]] table its own "
                "name"
            )
        found.append(source)
    return tuple(found)


def _source(reader: _Reader, section: str) -> SourceConfig:
    """One source table, checked for what its kind needs."""
    name = reader.get(section, "name", _text, DEFAULT_SOURCE)
    if not SOURCE_NAME.fullmatch(name):
        reader.bad(
            section,
            "name",
            name,
            "1 to 32 lower-case letters, digits, '-' or '_' (a label, not a key)",
        )
    kind = reader.get(section, "kind", _text, "reclaim")
    if kind not in SOURCE_KINDS:
        reader.bad(section, "kind", kind, "'reclaim', 'stopncii' or 'ncmec'")
    url = reader.get(section, "url", _text, None)
    if not url.startswith(("http://", "https://")):
        reader.bad(section, "url", url, "an http:// or https:// URL")
    subscription = reader.get(section, "subscription_key", _text, "")
    source = SourceConfig(
        kind=kind,
        url=url.rstrip("/"),
        api_key=reader.get(section, "api_key", _text, ""),
        programs=tuple(reader.get(section, "programs", _strings, [])),
        subscription_key=subscription,
        function_key=reader.get(section, "function_key", _text, subscription),
        program=reader.get(section, "program", _text, DEFAULT_PROGRAM[kind] or "adult"),
        # NCMEC chooses its own page size unless one is asked for.
        page_size=reader.get(
            section, "page_size", _count(1, 10_000), 0 if kind == "ncmec" else 5000
        ),
        timeout_seconds=reader.get(section, "timeout_seconds", _seconds, 30.0),
        name=name,
        user=reader.get(section, "user", _text, ""),
        password=reader.get(section, "password", _text, ""),
        start=reader.get(section, "start", _moment, 0),
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


class _Reader:
    """Typed look-ups in the TOML tables, with errors that name the key."""

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
    KNOWN = {
        "source": SOURCE_KEYS,
        "store": {"url"},
        "sync": {"poll_seconds", "max_backoff_seconds"},
        "match": {"radius", "dihedral", "vpdq_threshold"},
        "policy": {"auto_action_distance"},
        "webhook": {"url", "secret", "timeout_seconds", "max_backoff_seconds"},
        "serve": {"host", "port", "max_upload_bytes", "max_batch", "token"},
        "decode": set(DECODE_HELP),
        "desk": {"session_hours", "undo_seconds", "keep_media_hours", "secure_cookies"},
        "dsa": set(DsaConfig.__dataclass_fields__),
        "removals": {
            "reference_patterns",
            "remind_hours",
            "escalate_hours",
            "retention_days",
            "public_form",
            "max_per_hour",
        },
        "catalog": {
            "enabled",
            "path",
            "flush_items",
            "flush_seconds",
            "rescan",
            "address",
        },
    }

    def __init__(
        self,
        data: Mapping[str, Any],
        origin: str,
        *,
        titles: Mapping[str, str] | None = None,
    ) -> None:
        self.data = data
        self.origin = origin
        self.titles = dict(titles or {})
        for section, table in data.items():
            if (section == "sources" and isinstance(table, list)) or (
                section == "alerts"
            ):
                continue  # each table is read by a reader of its own
            if section not in self.KNOWN or not isinstance(table, dict):
                raise ConfigError(
                    f"{origin}: [{section}] is not a matcher config section: "
                    f"expected one of {', '.join(sorted(self.KNOWN))}"
                )
            for key in table:
                if key not in self.KNOWN[section]:
                    raise ConfigError(
                        f"{origin}: {self.title(section)} {key} is not a known key: "
                        "expected "
                        f"one of {', '.join(sorted(self.KNOWN[section]))}; check "
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
        secret = "key" in key or key in ("secret", "password")
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


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string in quotes")
    return value


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of strings")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("a positive number of seconds")
    return float(value)


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a percentage from 0 to 100")
    if not 0 <= value <= 100:
        raise ValueError("a percentage from 0 to 100")
    return float(value)


def _moment(value: Any) -> int:
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


def _count(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"an integer from {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return value

    return parse


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("a positive number")
    return float(value)


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("zero or a positive number")
    return float(value)


def _patterns(value: Any) -> list[str]:
    """Regular expressions, each with a named group `reference`."""
    patterns = _strings(value)
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

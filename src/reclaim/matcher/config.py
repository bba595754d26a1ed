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
trusted_proxies = ["10.0.0.0/8"]  # whose X-Forwarded-Proto/-For to believe

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

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from reclaim.hashing import MATCH_DISTANCE, MAX_PIXELS
from reclaim.matcher import config_values as values
from reclaim.matcher.alerts import SpikeRule, parse_rules
from reclaim.matcher.config_sources import SOURCE_KEYS, read_sources
from reclaim.matcher.config_sources import SourceConfig as SourceConfig
from reclaim.matcher.config_values import ConfigReader
from reclaim.matcher.dsa import DsaConfig
from reclaim.matcher.errors import ConfigError, MatcherError

T = TypeVar("T")

#: Sections that are arrays of tables, each table read on its own.
APART = frozenset({"sources", "alerts"})
DEFAULT_STORE = "sqlite:///./matcher-data/matcher.db"


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
    #: Proxies (addresses or networks) whose X-Forwarded-Proto and
    #: X-Forwarded-For are believed: the desk's same-origin check needs the
    #: scheme the browser used when TLS ends at a proxy.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
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
        reader = ConfigReader(data, origin, known=KNOWN, apart=APART)
        sources = read_sources(reader, data, origin, known=KNOWN)
        webhook = WebhookConfig(
            url=reader.get("webhook", "url", values.text, ""),
            secret=reader.get("webhook", "secret", values.text, ""),
            timeout_seconds=reader.get(
                "webhook", "timeout_seconds", values.seconds, 10.0
            ),
            max_backoff_seconds=reader.get(
                "webhook", "max_backoff_seconds", values.seconds, 300.0
            ),
        )
        if webhook.url and len(webhook.secret) < 16:
            reader.missing(
                "webhook", "secret", "an HMAC secret of at least 16 characters"
            )
        auto = reader.get("policy", "auto_action_distance", values.count(0, 256), -1)
        return cls(
            source=sources[0],
            sources=sources,
            store_url=reader.get("store", "url", values.text, DEFAULT_STORE),
            poll_seconds=reader.get("sync", "poll_seconds", values.seconds, 5.0),
            max_backoff_seconds=reader.get(
                "sync", "max_backoff_seconds", values.seconds, 300.0
            ),
            radius=reader.get("match", "radius", values.count(0, 128), MATCH_DISTANCE),
            dihedral=reader.get("match", "dihedral", values.boolean, True),
            vpdq_threshold=reader.get("match", "vpdq_threshold", values.percent, 80.0),
            policy=PolicyConfig(None if auto < 0 else auto),
            webhook=webhook,
            host=reader.get("serve", "host", values.text, "127.0.0.1"),
            port=reader.get("serve", "port", values.count(1, 65535), 8100),
            max_upload_bytes=reader.get(
                "serve", "max_upload_bytes", values.count(1, 2**40), 64 * 1024 * 1024
            ),
            max_batch=reader.get(
                "serve", "max_batch", values.count(1, 1_000_000), 10_000
            ),
            token=reader.get("serve", "token", values.text, ""),
            trusted_proxies=tuple(
                reader.get("serve", "trusted_proxies", values.networks, ["127.0.0.1"])
            ),
            decode=_decode(reader),
            catalog=_catalog(reader),
            desk=_desk(reader),
            removals=_removals(reader),
            dsa=_dsa(reader),
            alerts=parse_rules(data.get("alerts", []), origin=origin),
        )


def _dsa(reader: ConfigReader) -> DsaConfig:
    """The `[dsa]` table: DsaConfig's fields, each typed as its default is
    ("" leaves an optional text out). A statement is built from it at once,
    so a text the Transparency Database would refuse fails here, not later."""
    from reclaim.matcher import dsa

    default = DsaConfig()
    fields: dict[str, Any] = {}
    for key in reader.data.get("dsa", {}):
        current = getattr(default, key)
        if isinstance(current, tuple):
            fields[key] = tuple(reader.get("dsa", key, values.strings, []))
        elif key == "incompatible_also_illegal":
            fields[key] = reader.get("dsa", key, values.boolean, False)
        else:
            text = reader.get("dsa", key, values.text, "")
            optional = current is None
            fields[key] = None if optional and not text.strip() else text
    try:
        found = DsaConfig(**fields)
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


def _desk(reader: ConfigReader) -> DeskConfig:
    """The `[desk]` table: the moderators' desk."""
    default = DeskConfig()
    return DeskConfig(
        session_hours=reader.get(
            "desk", "session_hours", values.positive, default.session_hours
        ),
        undo_seconds=reader.get(
            "desk", "undo_seconds", values.non_negative, default.undo_seconds
        ),
        keep_media_hours=reader.get(
            "desk", "keep_media_hours", values.non_negative, default.keep_media_hours
        ),
        secure_cookies=reader.get(
            "desk", "secure_cookies", values.boolean, default.secure_cookies
        ),
    )


def _removals(reader: ConfigReader) -> RemovalsConfig:
    """The `[removals]` table: legal removal requests."""
    default = RemovalsConfig()
    found = RemovalsConfig(
        reference_patterns=tuple(
            reader.get("removals", "reference_patterns", values.patterns, [])
        ),
        remind_hours=reader.get(
            "removals", "remind_hours", values.positive, default.remind_hours
        ),
        escalate_hours=reader.get(
            "removals", "escalate_hours", values.positive, default.escalate_hours
        ),
        retention_days=reader.get(
            "removals", "retention_days", values.count(0, 3650), default.retention_days
        ),
        public_form=reader.get(
            "removals", "public_form", values.boolean, default.public_form
        ),
        max_per_hour=reader.get(
            "removals", "max_per_hour", values.count(1, 1_000_000), default.max_per_hour
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


def _catalog(reader: ConfigReader) -> CatalogConfig:
    """The `[catalog]` table: the content catalog (off by default)."""
    default = CatalogConfig()
    found = CatalogConfig(
        enabled=reader.get("catalog", "enabled", values.boolean, default.enabled),
        path=reader.get("catalog", "path", values.text, default.path),
        flush_items=reader.get(
            "catalog", "flush_items", values.count(1, 10_000_000), default.flush_items
        ),
        flush_seconds=reader.get(
            "catalog", "flush_seconds", values.seconds, default.flush_seconds
        ),
        rescan=reader.get("catalog", "rescan", values.boolean, default.rescan),
        address=reader.get("catalog", "address", values.text, default.address),
    )
    if found.enabled and not reader.get("match", "dihedral", values.boolean, True):
        raise ConfigError(
            f"{reader.origin}: [catalog] enabled = true needs [match] dihedral = "
            "true: a catalog item keeps the upload's rotations, which only "
            "dihedral hashing computes; set dihedral = true or turn the catalog off"
        )
    if found.enabled and not found.path.strip():
        reader.missing("catalog", "path", "the catalog's directory or URL")
    return found


def _decode(reader: ConfigReader) -> DecodeConfig:
    """The `[decode]` table: limits on hashing uploads."""
    default = DecodeConfig()
    return DecodeConfig(
        workers=reader.get("decode", "workers", values.count(1, 256), default.workers),
        queue=reader.get("decode", "queue", values.count(0, 100_000), default.queue),
        max_pixels=reader.get(
            "decode", "max_pixels", values.count(1, MAX_PIXELS), default.max_pixels
        ),
        memory_mb=reader.get(
            "decode", "memory_mb", values.count(64, 1_048_576), default.memory_mb
        ),
        cpu_seconds=reader.get(
            "decode", "cpu_seconds", values.seconds, default.cpu_seconds
        ),
        timeout_seconds=reader.get(
            "decode", "timeout_seconds", values.seconds, default.timeout_seconds
        ),
        video_max_frames=reader.get(
            "decode",
            "video_max_frames",
            values.count(1, 10**9),
            default.video_max_frames,
        ),
        video_sample_frames=reader.get(
            "decode",
            "video_sample_frames",
            values.count(1, 100_000),
            default.video_sample_frames,
        ),
        video_max_seconds=reader.get(
            "decode", "video_max_seconds", values.seconds, default.video_max_seconds
        ),
    )


#: Every section of the config and its keys ([[sources]] tables are read
#: one by one, [[alerts]] by `reclaim.matcher.alerts.parse_rules`).
KNOWN = {
    "source": SOURCE_KEYS,
    "store": {"url"},
    "sync": {"poll_seconds", "max_backoff_seconds"},
    "match": {"radius", "dihedral", "vpdq_threshold"},
    "policy": {"auto_action_distance"},
    "webhook": {"url", "secret", "timeout_seconds", "max_backoff_seconds"},
    "serve": {
        "host",
        "port",
        "max_upload_bytes",
        "max_batch",
        "token",
        "trusted_proxies",
    },
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

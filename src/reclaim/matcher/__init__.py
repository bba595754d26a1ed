"""The platform matcher: a synced copy of the hash list and an exact PDQ index."""

from __future__ import annotations

from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.errors import (
    ConfigError,
    MatcherError,
    SourceRejected,
    SourceUnavailable,
)
from reclaim.matcher.errors_index import IndexArgumentError
from reclaim.matcher.index import Matches, PdqIndex

__all__ = [
    "ConfigError",
    "IndexArgumentError",
    "MatcherConfig",
    "MatcherError",
    "Matches",
    "PdqIndex",
    "SourceRejected",
    "SourceUnavailable",
]

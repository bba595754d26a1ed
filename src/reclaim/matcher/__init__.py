"""The platform matcher: a synced copy of the hash list and an exact PDQ index.

The index, the match rule and `Match` live in `reclaim.index`, which the
registry shares; they are exported here too.
"""

from __future__ import annotations

from reclaim.index import (
    IndexArgumentError,
    Match,
    Matches,
    MatchRule,
    PdqIndex,
    robust_match,
)
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.errors import (
    ConfigError,
    MatcherError,
    SourceRejected,
    SourceUnavailable,
)

__all__ = [
    "ConfigError",
    "IndexArgumentError",
    "Match",
    "MatchRule",
    "MatcherConfig",
    "MatcherError",
    "Matches",
    "PdqIndex",
    "SourceRejected",
    "SourceUnavailable",
    "robust_match",
]

"""The matching core: the match rule, an exact PDQ index and the matchable list.

It sits below both services (`hashing` <- `index` <- `registry`/`api`,
`matcher`) so that the registry's match endpoint and the platform matcher
match by one rule, through one code path, with one `Match` type. It imports
only numpy, the standard library, `reclaim.hashing` and `reclaim.errors`
(and faiss when installed).
"""

from __future__ import annotations

from reclaim.index.errors import IndexArgumentError
from reclaim.index.hits import Hits
from reclaim.index.index import MAX_RADIUS, Matches, PdqIndex
from reclaim.index.matchable import MatchableList
from reclaim.index.matching import Match, match_md5, match_pdq, match_vpdq
from reclaim.index.records import DEFAULT_SOURCE, ListRecord
from reclaim.index.rule import RULE, MatchRule, robust_match

__all__ = [
    "DEFAULT_SOURCE",
    "Hits",
    "IndexArgumentError",
    "ListRecord",
    "MAX_RADIUS",
    "Match",
    "MatchRule",
    "MatchableList",
    "Matches",
    "PdqIndex",
    "RULE",
    "match_md5",
    "match_pdq",
    "match_vpdq",
    "robust_match",
]

"""reclaim's query side in front of an unchanged HMA.

HMA (and pytx) look an upload up with one PDQ hash at distance 31. Against
reclaim's list (each picture's `submission_hashes`) that finds crops and
turns, but not mirrors, overlays, bars or screenshots: those need the
upload's side too (`reclaim.hashing.query_hashes`). `HmaLookup` hashes the
upload with that query side, asks HMA's own `GET /m/lookup` for each query
hash, and keeps what the match rule keeps, so a platform on HMA matches what
reclaim's matcher matches from the same list, while HMA keeps its banks,
their enable switches and coin flips, and its actions.

Only hashes go to HMA; the upload stays in the caller's process.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from reclaim.hashing import ImageSource, PdqHash, query_hashes
from reclaim.index import RULE, MatchRule

#: How long one HMA request may take before the lookup fails.
DEFAULT_TIMEOUT = 10.0


class HmaLookupError(Exception):
    """HMA could not be asked, or answered something that is not a lookup."""


@dataclass(frozen=True, slots=True)
class HmaMatch:
    """One bank content an upload matched, at the closest of its query hashes."""

    bank: str
    bank_content_id: int
    distance: int
    #: The place in `query_hashes(upload)` of the hash that matched closest
    #: (0: the upload as it came; plain HMA would have found only those).
    query: int


class HmaLookup:
    """Look uploads up in an HMA server with reclaim's query side.

    `url` is HMA's root (the one serving `/m/lookup`); `http` may be a
    client of the caller's (its base URL is then ignored, and it is not
    closed here). The rule decides which query hashes take part and each
    one's radius; HMA's own index answers at most 31 already.
    """

    def __init__(
        self,
        url: str,
        *,
        rule: MatchRule = RULE,
        signal_type: str = "pdq",
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._rule = rule
        self._signal_type = signal_type
        self._owned = http is None
        self._http = http or httpx.Client(timeout=timeout)

    def __enter__(self) -> HmaLookup:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client, if this lookup made it."""
        if self._owned:
            self._http.close()

    def lookup(
        self,
        image: ImageSource,
        *,
        banks: Sequence[str] | None = None,
        seed: str | None = None,
    ) -> list[HmaMatch]:
        """Hash an upload with `query_hashes` and look every hash up in HMA."""
        return self.lookup_hashes(query_hashes(image), banks=banks, seed=seed)

    def lookup_hashes(
        self,
        hashes: Sequence[PdqHash],
        *,
        banks: Sequence[str] | None = None,
        seed: str | None = None,
    ) -> list[HmaMatch]:
        """Look up an upload's query hashes (in `query_hashes` order).

        HMA flips a coin per lookup for banks matched at less than 100%;
        one `seed` for all of an upload's hashes makes the flip one per
        upload (a random one when not given). Each bank content comes back
        once, at its smallest distance, closest first.
        """
        seed = seed if seed is not None else secrets.token_hex(8)
        best: dict[tuple[str, int], HmaMatch] = {}
        for position, hashed in enumerate(hashes):
            if not self._rule.takes_query(position, hashed):
                continue
            radius = self._rule.radius(position)
            for bank, content_id, distance in self._ask(hashed.hex, banks, seed):
                if distance > radius:
                    continue
                key = (bank, content_id)
                known = best.get(key)
                if known is None or distance < known.distance:
                    best[key] = HmaMatch(bank, content_id, distance, position)
        return sorted(
            best.values(), key=lambda m: (m.distance, m.bank, m.bank_content_id)
        )

    def _ask(
        self, value: str, banks: Sequence[str] | None, seed: str
    ) -> list[tuple[str, int, int]]:
        params = {"signal_type": self._signal_type, "signal": value, "seed": seed}
        if banks is not None:
            params["banks"] = ",".join(banks)
        where = f"{self._url}/m/lookup"
        try:
            reply = self._http.get(where, params=params)
        except httpx.HTTPError as error:
            raise HmaLookupError(
                f"HMA at {self._url} did not answer ({type(error).__name__}: "
                f"{error}): expected its /m/lookup; check the URL and that HMA "
                "runs with ROLE_MATCHER"
            ) from error
        if reply.status_code != 200:
            raise HmaLookupError(
                f"HMA at {self._url} answered {reply.status_code} to a "
                f"{self._signal_type} lookup: {reply.text[:200]!r}; expected 200 "
                "(503 means its index is not built yet; 400 that the signal "
                "type is unknown or disabled)"
            )
        return _parse(reply, self._url)


def _parse(reply: httpx.Response, url: str) -> list[tuple[str, int, int]]:
    try:
        body = reply.json()
        found = [
            (str(bank), int(match["bank_content_id"]), int(match["distance"]))
            for bank, matches in body.items()
            for match in matches
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise HmaLookupError(
            f"HMA at {url} answered a lookup with {reply.text[:200]!r}: expected "
            '{"BANK": [{"bank_content_id": N, "distance": D}]}; is the URL '
            "HMA's root?"
        ) from error
    return found

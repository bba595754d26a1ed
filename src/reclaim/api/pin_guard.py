"""The per-case limit on wrong PINs, which a guesser cannot turn against the owner.

Why not simply "N wrong PINs per case, then the case is locked"? Because
anyone who knows a case number could then lock its owner out at will. The
limit has to slow guessers while the right PIN keeps working, and the only
thing that tells the owner from a guesser before the PIN is checked is where
the request comes from. So the limit is per case *and* per client network
(an IPv4 address or an IPv6 /64, `addresses.rate_key`):

* Every wrong PIN for a case counts against the case, from all clients
  together, in a short window (`RECLAIM_CASE_PIN_RATE`, 10/hour) and a long one
  (`RECLAIM_CASE_PIN_CAP`, 50/day).
* While a case is over a window's count, each client gets `TRIES` (3) wrong
  PINs for that case in that window; past them it gets 429 for that case
  until the window ends. A client that has not failed for the case still has
  all its tries, and a right PIN uses up none.

What the owner keeps: they get in from any network on which fewer than 3
wrong PINs were entered for their case in the current windows; at worst
(someone on their own network, or behind the same IPv4 NAT, used them up)
from any other network, such as mobile data, with no wait. Unknown case
numbers are counted the same way, so the answer says nothing about whether a
case exists.

What a guesser keeps: 50 wrong PINs per case per day, plus 3 per network it
controls. A PIN is 16 random base-32 symbols, 80 bits (`identifiers.py`).
Even with 2^32 networks (every IPv4 address, or a whole IPv6 /32) a guesser
gets at most 50 + 3 * 2^32 (about 1.3e10) guesses a day, one chance in about
10^14 per day of finding a given case's PIN; without this limit, the
per-client limit alone (`RECLAIM_PIN_RATE`, 30/hour) allowed 720 a day per
network, 240 times as many. Guesses racing in parallel can pass the check
before their failures are counted; the per-client limit bounds that slack.

The counters are keyed by an HMAC of the case number and of the client
(`Limiter.key`), never the plain values, and live in Redis or in memory with
the other limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from reclaim.api.ratelimit import Limiter
from reclaim.registry.errors import RateLimitedError

#: Wrong PINs each client gets for a case while that case is over a count.
TRIES = 3


@dataclass(frozen=True, slots=True)
class Attempt:
    """One admitted PIN check, to be settled once its outcome is known."""

    changes_if_right: tuple[tuple[str, int, int], ...]
    changes_if_wrong: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class PinGuard:
    """The per-case wrong-PIN limit of one app (its counters and settings)."""

    limiter: Limiter
    #: (count, seconds) of the short window and of the long one.
    rate: tuple[int, int]
    cap: tuple[int, int]

    def admit(self, case: str, client: str) -> Attempt:
        """Reserve one try of `client` for `case`, or raise RateLimitedError.

        `case` is the canonical case number, `client` the client's network.
        """
        windows = (("short", self.rate), ("long", self.cap))
        mine = [
            (self.limiter.key(f"case-client-{name}", f"{case}|{client}"), seconds)
            for name, (_, seconds) in windows
        ]
        theirs = [
            (self.limiter.key(f"case-{name}", case), seconds)
            for name, (_, seconds) in windows
        ]
        counts = self.limiter.add(
            [(key, seconds, 1) for key, seconds in mine]
            + [(key, seconds, 0) for key, seconds in theirs]
        )
        tried, wrong = counts[:2], counts[2:]
        waits = [
            mine_now.seconds_left
            for (limit, _), mine_now, case_now in zip(
                (self.rate, self.cap), tried, wrong, strict=True
            )
            if case_now.value >= limit and mine_now.value > TRIES
        ]
        if waits:
            wait = max(waits)
            raise RateLimitedError(
                "too many wrong PINs for this case from this connection: try "
                f"again in {wait} seconds, or from another network",
                wait,
            )
        return Attempt(
            changes_if_right=tuple((key, seconds, -1) for key, seconds in mine),
            changes_if_wrong=tuple((key, seconds, 1) for key, seconds in theirs),
        )

    def settle(self, attempt: Attempt, *, wrong: bool) -> None:
        """Count a wrong PIN against the case, or give a right one's try back."""
        self.limiter.add(
            attempt.changes_if_wrong if wrong else attempt.changes_if_right
        )

"""Rate-limit counters, in memory or shared through Redis, and the per-client limit.

Counters are fixed windows: a counter named `key` with a window of W seconds
counts the events of the current W-second slice of the clock. Every name is
an HMAC with the registry's secret (`Limiter.key`): client addresses and case
numbers are only used in memory, never stored or logged.

`RedisLimiter` shares the counters between API processes. When Redis does not
answer, it falls back to this process's own counters (a `MemoryLimiter`) and
logs one warning, rather than dropping the limits; it asks Redis again after
`RETRY_REDIS_AFTER` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from reclaim.registry.errors import RateLimitedError

logger = logging.getLogger(__name__)

#: Seconds without asking Redis after it failed to answer.
RETRY_REDIS_AFTER = 30


@dataclass(frozen=True, slots=True)
class Count:
    """A counter's value in its current window, and the seconds that window has left."""

    value: int
    seconds_left: int


def client_key(secret: str, address: str) -> str:
    """A keyed, one-way stand-in for a client address (or any other name)."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def _window(window: int) -> tuple[int, int]:
    """The start of the current `window`-second slice, and the seconds it has left."""
    now = int(time.time())
    start = now - now % window
    return start, start + window - now


def _refuse(bucket: str, retry_after: int) -> RateLimitedError:
    what = {"case": "case creations", "pin": "case look-ups"}.get(bucket, "requests")
    return RateLimitedError(
        f"too many {what} from this connection: try again in {retry_after} seconds",
        retry_after,
    )


class Limiter(ABC):
    """Counts events in fixed windows; `hit` refuses those over a limit."""

    #: Whether counting waits on the network (then it runs off the event loop).
    blocking: bool = False

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def key(self, kind: str, name: str) -> str:
        """The counter name for `name` (an address, a case number) of this kind."""
        return f"{kind}:{client_key(self._secret, f'{kind}:{name}')}"

    @abstractmethod
    def add(self, changes: Sequence[tuple[str, int, int]]) -> list[Count]:
        """Add to each (key, window seconds, amount) counter; the amount may be
        0 (a read) or negative. Returns the new values, in order."""

    def hit(self, bucket: str, client: str, *, limit: tuple[int, int]) -> None:
        """Count one event; raise RateLimitedError if over `limit` (N, seconds)."""
        count_max, window = limit
        (count,) = self.add([(self.key(bucket, client), window, 1)])
        if count.value > count_max:
            raise _refuse(bucket, count.seconds_left)


class MemoryLimiter(Limiter):
    """Per-process counters (the default when no Redis is configured)."""

    blocking = False

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        # (key, window, window start) -> count
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()
        self._swept = 0

    def add(self, changes: Sequence[tuple[str, int, int]]) -> list[Count]:
        """Add to each (key, window, amount) counter of its current window."""
        found = []
        with self._lock:
            self._sweep()
            for key, window, amount in changes:
                start, left = _window(window)
                slot = (key, window, start)
                value = self._counts.get(slot, 0) + amount
                self._counts[slot] = value
                found.append(Count(value, left))
        return found

    def _sweep(self) -> None:
        """Drop the counters of windows that have ended (at most once a minute)."""
        now = int(time.time())
        if now - self._swept > 60:
            self._counts = {
                slot: value
                for slot, value in self._counts.items()
                if slot[2] + slot[1] > now
            }
            self._swept = now


class RedisLimiter(Limiter):
    """Counters shared by every API process through one Redis."""

    blocking = True

    def __init__(self, url: str, secret: str) -> None:
        import redis

        super().__init__(secret)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._fallback = MemoryLimiter(secret)
        self._lock = threading.Lock()
        self._down_since: float | None = None

    def add(self, changes: Sequence[tuple[str, int, int]]) -> list[Count]:
        """Add to each counter in Redis, or in memory while Redis is down."""
        if self._resting():
            return self._fallback.add(changes)
        lefts = []
        try:
            pipe = self._redis.pipeline()
            for key, window, amount in changes:
                start, left = _window(window)
                name = f"reclaim:rl:{key}:{window}:{start}"
                pipe.incrby(name, amount)
                pipe.expire(name, window + 5)
                lefts.append(left)
            values = pipe.execute()[::2]
        except self._errors as error:
            self._went_down(error)
            return self._fallback.add(changes)
        self._came_back()
        return [Count(int(v), left) for v, left in zip(values, lefts, strict=True)]

    def _resting(self) -> bool:
        """Whether Redis failed less than RETRY_REDIS_AFTER seconds ago."""
        with self._lock:
            down = self._down_since
        return down is not None and time.monotonic() - down < RETRY_REDIS_AFTER

    def _went_down(self, error: Exception) -> None:
        with self._lock:
            first = self._down_since is None
            self._down_since = time.monotonic()
        if first:
            # The error's type only: its text may hold the Redis URL's password.
            logger.warning(
                "Redis unavailable (%s): rate limits are kept in this process's "
                "memory until it answers again",
                type(error).__name__,
            )

    def _came_back(self) -> None:
        with self._lock:
            was_down = self._down_since is not None
            self._down_since = None
        if was_down:
            logger.warning("Redis answers again: rate limits are shared again")

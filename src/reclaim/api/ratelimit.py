"""Rate limits per client address, in memory or shared through Redis.

The address is only used in memory: it is turned into an HMAC with the
registry's secret before it is used as a key, and is never stored or logged.
Fixed windows: at most N events per window of W seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from typing import Protocol

from reclaim.registry.errors import RateLimitedError

logger = logging.getLogger(__name__)


class Limiter(Protocol):
    """Counts events per (bucket, client) and refuses those over the limit."""

    #: Whether `hit` waits on the network (then it runs off the event loop).
    blocking: bool

    def hit(self, bucket: str, client: str, *, limit: tuple[int, int]) -> None:
        """Count one event; raise RateLimitedError if over `limit` (N, seconds)."""


def client_key(secret: str, address: str) -> str:
    """A keyed, one-way stand-in for a client address."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def _refuse(bucket: str, retry_after: int) -> RateLimitedError:
    what = {"case": "case creations", "pin": "case look-ups"}.get(bucket, "requests")
    return RateLimitedError(
        f"too many {what} from this connection: try again in {retry_after} seconds",
        retry_after,
    )


class MemoryLimiter:
    """Per-process limits (the default when no Redis is configured)."""

    blocking = False

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._counts: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()
        self._swept = 0

    def hit(self, bucket: str, client: str, *, limit: tuple[int, int]) -> None:
        count_max, window = limit
        now = int(time.time())
        start = now - now % window
        key = (bucket, client_key(self._secret, client), start)
        with self._lock:
            if now - self._swept > 60:
                self._counts = {
                    k: v for k, v in self._counts.items() if k[2] + 86_400 > now
                }
                self._swept = now
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        if count > count_max:
            raise _refuse(bucket, start + window - now)


class RedisLimiter:
    """Limits shared by every API process through one Redis."""

    blocking = True

    def __init__(self, url: str, secret: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._secret = secret

    def hit(self, bucket: str, client: str, *, limit: tuple[int, int]) -> None:
        count_max, window = limit
        now = int(time.time())
        start = now - now % window
        key = f"reclaim:rl:{bucket}:{client_key(self._secret, client)}:{start}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, window + 5)
            count = int(pipe.execute()[0])
        except self._errors as error:
            # Fail open: a person must not be locked out because Redis is down.
            logger.warning(
                "rate limiting skipped, Redis unavailable: %s", type(error).__name__
            )
            return
        if count > count_max:
            raise _refuse(bucket, start + window - now)

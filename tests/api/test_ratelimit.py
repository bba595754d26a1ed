"""Rate limiters: in memory, and shared through a real Redis."""

from __future__ import annotations

import os
import uuid

import pytest

from reclaim.api.ratelimit import MemoryLimiter, RedisLimiter, client_key
from reclaim.registry.errors import RateLimitedError

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable on 127.0.0.1:6379: {error}")
        pytest.skip(f"Redis is not reachable on 127.0.0.1:6379: {error}")


def test_addresses_are_keyed_not_kept() -> None:
    key = client_key("secret", "198.51.100.7")
    assert "198.51.100.7" not in key and len(key) == 32
    assert key != client_key("other secret", "198.51.100.7")


def test_memory_limiter() -> None:
    limiter = MemoryLimiter("s")
    for _ in range(3):
        limiter.hit("case", "198.51.100.7", limit=(3, 3600))
    with pytest.raises(RateLimitedError, match="too many case creations") as raised:
        limiter.hit("case", "198.51.100.7", limit=(3, 3600))
    assert raised.value.retry_after > 0
    limiter.hit("case", "198.51.100.8", limit=(3, 3600))  # another client
    limiter.hit("pin", "198.51.100.7", limit=(3, 3600))  # another bucket
    assert not any("198.51.100" in str(k) for k in limiter._counts)


def test_redis_limiter_is_shared_between_processes() -> None:
    _redis_or_skip()
    secret = uuid.uuid4().hex
    first, second = RedisLimiter(REDIS_URL, secret), RedisLimiter(REDIS_URL, secret)
    first.hit("pin", "198.51.100.7", limit=(2, 3600))
    second.hit("pin", "198.51.100.7", limit=(2, 3600))
    with pytest.raises(RateLimitedError):
        first.hit("pin", "198.51.100.7", limit=(2, 3600))


def test_redis_down_fails_open() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0", "s")
    for _ in range(5):
        limiter.hit("case", "198.51.100.7", limit=(1, 3600))

"""Rate-limit counters: in memory, shared through a real Redis, and Redis down."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest

from reclaim.api.ratelimit import MemoryLimiter, RedisLimiter, client_key
from reclaim.registry.errors import RateLimitedError
from tests.api.people import DEAD_REDIS_URL, REDIS_URL, case_body, registry_app, send


def redis_or_skip() -> None:
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


def test_counters_take_any_amount() -> None:
    limiter = MemoryLimiter("s")
    key = limiter.key("case-short", "ABC")
    assert [c.value for c in limiter.add([(key, 60, 1), (key, 3600, 0)])] == [1, 0]
    assert limiter.add([(key, 60, -1)])[0].value == 0


def test_redis_limiter_is_shared_between_processes() -> None:
    redis_or_skip()
    secret = uuid.uuid4().hex
    first, second = RedisLimiter(REDIS_URL, secret), RedisLimiter(REDIS_URL, secret)
    first.hit("pin", "198.51.100.7", limit=(2, 3600))
    second.hit("pin", "198.51.100.7", limit=(2, 3600))
    with pytest.raises(RateLimitedError):
        first.hit("pin", "198.51.100.7", limit=(2, 3600))


def test_redis_down_falls_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    """Before, a dead Redis meant no limits at all: every hit passed."""
    caplog.set_level(logging.WARNING, logger="reclaim.api.ratelimit")
    limiter = RedisLimiter(DEAD_REDIS_URL, "s")
    limiter.hit("case", "198.51.100.7", limit=(2, 3600))
    limiter.hit("case", "198.51.100.7", limit=(2, 3600))
    with pytest.raises(RateLimitedError):
        limiter.hit("case", "198.51.100.7", limit=(2, 3600))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # once, not per request
    assert "kept in this process's memory" in warnings[0]
    assert "198.51.100" not in warnings[0] and "127.0.0.1" not in warnings[0]


def test_redis_is_asked_again_after_an_outage(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_or_skip()
    import reclaim.api.ratelimit as ratelimit

    caplog.set_level(logging.WARNING, logger="reclaim.api.ratelimit")
    limiter = RedisLimiter(REDIS_URL, uuid.uuid4().hex)
    live = limiter._redis
    limiter._redis = RedisLimiter(DEAD_REDIS_URL, "s")._redis
    limiter.hit("pin", "198.51.100.7", limit=(5, 3600))  # in memory
    limiter._redis = live
    limiter.hit("pin", "198.51.100.7", limit=(5, 3600))  # still resting: memory
    monkeypatch.setattr(ratelimit, "RETRY_REDIS_AFTER", 0)
    limiter.hit("pin", "198.51.100.7", limit=(5, 3600))  # Redis again
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "answers again" in messages[1]


def test_the_app_keeps_its_limits_when_redis_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reclaim.api.ratelimit")
    with registry_app(tmp_path, redis_url=DEAD_REDIS_URL, case_rate=(3, 3600)) as (
        app,
        _,
    ):
        codes = [
            send(app, "POST", "/api/v1/cases", json=case_body()).status_code
            for _ in range(5)
        ]
    assert codes == [201, 201, 201, 429, 429]
    assert len(caplog.records) == 1

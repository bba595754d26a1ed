"""The per-case limit on wrong PINs: guessers are held, the owner is not."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from reclaim.api.pin_guard import TRIES, PinGuard
from reclaim.api.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from reclaim.registry.errors import RateLimitedError
from reclaim.registry.identifiers import new_case_number
from tests.api.people import REDIS_URL, open_case, registry_app, status
from tests.api.test_ratelimit import redis_or_skip

WRONG = "0000-0000-0000-0000"
#: Long windows, so that none ends during a test (a week: keys still expire).
WEEK = 7 * 86400


@pytest.fixture(params=["memory", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """Every end-to-end test runs with in-memory and with Redis limits."""
    if request.param == "memory":
        return None
    redis_or_skip()
    return REDIS_URL


def test_sprayed_guesses_are_held_and_the_owner_still_gets_in(
    tmp_path: Path, redis_url: str | None
) -> None:
    """The probe's attack: 150 wrong PINs from 5 addresses, then the right PIN.

    Before, all 150 were checked (the per-address limit of 30/hour each was
    the only one). Now the case takes 10 wrong PINs, then each address is held
    to its 3 tries: 15 checked, the rest refused, and the owner gets in.
    """
    with registry_app(tmp_path, redis_url=redis_url, case_pin_rate=(10, WEEK)) as (
        app,
        _,
    ):
        number, pin = open_case(app)
        guessers = [f"203.0.113.{i}" for i in range(1, 6)]
        answers = [
            status(app, number, WRONG, address=guessers[i % 5]) for i in range(150)
        ]
        assert answers.count(404) == 5 * TRIES  # (c): not the old 150
        assert answers.count(429) == 150 - 5 * TRIES  # (a)
        assert answers[-20:] == [429] * 20
        # (b) the owner, from a network of their own, at once:
        assert status(app, number, pin, address="192.0.2.50") == 200
        # and from the guessers' own address, the right PIN is still refused
        # unchecked (it would tell a guesser that it was right):
        assert status(app, number, pin, address=guessers[0]) == 429


def test_many_networks_get_three_tries_a_day_each(
    tmp_path: Path, redis_url: str | None
) -> None:
    """Past the long cap, each network gets 3 wrong PINs, however many
    networks there are; the owner's right PIN, used often, uses none of theirs."""
    with registry_app(
        tmp_path,
        redis_url=redis_url,
        case_pin_rate=(1000, 3600),  # the short rule out of the way
        case_pin_cap=(20, WEEK),
    ) as (app, _):
        number, pin = open_case(app)
        owner = "192.0.2.50"
        assert status(app, number, WRONG, address=owner) == 404  # one typo
        checked = []
        for network in range(12):
            address = f"203.0.113.{network + 1}"
            codes = [status(app, number, WRONG, address=address) for _ in range(10)]
            assert set(codes) <= {404, 429}
            checked.append(codes.count(404))
            for _ in range(3):  # the owner keeps using the case meanwhile
                assert status(app, number, pin, address=owner) == 200
        # 120 guesses: 19 before the cap (with the owner's typo, 20), then 3
        # per network. The per-client limit alone let all 120 through.
        assert checked == [10, 9] + [TRIES] * 10
        assert status(app, number, WRONG, address=owner) == 404  # a second typo
        assert status(app, number, pin, address=owner) == 200
        assert status(app, number, pin, address="192.0.2.99") == 200


def test_an_ipv6_guesser_is_one_client_per_64(tmp_path: Path) -> None:
    with registry_app(tmp_path, case_pin_rate=(1, WEEK)) as (app, _):
        number, pin = open_case(app)
        # 29 addresses of one /64: one client, held to its 3 tries.
        hosts = [f"2001:db8:1:2::{i:x}" for i in range(1, 30)]
        codes = [status(app, number, WRONG, address=host) for host in hosts]
        assert codes.count(404) == TRIES and codes[-1] == 429
        assert status(app, number, pin, address="2001:db8:1:3::1") == 200


def test_unknown_case_numbers_are_held_alike(tmp_path: Path) -> None:
    """The refusal says nothing about whether a case exists."""
    with registry_app(tmp_path, case_pin_rate=(2, WEEK)) as (app, _):
        real, _pin = open_case(app)
        for number in (real, new_case_number()):
            codes = [
                status(app, number, WRONG, address="203.0.113.1") for _ in range(5)
            ]
            assert codes == [404, 404, 404, 429, 429]


def _guard(limiter: Limiter) -> PinGuard:
    return PinGuard(limiter, rate=(2, 3600), cap=(100, 86400))


@pytest.mark.parametrize("shared", [False, True])
def test_right_pins_give_their_try_back(shared: bool) -> None:
    secret = uuid.uuid4().hex
    if shared:
        redis_or_skip()
    limiter: Limiter = (
        RedisLimiter(REDIS_URL, secret) if shared else MemoryLimiter(secret)
    )
    guard = _guard(limiter)
    for address in ("203.0.113.1", "203.0.113.2"):
        guard.settle(guard.admit("ABC", address), wrong=True)
    for _ in range(10):  # over the case's count: only wrong PINs use tries up
        guard.settle(guard.admit("ABC", "192.0.2.50"), wrong=False)
    for _ in range(TRIES - 1):  # it has used one already
        guard.settle(guard.admit("ABC", "203.0.113.1"), wrong=True)
    with pytest.raises(RateLimitedError, match="from another network") as refused:
        guard.admit("ABC", "203.0.113.1")
    assert 0 < refused.value.retry_after <= 3600
    guard.admit("ABC", "192.0.2.50")  # the owner
    guard.admit("OTHER", "203.0.113.1")  # another case

"""The one registry client (`reclaim.client`): against a real registry, and
against answers a real registry gives only when it fails (injected)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from reclaim.api.app import create_app
from reclaim.client import RegistryClient, RegistryRefusal, RegistryUnavailable
from tests.conftest import generous_settings, live_server, migrated_registry, random_pdq


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live SQLite registry's URL and a platform key reading both programs."""
    settings = generous_settings(f"sqlite:///{tmp_path}/registry.db")
    with migrated_registry(settings) as service:
        key = service.add_platform("Example", ["adult", "minor"])[1]
        with live_server(create_app(settings, service)) as url:
            yield url, key


def test_a_person_and_a_platform_share_one_client(registry: tuple[str, str]) -> None:
    url, key = registry
    value = random_pdq(np.random.default_rng(3))
    with RegistryClient(url) as person:
        created = person.create_case(
            "adult", [{"type": "pdq", "value": value, "quality": 90}]
        )
        number, pin = created["case_number"], created["pin"]
        assert person.status(number, pin)["status"] == "active"
        with pytest.raises(RegistryRefusal) as refused:
            person.status(number, "A" * 16)
        assert refused.value.status in (401, 403, 404)
        assert pin not in str(refused.value)
    with RegistryClient(url, api_key=key) as platform:
        lines = list(platform.snapshot(["adult"]))
        assert [line["value"] for line in lines[:-1]] == [value]
        assert lines[-1]["end"] and lines[-1]["count"] == 1
        page = platform.changes(["adult"], cursor=0, limit=10)
        assert [r["value"] for r in page["records"]] == [value]
        platform.feedback([{"type": "pdq", "value": value, "feedback": "blocked"}])
    with RegistryClient(url, api_key="rk_not_a_key") as stranger:
        with pytest.raises(RegistryRefusal) as refused:
            stranger.changes(["adult"], cursor=0, limit=10)
        assert refused.value.status == 401


Answer = Callable[[httpx.Request], httpx.Response]


def _injected(answers: list[Answer]) -> RegistryClient:
    def handle(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)(request)

    return RegistryClient(
        "http://registry.test", backoff=0.0, transport=httpx.MockTransport(handle)
    )


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def test_network_failures_and_restarts_are_retried_with_the_same_key() -> None:
    keys: list[str] = []

    def created(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(201, json={"case_number": "N", "pin": "P"})

    def restarting(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(503, json={"ok": False, "error": "restarting"})

    client = _injected([_down, restarting, created])
    assert client.create_case("adult", [])["case_number"] == "N"
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) >= 22


def test_each_failure_is_one_clear_error() -> None:
    client = _injected([_down] * 5)
    with pytest.raises(RegistryUnavailable, match="could not be reached.*5 tries"):
        client.status("N", "P")
    broken = _injected([lambda _: httpx.Response(500, text="<html>oops</html>")] * 5)
    with pytest.raises(RegistryUnavailable, match="HTTP 500") as failed:
        broken.status("N", "P")
    assert failed.value.status == 500
    refused = _injected(
        [lambda _: httpx.Response(422, json={"error": "bad pin", "errors": ["pin"]})]
    )
    with pytest.raises(RegistryRefusal, match="bad pin: pin") as refusal:
        refused.status("N", "P")
    assert refusal.value.reason == "bad pin" and not refusal.value.retried
    not_ours = _injected([lambda _: httpx.Response(200, text="hello")])
    with pytest.raises(RegistryUnavailable, match="is the URL a reclaim registry"):
        not_ours.status("N", "P")
    with pytest.raises(ValueError, match="at least 1"):
        RegistryClient("http://registry.test", attempts=0)


def test_a_retried_withdrawal_found_done_shows_the_case() -> None:
    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("answer lost", request=request)

    done = httpx.Response(409, json={"error": "already withdrawn"})
    shown = httpx.Response(200, json={"case": {"state": "withdrawn"}})
    client = _injected([lost, lambda _: done, lambda _: shown])
    assert client.withdraw("N", "P") == {"state": "withdrawn"}

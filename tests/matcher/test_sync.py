"""Sync against a real registry: snapshot, deltas, withdrawals, failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from reclaim.hashing import PdqHash, SignalType
from reclaim.index import ListRecord
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.errors import SourceUnavailable
from reclaim.matcher.records import Page
from reclaim.matcher.service import MatcherService, Query
from reclaim.registry.service import Registry
from tests.conftest import random_pdq
from tests.matcher.conftest import pdq_item, serve_on, submit


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flip(value: str, bits: int) -> str:
    number = int(value, 16)
    for bit in range(bits):
        number ^= 1 << (bit * 7)
    return format(number, "064x")


def matched(service: MatcherService, value: str) -> list[str]:
    found = service.find([Query(pdq=(PdqHash.parse(value),))])[0]
    return [m.value for m in found]


def test_snapshot_then_changes_then_withdrawal(
    make_service: Callable[..., MatcherService], person: httpx.Client
) -> None:
    rng = np.random.default_rng(1)
    first = random_pdq(rng)
    case = submit(person, pdq_item(first), {"type": "md5", "value": "ab" * 16})
    service = make_service()
    assert service.sync_once().result == "ok"
    assert service.status()["list"]["by_type"] == {"pdq": 1, "md5": 1, "vpdq": 0}
    assert matched(service, flip(first, 10)) == [first]

    second = random_pdq(rng)
    submit(person, pdq_item(second))
    service.sync_once()
    assert matched(service, second) == [second]
    assert service.status()["sync"]["cursor"] == service.store.state().cursor

    person.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    )
    service.sync_once()
    assert matched(service, first) == []
    assert service.status()["list"]["by_type"] == {"pdq": 1, "md5": 0, "vpdq": 0}


def test_a_restart_reloads_the_store_without_the_registry(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., object],
    person: httpx.Client,
) -> None:
    value = random_pdq(np.random.default_rng(2))
    submit(person, pdq_item(value))
    make_service().sync_once()
    config = make_config(source={"url": "http://127.0.0.1:9"})
    again = make_service(config)
    # Records load from the store at start, before any sync.
    assert matched(again, value) == [value]
    assert again.load_seconds < 5


def test_registry_down_keeps_the_last_good_list(
    tmp_path: Path,
    registry_service: Registry,
    platform_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from reclaim.api.app import create_app

    value = random_pdq(np.random.default_rng(3))
    registry_service.create_case("adult", [pdq_item(value)])
    config = MatcherConfig.from_mapping(
        {
            # A fixed port, so the registry can come back at the same address.
            "source": {
                "url": f"http://127.0.0.1:{free_port()}",
                "api_key": platform_key,
            },
            "store": {"url": f"sqlite:///{tmp_path}/matcher.db"},
            "sync": {"poll_seconds": 0.05, "max_backoff_seconds": 0.2},
        }
    )
    app = create_app(registry_service.settings, registry_service)
    port = int(config.source.url.rsplit(":", 1)[1])
    service = MatcherService(config)
    try:
        with serve_on(app, port):
            assert service.sync_once().result == "ok"
        # The registry is down: serve what we have, back off, say so.
        status = service.sync_once()
        assert status.result == "unavailable" and status.failures == 1
        assert status.backoff_seconds > 0
        assert matched(service, value) == [value]
        report = service.status()
        assert report["ok"] is False and report["sync"]["result"] == "unavailable"
        assert report["sync"]["serving"] == "last good list"
        assert service.sync_once().failures == 2
        assert service.syncer.status.backoff_seconds >= status.backoff_seconds
        assert "serving the last good list" in caplog.text
        assert value not in caplog.text
        with serve_on(app, port):
            assert service.sync_once().result == "ok"
        assert service.status()["sync"]["consecutive_failures"] == 0
    finally:
        service.close()


def test_a_revoked_key_keeps_the_last_good_list(
    make_service: Callable[..., MatcherService],
    person: httpx.Client,
    registry_service: Registry,
) -> None:
    value = random_pdq(np.random.default_rng(4))
    submit(person, pdq_item(value))
    service = make_service()
    service.sync_once()
    registry_service.revoke_platform("Example Social")
    status = service.sync_once()
    assert status.result == "rejected"
    assert "revoked" in (status.message or "")
    assert matched(service, value) == [value]
    assert service.status()["sync"]["consecutive_failures"] == 1


def test_an_interrupted_sync_leaves_the_store_consistent(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., object],
    person: httpx.Client,
) -> None:
    rng = np.random.default_rng(5)
    values = [random_pdq(rng) for _ in range(30)]
    for value in values[:10]:
        submit(person, pdq_item(value))
    service = make_service(make_config(source={"page_size": 5}))
    service.sync_once()
    for value in values[10:]:
        submit(person, pdq_item(value))
    before = service.store.state().cursor

    class Crash(Exception):
        pass

    real = service.store.apply
    calls = {"n": 0}

    def crashing(records, *, cursor, source):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash()
        return real(records, cursor=cursor, source=source)

    service.store.apply = crashing  # type: ignore[method-assign]
    status = service.sync_once()
    assert status.result == "error"
    # One page of 5 committed with its cursor; nothing half-applied.
    assert service.store.count() == 15
    assert service.store.state().cursor != before
    assert len(service.matchable) == 15
    service.store.apply = real  # type: ignore[method-assign]
    assert service.sync_once().result == "ok"
    assert service.store.count() == 30 and len(service.matchable) == 30
    for value in values:
        assert matched(service, value) == [value]


def test_a_cut_snapshot_changes_nothing(
    make_service: Callable[..., MatcherService],
) -> None:
    service = make_service()

    def pages(cursor):  # type: ignore[no-untyped-def]
        yield Page([ListRecord(SignalType.MD5, "cd" * 16, "adult")], None, True, False)
        raise SourceUnavailable("the snapshot was cut")

    service.source.pages = pages  # type: ignore[method-assign]
    assert service.sync_once().result == "unavailable"
    assert service.store.count() == 0 and service.store.state().cursor is None

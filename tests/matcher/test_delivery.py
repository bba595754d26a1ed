"""Webhooks and feedback: signed, retried, and never lost."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import numpy as np

from reclaim.client import RegistryClient
from reclaim.hashing import PdqHash
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.registry_source import RegistrySource
from reclaim.matcher.service import MatcherService, Query
from reclaim.matcher.webhook import sign, verify
from reclaim.registry.service import Registry
from tests.conftest import random_pdq
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.receiver import webhook_receiver

SECRET = "another-long-shared-secret"


def test_signatures() -> None:
    body = b'{"event": "match.action"}'
    now = 1_700_000_000
    headers = {
        "X-Reclaim-Timestamp": str(now),
        "X-Reclaim-Signature": sign(SECRET, now, body),
    }
    assert verify(SECRET, headers, body, now=now + 10)
    assert not verify("some-other-secret-value", headers, body, now=now)
    assert not verify(SECRET, headers, body + b" ", now=now)
    assert not verify(SECRET, headers, body, now=now + 301)  # a replay
    assert not verify(SECRET, {}, body, now=now)


def test_webhooks_are_retried_until_accepted(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
) -> None:
    listed = random_pdq(np.random.default_rng(11))
    submit(person, pdq_item(listed))
    with webhook_receiver(SECRET) as receiver:
        config = make_config(
            webhook={"url": receiver.url, "secret": SECRET},
            policy={"auto_action_distance": 10},
        )
        service = make_service(config)
        service.sync_once()
        receiver.failing = True
        queued = service.match([Query(pdq=(PdqHash.parse(listed),), reference="p1")])
        assert queued[0].matches[0][1].state.value == "auto_actioned"
        service.deliver()
        assert receiver.refused == 1 and service.outbox.pending()["webhook"] == 1
        service.deliver()  # not due yet: backoff
        assert receiver.refused == 1
        receiver.failing = False
        service.outbox.retry_now()
        service.deliver()
        assert service.outbox.pending() == {"feedback": 0, "webhook": 0}
        (delivery,) = receiver.deliveries
        assert delivery["event"] == "match.action"
        assert delivery["match"]["reference"] == "p1"
        assert delivery["match"]["state"] == "auto_actioned"
        assert "value" not in delivery["match"]


def test_a_wrong_secret_is_refused_by_the_receiver(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
) -> None:
    listed = random_pdq(np.random.default_rng(12))
    submit(person, pdq_item(listed))
    with webhook_receiver(SECRET) as receiver:
        config = make_config(
            webhook={"url": receiver.url, "secret": "not-the-receivers-secret"}
        )
        service = make_service(config)
        service.sync_once()
        service.match([Query(pdq=(PdqHash.parse(listed),))])
        service.deliver()
        assert receiver.bad_signatures == 1 and not receiver.deliveries
        assert service.outbox.pending()["webhook"] == 1  # kept, not lost


def test_feedback_waits_out_a_registry_outage(
    make_service: Callable[..., MatcherService],
    person: httpx.Client,
    registry_service: Registry,
) -> None:
    listed = random_pdq(np.random.default_rng(13))
    case = submit(person, pdq_item(listed))
    service = make_service()
    service.sync_once()
    (result,) = service.match([Query(pdq=(PdqHash.parse(listed),))])
    service.decide(result.matches[0][1].id, "not_blocked", reviewer="mod")
    key = registry_service.rotate_key("Example Social")[1]
    service.deliver()  # the old key is refused: both messages stay queued
    assert service.outbox.pending()["feedback"] == 2
    assert "refused the API key" in (service.last_feedback.error or "")
    assert "refused" in service.status()["outbox"]["last_feedback_error"]
    # The operator puts the new key in (here: the source's client, replaced).
    source = service.source
    assert isinstance(source, RegistrySource)
    source.client.close()
    source.client = RegistryClient(source.config.url, api_key=key, attempts=1)
    service.outbox.retry_now()
    started = time.perf_counter()
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0
    assert time.perf_counter() - started < 5
    status = person.post(
        f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    ).json()["case"]
    assert status["hashes"][0]["platforms_reviewed"] == 1
    assert status["hashes"][0]["platforms_removed"] == 0


def test_the_whole_service_on_a_postgresql_store(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
) -> None:
    from tests.conftest import postgres_database

    listed = random_pdq(np.random.default_rng(14))
    case = submit(person, pdq_item(listed))
    with postgres_database() as url:
        service = make_service(make_config(store={"url": url}))
        assert service.sync_once().result == "ok"
        (result,) = service.match([Query(pdq=(PdqHash.parse(listed),))])
        service.decide(result.matches[0][1].id, "blocked")
        service.deliver()
        assert service.outbox.pending()["feedback"] == 0
        service.engine.dispose()
    status = person.post(
        f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    ).json()["case"]
    assert status["hashes"][0]["platforms_removed"] == 1

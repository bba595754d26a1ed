"""Unmodified python-threatexchange against the registry's NCMEC API, over HTTP.

pytx's `NCMECHashAPI` and its `NCMECSignalExchangeAPI` fetch loop (window
shrinking, paging by `next`, deletions, feedback) run against a live uvicorn
registry on both databases; only the base URL is ours, through
`reclaim.interop.ncmec.NCMECSignalExchangeAPI` and RECLAIM_NCMEC_URL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from threatexchange.exchanges.clients.ncmec.hash_api import (
    FeedbackType,
    FingerprintType,
    NCMECEntryType,
    NCMECEnvironment,
    NCMECHashAPI,
)
from threatexchange.exchanges.impl.ncmec_api import (
    NCMECCheckpoint,
    NCMECCollabConfig,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from reclaim.api.app import create_app
from reclaim.interop.ncmec import NCMECSignalExchangeAPI
from reclaim.registry.models import Feedback, HashRecord
from reclaim.registry.ncmec import REASONS, REGISTRY_MEMBER
from reclaim.registry.service import Registry
from tests.conftest import live_server, random_pdq

#: Windows here are to the second: record times to the microsecond (the real
#: minute is tested in tests/registry/test_feed.py and
#: test_ncmec_pytx_minutes.py).
pytestmark = pytest.mark.usefixtures("precise_feed_times")

RNG = np.random.default_rng(23)
PLATFORM = "Example Social"
SIGNAL_TYPES = [PdqSignal, VideoMD5Signal]
COLLAB = NCMECCollabConfig(name="reclaim", environment=NCMECEnvironment.Industry)
#: Small pages, so that a handful of cases spans several.
PAGE_SIZE = 4


@pytest.fixture
def utc() -> Iterator[None]:
    """pytx formats its windows in local time marked Z: run it in UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def server(registry: Registry, utc: None) -> Iterator[str]:
    app = create_app(registry.settings.replace(ncmec_page_size=PAGE_SIZE), registry)
    with live_server(app) as url:
        yield url


@pytest.fixture
def exchange(
    server: str, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> NCMECSignalExchangeAPI:
    """Our exchange class, as HMA would build it, pointed at the registry."""
    key = registry.add_platform(PLATFORM, ["minor", "adult"])[1]
    monkeypatch.setenv("RECLAIM_NCMEC_URL", f"{server}/ncmec/")
    return NCMECSignalExchangeAPI(COLLAB, PLATFORM, key)


def submit(server: str, *pdq: str, md5: tuple[str, ...] = ()) -> dict:
    hashes: list[dict[str, object]] = [
        {"type": "pdq", "value": v, "quality": 100} for v in pdq
    ]
    hashes += [{"type": "md5", "value": v} for v in md5]
    reply = httpx.post(
        f"{server}/api/v1/cases", json={"program": "adult", "hashes": hashes}
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def withdraw(server: str, case: dict) -> None:
    reply = httpx.post(
        f"{server}/api/v1/cases/{case['case_number']}/withdraw",
        json={"pin": case["pin"]},
    )
    assert reply.status_code == 200, reply.text


@contextmanager
def clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    """The platform's clock runs ahead of the registry's.

    pytx stops its windows 5 s short of its own clock, so a registry change
    made a moment ago is only fetched by a platform whose clock is later;
    the registry accepts windows up to two minutes past its own clock.
    """
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() + seconds)
        yield


def fetch(
    exchange: NCMECSignalExchangeAPI,
    state: dict,
    checkpoint: NCMECCheckpoint | None,
) -> tuple[NCMECCheckpoint | None, list[int]]:
    """Run pytx's fetch loop to the end, merging into `state` as pytx does.

    Returns the last checkpoint and the number of entries in each delta.
    """
    sizes = []
    for delta in exchange.fetch_iter(SIGNAL_TYPES, checkpoint):
        exchange.naive_fetch_merge(state, delta.updates)
        checkpoint = delta.checkpoint
        sizes.append(len(delta.updates))
    return checkpoint, sizes


def signals(state: dict) -> dict[str, set[str]]:
    converted = NCMECSignalExchangeAPI.naive_convert_to_signal_type(
        SIGNAL_TYPES, COLLAB, state
    )
    for by_value in converted.values():
        for metadata in by_value.values():
            assert metadata.member_entries == {REGISTRY_MEMBER.id: set()}
    return {kind.get_name(): set(values) for kind, values in converted.items()}


def test_the_client_speaks_to_the_registry(
    server: str, exchange: NCMECSignalExchangeAPI, registry: Registry
) -> None:
    client = exchange.get_client(COLLAB.environment)
    assert isinstance(client, NCMECHashAPI)
    me = client.status()
    (platform,) = registry.list_platforms()
    assert (me.esp_id, me.esp_name) == (1000 + platform.id, PLATFORM)
    assert {(m.esp_id, m.esp_name) for m in client.members()} == {
        (me.esp_id, PLATFORM),
        (REGISTRY_MEMBER.id, REGISTRY_MEMBER.name),
    }
    reasons = client.feedback_reasons(FingerprintType.pdq)
    assert reasons == {r.guid: r.name for r in REASONS}

    start = int(time.time()) - 2
    pdq = [random_pdq(RNG) for _ in range(9)]
    md5 = "0a21c8f8a3e1c5b4d2f60718293a4b5c"
    submit(server, *pdq, md5=(md5,))
    pages = list(
        client.get_entries_iter(start_timestamp=start, end_timestamp=int(time.time()))
    )
    assert [len(p.updates) for p in pages] == [4, 4, 2]
    # pytx estimates the window as max - start + len(updates): one short of
    # the 10 entries, since `max` is the window's last position, included.
    assert pages[0].estimated_entries_in_range == 9
    updates = [u for p in pages for u in p.updates]
    assert {u.fingerprints.get("pdq") for u in updates} == {*pdq, None}
    (video,) = [u for u in updates if u.entry_type is NCMECEntryType.video]
    assert video.fingerprints == {"md5": md5} and not video.deleted
    assert {u.member_id for u in updates} == {REGISTRY_MEMBER.id}

    image = next(u for u in updates if u.entry_type is NCMECEntryType.image)
    client.submit_upvote(image.member_id, image.id, FingerprintType.pdq)
    client.submit_feedback(
        video.member_id,
        video.id,
        FingerprintType.md5,
        FeedbackType.downvote,
        REASONS[1].guid,
    )
    with registry.db.read() as session:
        stored = {
            (f.hash_id, f.platform_id, f.value, f.tags)
            for f in session.scalars(select(Feedback))
        }
    assert stored == {
        (int(image.id), platform.id, "blocked", ""),
        (int(video.id), platform.id, "not_blocked", REASONS[1].name),
    }
    # The feedback moved both records forward: a later window shows it,
    # parsed by pytx into upvotes and downvotes from this member.
    later = list(
        client.get_entries_iter(
            start_timestamp=int(time.time()) - 2, end_timestamp=int(time.time()) + 1
        )
    )
    voted = {u.id: u.feedback for p in later for u in p.updates}
    (upvote,) = voted[image.id]["Pdq"]
    assert upvote.feedback_type is FeedbackType.upvote and upvote.member == me
    (downvote,) = voted[video.id]["Md5"]
    assert downvote.feedback_type is FeedbackType.downvote
    assert (downvote.member, downvote.reason) == (me, REASONS[1].name)


def test_fetch_loop_sees_pages_deletions_and_feedback(
    server: str,
    exchange: NCMECSignalExchangeAPI,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = submit(server, *(random_pdq(RNG) for _ in range(5)), md5=("ab" * 16,))
    gone = submit(server, *(random_pdq(RNG) for _ in range(4)))
    also = submit(server, *(random_pdq(RNG) for _ in range(3)))
    values = {
        case["case_number"]: {h["value"] for h in case["case"]["hashes"]}
        for case in (kept, gone, also)
    }
    live = values[kept["case_number"]] | values[also["case_number"]]
    everything = live | values[gone["case_number"]]

    state: dict = {}
    with clock_ahead(monkeypatch, 6):
        checkpoint, sizes = fetch(exchange, state, None)
    # pytx shrank its window from 1970 until the cases' second, then paged.
    # Its windows share their end second with the next one's start, and both
    # ends are inclusive, so that second may be fetched twice (harmless).
    assert len(state) == 13 and sum(1 for s in sizes if s) >= 4
    assert max(sizes) <= PAGE_SIZE
    assert checkpoint is not None and checkpoint.paging_info is None
    found = signals(state)
    assert found["pdq"] | found["video_md5"] == everything
    assert found["video_md5"] == {"ab" * 16}

    withdraw(server, gone)
    # Fetches happen later on the platform's clock too.
    with clock_ahead(monkeypatch, 8):
        checkpoint, sizes = fetch(exchange, state, checkpoint)
    assert sum(sizes) in (4, 8)  # the withdrawn case's tombstones, nothing else
    found = signals(state)
    assert found["pdq"] | found["video_md5"] == live

    # A platform starting now never imports the withdrawn hashes.
    fresh: dict = {}
    with clock_ahead(monkeypatch, 10):
        fetch(exchange, fresh, None)
    assert set(fresh) == set(state)
    assert all(not entry.deleted for entry in fresh.values())
    found = signals(fresh)
    assert found["pdq"] | found["video_md5"] == live

    # Feedback through the exchange's client lands on the registry's record.
    client = exchange.get_client(COLLAB.environment)
    key, entry = next(
        (k, e) for k, e in state.items() if e.entry_type is NCMECEntryType.image
    )
    assert key == f"{REGISTRY_MEMBER.id}-{entry.id}"
    client.submit_feedback(
        entry.member_id, entry.id, FingerprintType.pdq, FeedbackType.upvote
    )
    with registry.db.read() as session:
        record = session.get(HashRecord, int(entry.id))
        assert record is not None and record.value == entry.fingerprints["pdq"]
        (given,) = session.scalars(select(Feedback)).all()
    assert (given.hash_id, given.value) == (record.id, "blocked")
    with clock_ahead(monkeypatch, 12):
        checkpoint, sizes = fetch(exchange, state, checkpoint)
    assert sum(sizes) in (1, 2)
    assert state[key].feedback["Pdq"][0].feedback_type is FeedbackType.upvote


def test_a_hash_withdrawn_in_one_program_stays_live_from_the_other(
    server: str,
    exchange: NCMECSignalExchangeAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = random_pdq(RNG)
    adult = submit(server, shared)
    reply = httpx.post(
        f"{server}/api/v1/cases",
        json={
            "program": "minor",
            "hashes": [{"type": "pdq", "value": shared, "quality": 100}],
        },
    )
    assert reply.status_code == 201
    withdraw(server, adult)
    state: dict = {}
    with clock_ahead(monkeypatch, 6):
        fetch(exchange, state, None)
    assert len(state) == 1  # the minor program's entry; the adult one is gone
    assert signals(state) == {"pdq": {shared}}


def test_without_the_setting_the_client_talks_to_ncmec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECLAIM_NCMEC_URL", raising=False)
    exchange = NCMECSignalExchangeAPI(COLLAB, PLATFORM, "secret")
    assert NCMECSignalExchangeAPI.get_name() == "ncmec"
    client = exchange.get_client(NCMECEnvironment.test_Industry)
    assert client._base_url == NCMECEnvironment.test_Industry.value

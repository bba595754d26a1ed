"""A store made by the single-source matcher keeps its list after the upgrade.

The old schema is pinned here as it was, so the additive changes of
`store.prepare` are tested against real old stores on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)

from reclaim.hashing import PdqHash
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService, Query
from reclaim.matcher.store import digest, open_engine
from tests.conftest import postgres_database, random_pdq
from tests.matcher.conftest import pdq_item, submit

old = MetaData()
Id = BigInteger().with_variant(Integer(), "sqlite")
old_records = Table(
    "list_records",
    old,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("generation", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("program", String(32), nullable=False),
    Column("digest", BigInteger, nullable=False),
    Column("value", Text, nullable=False),
    Column("quality", Integer, nullable=True),
    Index("ix_list_records_digest", "digest"),
)
old_state = Table(
    "sync_state",
    old,
    Column("id", Integer, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("cursor", String(64), nullable=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("synced_at", DateTime(timezone=True), nullable=True),
)
old_matches = Table(
    "matches",
    old,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("program", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("distance", Integer, nullable=False),
    Column("reference", String(200), nullable=True),
    Column("state", String(16), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reviewer", String(100), nullable=True),
    Column("related", Text, nullable=False, server_default=""),
)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    with postgres_database() as url:
        yield url


def test_an_old_single_source_store_keeps_its_list_and_cursor(
    store_url: str,
    registry_url: str,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    person: httpx.Client,
) -> None:
    rng = np.random.default_rng(71)
    kept, newer = random_pdq(rng), random_pdq(rng)
    case = submit(person, pdq_item(kept))
    config = make_config(store={"url": store_url})
    # What the single-source matcher left: one synced record, one pending match.
    engine = open_engine(store_url)
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(old_records).values(
                generation=1,
                kind="pdq",
                program="adult",
                digest=digest(kept),
                value=kept,
                quality=100,
            )
        )
        connection.execute(
            insert(old_state).values(
                id=1,
                source=f"reclaim registry at {registry_url}",
                cursor="1",
                generation=1,
                synced_at=datetime.now(UTC),
            )
        )
        connection.execute(
            insert(old_matches).values(
                created_at=datetime.now(UTC),
                kind="pdq",
                program="adult",
                value=kept,
                distance=0,
                state="pending",
                related="",
            )
        )
    engine.dispose()

    service = make_service(config)
    # Loaded from the upgraded store before any sync, as the source "default".
    found = service.find([Query(pdq=(PdqHash.parse(kept),))])[0]
    assert [(m.value, m.source) for m in found] == [(kept, "default")]
    assert service.store.state().cursor == "1"
    assert service.store.state().generation == 1
    # The sync continues from the stored cursor (no fresh snapshot).
    submit(person, pdq_item(newer))
    assert service.sync_once().result == "ok"
    assert service.status()["list"]["size"] == 2
    assert service.store.state().generation == 1
    # An old pending match is decided; its feedback goes to the first source.
    item = service.decide(1, "blocked")
    assert item.sources == ()
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0
    status = person.post(
        f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    ).json()["case"]
    assert status["hashes"][0]["platforms_removed"] == 1
    service.close()
    # Opening it again changes nothing more.
    again = make_service(config)
    assert again.status()["list"]["size"] == 2
    assert json.loads(json.dumps(again.status()["sources"]["default"]))["cursor"]

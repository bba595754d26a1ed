"""The matcher's content catalog against a real registry: a photo uploaded
and catalogued before its hash was listed is queued after the next sync."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from reclaim.catalog.store import CatalogStore
from reclaim.hashing import pdq_hash
from reclaim.matcher.app import create_app
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.media import hash_image
from reclaim.matcher.review import Origin, State
from reclaim.matcher.service import MatcherService
from tests.conftest import encode, live_server, postgres_database
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.test_done import wait_for


def turned_copy(photo: np.ndarray) -> bytes:
    """Turned a quarter, scaled to 70% and re-compressed."""
    image = Image.fromarray(np.ascontiguousarray(np.rot90(photo)))
    image = image.resize((image.width * 7 // 10, image.height * 7 // 10))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The matcher's store: the catalog's tables on both databases."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/matcher.db"
        return
    with postgres_database() as url:
        yield url


def list_photo(
    person: httpx.Client, data: bytes, program: str = "adult"
) -> dict[str, Any]:
    """A person's case listing a photo's PDQ hash (as the page would)."""
    listed = pdq_hash(data)
    return submit(person, pdq_item(listed.hex, listed.quality or 0), program=program)


def catalog_config(
    make_config: Callable[..., MatcherConfig], tmp_path: Path, **catalog: object
) -> MatcherConfig:
    return make_config(
        catalog={"enabled": True, "path": str(tmp_path / "catalog"), **catalog}
    )


def test_a_photo_uploaded_before_it_was_listed_is_queued_after_the_next_sync(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
) -> None:
    original = encode(photos["astronaut"], "JPEG", quality=95)
    copy = turned_copy(photos["astronaut"])
    config = make_config(
        sync={"poll_seconds": 0.1},
        catalog={"enabled": True, "path": str(tmp_path / "catalog")},
    )
    service = make_service(config)
    with (
        live_server(create_app(service, background=True)) as matcher_url,
        httpx.Client(base_url=matcher_url, timeout=30) as platform,
    ):
        wait_for(lambda: platform.get("/readyz").status_code == 200)
        reply = platform.post(
            "/v1/match/media", params={"reference": "post-42"}, content=copy
        )
        assert reply.status_code == 200 and reply.json()["matches"] == []
        assert platform.get("/status").json()["catalog"]["spooled"] == 1

        case = list_photo(person, original)

        def found() -> list[dict[str, object]]:
            return [
                item
                for item in platform.get("/v1/review").json()["matches"]
                if item["origin"] == "catalog"
            ]

        wait_for(lambda: bool(found()), timeout=30)
        (item,) = found()
        assert item["reference"] == "post-42"
        assert item["state"] == "pending" and item["program"] == "adult"
        assert int(item["distance"]) <= 31  # type: ignore[call-overload]
        rescan = platform.get("/status").json()["catalog"]["rescan"]
        assert rescan["state"] == "idle" and rescan["queued"] == 1
        assert rescan["listed_hashes"] >= 1

        # Feedback upstream and the webhook are those of any match.
        wait_for(lambda: not any(service.outbox.pending().values()))

        # The person withdraws before anyone reviewed it: it is withdrawn.
        person.post(
            f"/api/v1/cases/{case['case_number']}/withdraw",
            json={"pin": case["pin"]},
        )
        wait_for(
            lambda: (
                service.queue.get(int(item["id"])).state  # type: ignore[call-overload]
                is State.WITHDRAWN
            ),
            timeout=30,
        )


def test_the_spool_becomes_a_shard_and_rescans_never_queue_a_hit_twice(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
    store_url: str,
) -> None:
    config = make_config(
        store={"url": store_url},
        catalog={"enabled": True, "path": str(tmp_path / "catalog")},
    )
    service = make_service(config)
    service.sync_once()
    catalog = service.catalog
    assert catalog is not None
    uploads = {
        f"post-{n}": encode(photos[name], "PNG")
        for n, name in enumerate(("astronaut", "coffee", "chelsea"))
    }
    for reference, data in uploads.items():
        service.match_media(hash_image(data), reference=reference)
    assert catalog.flush(force=True) == 3
    shards = CatalogStore(config.catalog.path).shards()
    assert len(shards) == 1 and shards[0].origin.startswith("uploads-")
    assert catalog.flush(force=True) == 0  # nothing left in the spool
    # One more, left in the spool: rescans read both.
    service.match_media(hash_image(turned_copy(photos["coffee"])), reference="post-9")

    assert service.rescan_now() is not None  # the first looks at everything
    assert b'reclaim_matcher_catalog_rescans_total{result="ok"} 1.0' in (
        service.metrics.render()
    )
    assert service.queue.list() == []
    list_photo(person, uploads["post-1"], program="minor")
    service.sync_once()
    outcome = service.rescan_now()
    assert outcome is not None and outcome.queued == 2
    queued = service.queue.list()
    assert {(q.reference, q.origin, q.program) for q in queued} == {
        ("post-1", Origin.CATALOG, "minor"),
        ("post-9", Origin.CATALOG, "minor"),
    }
    assert {q.distance for q in queued if q.reference == "post-1"} == {0}

    # The next rescan overlaps this one (rows stored just before it began
    # may commit after it read), and on demand looks at everything: no
    # hit is queued twice.
    overlap = service.rescan_now()
    assert overlap is not None and overlap.queued == 0
    again = catalog.rescan()
    assert len(again.hits) == 2 and again.queued == 0
    assert len(service.queue.list()) == 2


def test_an_upload_matched_as_it_arrived_is_not_queued_again(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
) -> None:
    service = make_service(catalog_config(make_config, tmp_path))
    data = encode(photos["astronaut"], "PNG")
    list_photo(person, data)
    service.sync_once()
    result = service.match_media(hash_image(data), reference="post-1")
    assert result.matches
    outcome = service.rescan_now()
    assert outcome is not None and len(outcome.hits) == 1 and outcome.queued == 0
    assert [q.origin for q in service.queue.list()] == [Origin.UPLOAD]


def test_a_reference_the_catalog_cannot_keep_is_refused_before_matching(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    photos: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    service = make_service(catalog_config(make_config, tmp_path))
    service.sync_once()
    with (
        live_server(create_app(service)) as url,
        httpx.Client(base_url=url, timeout=30) as platform,
    ):
        reply = platform.post(
            "/v1/match/media",
            params={"reference": "x" * 150},
            content=encode(photos["coffee"], "PNG"),
        )
        assert reply.status_code == 422
        assert "at most 100 bytes" in reply.json()["error"]
        # Uploads without a reference are matched, and not catalogued.
        reply = platform.post(
            "/v1/match/media", content=encode(photos["coffee"], "PNG")
        )
        assert reply.status_code == 200
    assert service.status()["catalog"]["spooled"] == 0


def test_a_catalog_needs_rotations_and_its_libraries_say_so(
    make_config: Callable[..., MatcherConfig], tmp_path: Path
) -> None:
    from reclaim.matcher.errors import ConfigError

    with pytest.raises(ConfigError, match="dihedral = true"):
        make_config(
            match={"dihedral": False},
            catalog={"enabled": True, "path": str(tmp_path)},
        )


def test_reclaim_matcher_rescan_queues_what_it_finds(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from reclaim.cli.main import app

    config = catalog_config(make_config, tmp_path)
    service = make_service(config)
    service.sync_once()
    data = encode(photos["chelsea"], "PNG")
    service.match_media(hash_image(data), reference="post-7")
    list_photo(person, data)
    service.sync_once()
    path = tmp_path / "matcher.toml"
    path.write_text(
        "[source]\n"
        f'url = "{config.source.url}"\napi_key = "{config.source.api_key}"\n'
        f'[store]\nurl = "{config.store_url}"\n'
        f'[catalog]\nenabled = true\npath = "{config.catalog.path}"\n'
    )
    runner = CliRunner()
    result = runner.invoke(app, ["matcher", "rescan", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 hits, 1 new review entries" in " ".join(result.output.split())
    result = runner.invoke(
        app, ["matcher", "rescan", "-c", str(path), "--since", "2999-01-01"]
    )
    assert result.exit_code == 0 and "looked for 0 listed" in result.output
    result = runner.invoke(
        app, ["matcher", "rescan", "-c", str(path), "--until", "2000-01-01"]
    )
    assert result.exit_code == 0 and "looked for 0 listed" in result.output
    result = runner.invoke(
        app,
        [
            "matcher",
            "rescan",
            "-c",
            str(path),
            "--since",
            "2026-02-01",
            "--until",
            "2026-01-01",
        ],
    )
    assert result.exit_code != 0 and "is not before --until" in result.output
    result = runner.invoke(
        app, ["matcher", "rescan", "-c", str(path), "--since", "yesterday"]
    )
    assert result.exit_code != 0 and "is not a date" in result.output
    (item,) = service.queue.list()
    assert item.origin is Origin.CATALOG and item.reference == "post-7"


def test_a_flush_cut_short_neither_loses_nor_doubles_an_item(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    photos: dict[str, np.ndarray],
    tmp_path: Path,
    store_url: str,
) -> None:
    from sqlalchemy import update

    from reclaim.catalog.items import from_table
    from reclaim.matcher.tables import catalog_spool

    config = make_config(
        store={"url": store_url},
        catalog={"enabled": True, "path": str(tmp_path / "catalog")},
    )
    service = make_service(config)
    catalog = service.catalog
    assert catalog is not None
    data = encode(photos["coffee"], "PNG")
    for n in range(3):
        service.match_media(hash_image(data), reference=f"post-{n}")
    store = CatalogStore(config.catalog.path)
    # A flush that marked its rows, then died before writing the shard.
    with service.engine.begin() as connection:
        connection.execute(update(catalog_spool).values(shard="uploads-x-1-3.parquet"))
    assert catalog.flush(force=True) == 3  # unmarked, then written
    (shard,) = store.shards()
    # A flush that wrote its shard, then died before deleting the rows.
    service.match_media(hash_image(data), reference="post-3")
    with service.engine.begin() as connection:
        connection.execute(update(catalog_spool).values(shard=shard.name))
    assert catalog.flush(force=True) == 0  # the rows were in the shard: gone
    assert catalog.spooled().num_rows == 0
    items = [i for s in store.shards() for i in from_table(store.read(s))]
    assert sorted(i.reference for i in items) == ["post-0", "post-1", "post-2"]


def test_one_piece_of_content_catalogued_twice_is_one_review_entry(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
) -> None:
    service = make_service(catalog_config(make_config, tmp_path))
    service.sync_once()
    data = encode(photos["chelsea"], "PNG")
    # Uploaded twice under one reference (a retried request, a backfill of
    # what the matcher kept already): two items, one piece of content.
    service.match_media(hash_image(data), reference="post-5")
    service.match_media(hash_image(turned_copy(photos["chelsea"])), reference="post-5")
    list_photo(person, data)
    service.sync_once()
    outcome = service.rescan_now()
    assert outcome is not None and outcome.queued == 1
    assert [q.reference for q in service.queue.list()] == ["post-5"]


def test_a_sweep_withdraws_what_a_withdrawal_during_a_rescan_missed(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
) -> None:
    service = make_service(catalog_config(make_config, tmp_path))
    service.sync_once()
    data = encode(photos["coffee"], "PNG")
    service.match_media(hash_image(data), reference="post-1")
    case = list_photo(person, data)
    service.sync_once()
    catalog = service.catalog
    assert catalog is not None
    # The rescan read the list; the withdrawal lands before its hits are
    # queued, so the sync's own withdrawal finds nothing to withdraw.
    records = list(service.store.records())
    person.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    )
    service.sync_once()
    outcome = catalog.rescan(records=records)
    assert outcome.queued == 1
    (item,) = service.queue.list()
    assert item.state is State.PENDING
    assert catalog.sweep() == 1
    assert service.queue.get(item.id).state is State.WITHDRAWN
    assert catalog.sweep() == 0


def test_rescans_in_passes_find_what_one_pass_finds(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reclaim.matcher import catalog as module

    service = make_service(catalog_config(make_config, tmp_path))
    service.sync_once()
    names = ("astronaut", "coffee", "chelsea")
    for n, name in enumerate(names):
        service.match_media(hash_image(encode(photos[name], "PNG")), reference=f"p{n}")
    for name in names:
        list_photo(person, encode(photos[name], "PNG"))
    service.sync_once()
    catalog = service.catalog
    assert catalog is not None
    monkeypatch.setattr(module, "CHUNK", 1)
    seen: list[tuple[int, int]] = []
    outcome = catalog.rescan(progress=lambda d, t, h: seen.append((d, t)))
    assert outcome.listed == 3 and outcome.queued == 3
    assert {q.reference for q in service.queue.list()} == {"p0", "p1", "p2"}
    assert catalog.status.state == "idle" and catalog.status.queued == 3

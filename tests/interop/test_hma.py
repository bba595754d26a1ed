"""Meta's HMA 1.1.7, unmodified, matching against a live reclaim registry.

HMA's OMM_CONFIG puts `reclaim.interop.StopNCIISignalExchangeAPI` where pytx's
StopNCII exchange was, under the same name `stop_ncii`, and its credentials'
`base_url_override` points at the registry's /stopncii/v1. Then what a
platform sees: the person's hashes match (`/m/raw_lookup`, and `/m/lookup` of
a picture HMA downloads and hashes itself), a withdrawal stops the match after
the next fetch, and a first fetch never imports withdrawn hashes. The last
test shows what stock pytx left in a platform's HMA, and how it is repaired.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from PIL import Image

from reclaim.hashing import pdq_hash, submission_hashes
from reclaim.interop.hma import HmaLookup, HmaLookupError
from tests.interop.conftest import (
    PLATFORM,
    LiveRegistry,
    file_server,
    running_registry,
)
from tests.interop.hma import STOCK_EXCHANGES, Hma, running_hma, write_config

#: Photographs of the people in the tests (scikit-image's), served as PNGs.
PICTURES = ("astronaut", "coffee", "chelsea", "rocket")


@pytest.fixture
def hma(tmp_path: Path) -> Iterator[Hma]:
    with running_hma(tmp_path / "hma") as running:
        yield running


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LiveRegistry]:
    directory = tmp_path / "registry"
    directory.mkdir()
    with running_registry(directory) as running:
        yield running


@pytest.fixture
def pictures(tmp_path: Path, photos: dict[str, np.ndarray]) -> Iterator[dict[str, str]]:
    """Each picture's PDQ hash (reclaim's, as the person's device makes it);
    the pictures themselves are served at `{media}/{name}.png`."""
    directory = tmp_path / "media"
    directory.mkdir()
    hashes = {}
    for name in PICTURES:
        Image.fromarray(photos[name]).save(directory / f"{name}.png")
        hashes[name] = pdq_hash(photos[name]).hex
    with file_server(directory) as url:
        hashes["media"] = url
        yield hashes


def md5_of(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def credentials(registry: LiveRegistry) -> dict[str, str]:
    """StopNCII credentials for the registry: the platform's key twice."""
    return {
        "fetch_function_key": registry.key,
        "subscription_key": registry.key,
        "base_url_override": registry.stopncii_url,
    }


def test_hashes_match_until_the_person_withdraws(
    hma: Hma, registry: LiveRegistry, pictures: dict[str, str]
) -> None:
    # Two live pictures stay: a PDQ index of one hash matches nothing once HMA
    # has stored it (faiss's multi-hash index; see docs/hma.md).
    stays = registry.submit(
        pictures["coffee"], pictures["chelsea"], md5=(md5_of("coffee video"),)
    )
    leaves = registry.submit(pictures["astronaut"], md5=(md5_of("astronaut video"),))
    hma.create_exchange("RECLAIM")
    # The credential step a platform runs once: HMA's CLI, "key,key,base URL".
    key = registry.key
    hma.flask("auth", "stop_ncii", "--from-str", f"{key},{key},{registry.stopncii_url}")
    hma.fetch_and_index()

    astronaut = pictures["astronaut"]
    hma.wait_for(lambda: hma.raw_lookup("pdq", astronaut), bool)
    # Each signal type's index reloads on its own: wait for MD5's too.
    hma.wait_for(lambda: hma.raw_lookup("video_md5", md5_of("astronaut video")), bool)
    # HMA downloads the picture and hashes it with pytx's PDQ: it matches the
    # hash reclaim made from the same picture.
    found = hma.lookup_url(f"{pictures['media']}/astronaut.png")
    assert list(found["pdq"]) == ["RECLAIM"]
    assert hma.lookup_url(f"{pictures['media']}/rocket.png")["pdq"] == {}

    registry.withdraw(leaves)
    hma.fetch_and_index()

    hma.wait_for(lambda: hma.raw_lookup("pdq", astronaut), lambda found: not found)
    assert hma.lookup_url(f"{pictures['media']}/astronaut.png")["pdq"] == {}
    hma.wait_for(
        lambda: hma.raw_lookup("video_md5", md5_of("astronaut video")), lambda m: not m
    )
    assert list(hma.lookup_url(f"{pictures['media']}/coffee.png")["pdq"]) == ["RECLAIM"]
    assert hma.bank_signals("RECLAIM") == {
        ("pdq", stays.hashes[0]),
        ("pdq", stays.hashes[1]),
        ("video_md5", stays.hashes[2]),
    }


def test_a_first_fetch_imports_nothing_withdrawn(
    hma: Hma, registry: LiveRegistry, pictures: dict[str, str]
) -> None:
    stays = registry.submit(pictures["coffee"], pictures["chelsea"])
    left = registry.submit(pictures["rocket"], md5=(md5_of("rocket video"),))
    registry.withdraw(left)
    # A platform joins after the withdrawal: a fresh exchange, fetched from 0.
    hma.create_exchange("RECLAIM_NEW")
    hma.set_credentials("stop_ncii", credentials(registry))
    hma.fetch_and_index()

    assert hma.bank_signals("RECLAIM_NEW") == {("pdq", h) for h in stays.hashes}
    hma.wait_for(lambda: hma.raw_lookup("pdq", pictures["coffee"]), bool)
    assert hma.raw_lookup("pdq", pictures["rocket"]) == []
    assert hma.raw_lookup("video_md5", md5_of("rocket video")) == []
    assert hma.lookup_url(f"{pictures['media']}/rocket.png")["pdq"] == {}


# Stock pytx's checkpoint is a record's second: times to the microsecond, so
# that a second's sleep moves past it (at whole minutes, reclaim's class
# re-reads the minute and repairs more: tests/registry/test_feed.py).
@pytest.mark.usefixtures("precise_feed_times")
def test_a_copy_fetched_with_stock_pytx_is_repaired_by_refetching(
    hma: Hma, registry: LiveRegistry, pictures: dict[str, str], tmp_path: Path
) -> None:
    stock = write_config(
        tmp_path / "stock_omm_config.py", hma.database, exchanges=STOCK_EXCHANGES
    )
    stays = registry.submit(pictures["coffee"], pictures["astronaut"])
    early = registry.submit(pictures["rocket"])
    late = registry.submit(pictures["chelsea"])
    registry.withdraw(early)
    # Two exchanges on the same registry, fetched by a stock HMA (pytx's own
    # StopNCII class): it imports the early withdrawal as live ...
    for bank in ("FROM_SCRATCH", "RESET"):
        hma.create_exchange(bank)
    hma.set_credentials("stop_ncii", credentials(registry))
    hma.fetch_and_index(config=stock)
    # ... and a later withdrawal (a second later, past the checkpoint's second)
    # never becomes a deletion either.
    time.sleep(1.1)
    registry.withdraw(late)
    hma.fetch_and_index(config=stock)
    everything = {("pdq", h) for h in (*stays.hashes, *early.hashes, *late.hashes)}
    assert hma.bank_signals("FROM_SCRATCH") == everything

    # reclaim's class from now on: the next incremental fetch re-reads only the
    # checkpoint's second, so withdrawals stock pytx already skipped stay.
    hma.fetch_and_index()
    assert ("pdq", early.hashes[0]) in hma.bank_signals("FROM_SCRATCH")

    # Repair 1, with HMA's API only: delete the exchange (its bank and fetched
    # data go with it) and create it again; it fetches from the start.
    reply = hma.http.delete("/c/exchange/FROM_SCRATCH")
    assert reply.status_code == 200, reply.text
    hma.create_exchange("FROM_SCRATCH")
    # Repair 2, keeping the bank: forget the fetch checkpoint (SQL), so the next
    # fetch starts from 0 and turns every tombstone into a deletion.
    with psycopg.connect(hma.conninfo) as db:
        db.execute(
            "DELETE FROM exchange_fetch_status WHERE collab_id ="
            " (SELECT id FROM exchange WHERE name = %s)",
            ("RESET",),
        )
    hma.fetch_and_index()

    live = {("pdq", h) for h in stays.hashes}
    assert hma.bank_signals("FROM_SCRATCH") == live
    assert hma.bank_signals("RESET") == live
    hma.wait_for(lambda: hma.raw_lookup("pdq", pictures["rocket"]), lambda m: not m)
    assert hma.raw_lookup("pdq", pictures["chelsea"]) == []
    assert hma.raw_lookup("pdq", pictures["coffee"])


#: NCMEC's Industry environment, by value (HMA reads enums so); reclaim's
#: class replaces its URL with RECLAIM_NCMEC_URL.
INDUSTRY = "https://report.cybertip.org/hashsharing"
#: pytx ends its NCMEC time windows 5 s before its own clock.
NCMEC_LAG = 6.0


# HMA's clock cannot be moved: times to the microsecond, so that a record is
# in pytx's window 6 s later, not after its minute's mark (the real minute with
# pytx: tests/interop/test_ncmec_pytx_minutes.py).
@pytest.mark.usefixtures("precise_feed_times")
def test_the_ncmec_exchange_reads_the_registry(
    hma: Hma, registry: LiveRegistry, pictures: dict[str, str]
) -> None:
    stays = registry.submit(pictures["coffee"], pictures["chelsea"])
    leaves = registry.submit(pictures["astronaut"])
    # Set where HMA fetches (and, in production, where its scheduler runs).
    hma.env["RECLAIM_NCMEC_URL"] = f"{registry.url}/ncmec"
    hma.create_exchange("RECLAIM_NCMEC", api="ncmec", config={"environment": INDUSTRY})
    hma.flask("auth", "ncmec", "--from-str", f"{PLATFORM}:{registry.key}")
    time.sleep(NCMEC_LAG)
    hma.fetch_and_index()
    assert hma.bank_signals("RECLAIM_NCMEC") == {
        ("pdq", h) for h in (*stays.hashes, *leaves.hashes)
    }
    hma.wait_for(lambda: hma.raw_lookup("pdq", pictures["astronaut"]), bool)

    registry.withdraw(leaves)
    time.sleep(NCMEC_LAG)
    hma.fetch_and_index()
    assert hma.bank_signals("RECLAIM_NCMEC") == {("pdq", h) for h in stays.hashes}
    hma.wait_for(lambda: hma.raw_lookup("pdq", pictures["astronaut"]), lambda m: not m)
    assert hma.raw_lookup("pdq", pictures["coffee"])


def test_reclaims_query_side_in_front_of_hma_finds_edited_copies(
    hma: Hma, registry: LiveRegistry, photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    # The person lists a picture as the device does: all its submission hashes.
    chelsea = photos["chelsea"]
    listed = [h.hex for h in submission_hashes(chelsea)]
    registry.submit(*listed)
    hma.create_exchange("RECLAIM")
    hma.set_credentials("stop_ncii", credentials(registry))
    hma.fetch_and_index()
    hma.wait_for(lambda: hma.raw_lookup("pdq", listed[0]), bool)

    # A mirrored copy with its top tenth cut off: HMA's own lookup (one PDQ
    # hash of the upload) misses it against the same list ...
    edited = np.ascontiguousarray(chelsea[chelsea.shape[0] // 10 :, ::-1])
    media = tmp_path / "media"
    media.mkdir()
    Image.fromarray(edited).save(media / "edited.png")
    Image.fromarray(photos["rocket"]).save(media / "other.png")
    with file_server(media) as url:
        assert hma.lookup_url(f"{url}/edited.png")["pdq"] == {}
        assert hma.lookup_url(f"{url}/other.png")["pdq"] == {}

    # ... and reclaim's query side, asking the same HMA, finds it, in HMA's
    # bank, through a derived query hash; an unrelated picture matches nothing.
    with HmaLookup(str(hma.http.base_url)) as lookup:
        found = lookup.lookup(media / "edited.png")
        assert found, "the edited copy should match through the query side"
        assert {m.bank for m in found} == {"RECLAIM"}
        assert all(m.distance <= 31 and m.query > 0 for m in found)
        assert lookup.lookup(media / "other.png") == []
        # Each bank content once, closest first.
        ids = [m.bank_content_id for m in found]
        assert len(ids) == len(set(ids))
        assert [m.distance for m in found] == sorted(m.distance for m in found)


def test_a_lookup_without_hma_fails_with_one_clear_error(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    # Nothing listens on a closed port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    hashes = [pdq_hash(photos["coffee"])]
    with (
        HmaLookup(closed, timeout=2) as lookup,
        pytest.raises(HmaLookupError, match="did not answer.*check the URL"),
    ):
        lookup.lookup_hashes(hashes)
    # A server that is not HMA: its 404 is named, with what was expected.
    (tmp_path / "index.html").write_text("not HMA")
    with (
        file_server(tmp_path) as url,
        HmaLookup(url) as lookup,
        pytest.raises(HmaLookupError, match="answered 404.*expected 200"),
    ):
        lookup.lookup_hashes(hashes)

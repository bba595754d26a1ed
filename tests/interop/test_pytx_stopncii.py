"""python-threatexchange (pytx 1.2.17 from PyPI) fetching a live registry.

The library: `reclaim.interop.StopNCIISignalExchangeAPI` driven as HMA and the
CLI drive an exchange (`for_collab`, `fetch_iter`, `naive_fetch_merge`,
`naive_convert_to_signal_type`), and pytx's own class beside it, whose
withdrawal bug a strict xfail keeps in view. The CLI: the `threatexchange`
console script in a temporary HOME, stock, and with reclaim's class loaded as
an extension (only possible under another name: see docs/hma.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl import stop_ncii_api
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPI
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from reclaim.interop import StopNCIISignalExchangeAPI
from tests.conftest import random_pdq
from tests.interop.conftest import LiveRegistry

RNG = np.random.default_rng(17)
SIGNAL_TYPES = [PdqSignal, VideoMD5Signal]
STOCK = stop_ncii_api.StopNCIISignalExchangeAPI
CLI = Path(sys.executable).with_name("threatexchange")

Signals = set[tuple[str, str]]


def md5() -> str:
    return RNG.bytes(16).hex()


class Copy:
    """A platform's copy of the list, kept as pytx's in-memory merge keeps it."""

    def __init__(self, api_cls: type[STOCK], registry: LiveRegistry) -> None:
        collab = CollaborationConfigBase("RECLAIM", api_cls.get_name(), True)
        credentials = stop_ncii_api.StopNCIICredentials(
            registry.key, registry.key, base_url_override=registry.stopncii_url
        )
        self.api = api_cls.for_collab(collab, credentials)
        self.state: dict[tuple[str, str], stop_ncii_api.StopNCIISignalMetadata] = {}
        self.checkpoint: stop_ncii_api.StopNCIICheckpoint | None = None

    def fetch(self) -> dict[tuple[str, str], object]:
        """Fetch from the checkpoint; the updates, as the exchange gave them."""
        updates: dict[tuple[str, str], object] = {}
        for delta in self.api.fetch_iter(SIGNAL_TYPES, self.checkpoint):
            updates.update(delta.updates)
            self.api.naive_fetch_merge(self.state, delta.updates)
            self.checkpoint = delta.checkpoint
        return updates

    def signals(self) -> Signals:
        """What a platform would index: (signal type, value)."""
        converted = self.api.naive_convert_to_signal_type(
            SIGNAL_TYPES, self.api.collab, self.state
        )
        return {
            (st.get_name(), value) for st, found in converted.items() for value in found
        }


def signals_of(*groups: tuple[str, ...]) -> Signals:
    return {
        ("video_md5" if len(value) == 32 else "pdq", value)
        for group in groups
        for value in group
    }


def test_withdrawals_become_deletions(live_registry: LiveRegistry) -> None:
    stays = live_registry.submit(random_pdq(RNG), md5=(md5(),))
    leaves = live_registry.submit(random_pdq(RNG), random_pdq(RNG), md5=(md5(),))
    copy = Copy(StopNCIISignalExchangeAPI, live_registry)
    assert isinstance(copy.api, SignalExchangeAPI)
    assert copy.api.get_name() == "stop_ncii"

    copy.fetch()
    assert copy.signals() == signals_of(stays.hashes, leaves.hashes)
    metadata = copy.state[("pdq", stays.hashes[0])]
    assert metadata.get_as_opinions()  # an investigation seed, as StopNCII's are

    live_registry.withdraw(leaves)
    updates = copy.fetch()
    # Each withdrawn hash arrives as a deletion (None), as pytx's merge expects.
    assert all(updates[key] is None for key in signals_of(leaves.hashes))
    assert copy.signals() == signals_of(stays.hashes)


def test_a_first_fetch_imports_nothing_withdrawn(live_registry: LiveRegistry) -> None:
    stays = live_registry.submit(random_pdq(RNG))
    left = live_registry.submit(random_pdq(RNG), md5=(md5(),))
    live_registry.withdraw(left)

    copy = Copy(StopNCIISignalExchangeAPI, live_registry)
    copy.fetch()
    assert copy.signals() == signals_of(stays.hashes)
    assert set(copy.state) == signals_of(stays.hashes)


@pytest.mark.xfail(
    strict=True,
    reason="pytx <= 1.2.17: StopNCIISignalExchangeAPI's _get_delta_mapping compares "
    "record.hashValue, not record.hashStatus, with Withdrawn/Deleted, so a "
    "withdrawal never becomes a deletion. When this passes, upstream has fixed "
    "it: say so in docs/hma.md",
)
def test_stock_pytx_drops_withdrawn_hashes(live_registry: LiveRegistry) -> None:
    stays = live_registry.submit(random_pdq(RNG))
    leaves = live_registry.submit(random_pdq(RNG))
    copy = Copy(STOCK, live_registry)
    copy.fetch()
    assert copy.signals() == signals_of(stays.hashes, leaves.hashes)

    live_registry.withdraw(leaves)
    copy.fetch()
    assert copy.signals() == signals_of(stays.hashes)


# ---- the threatexchange CLI -------------------------------------------------


class Cli:
    """pytx's `threatexchange` console script, with its state in a temporary HOME."""

    def __init__(self, home: Path, registry: LiveRegistry) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TX_")},
            "HOME": str(home),
            # "fetch key,subscription key,base URL", as pytx's credentials read it.
            "TX_STOPNCII_KEYS": ",".join(
                (registry.key, registry.key, registry.stopncii_url)
            ),
            "PYTHONPATH": str(home),  # where the tests write extension modules
        }
        self.home = home

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(CLI), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if ok:
            assert done.returncode == 0, done.stderr[-3000:]
        return done

    def signals(self, collab: str) -> Signals:
        """`threatexchange dataset --print-signals`: type and value of each."""
        out = self.run("dataset", "--print-signals", "--only-collabs", collab).stdout
        rows = [line.split() for line in out.splitlines() if line.strip()]
        return {(row[0], row[1]) for row in rows}

    def matches(self, value: str) -> bool:
        """`threatexchange match --hashes photo -- HASH`: whether anything matched."""
        return bool(self.run("match", "--hashes", "photo", "--", value).stdout.strip())

    def extension(self, name: str, source: str) -> None:
        (self.home / f"{name}.py").write_text(source)


@pytest.fixture
def cli(tmp_path: Path, live_registry: LiveRegistry) -> Cli:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: pytx is a dev dependency (make setup)")
    return Cli(tmp_path / "home", live_registry)


def test_the_stock_cli_fetches_and_matches_but_keeps_withdrawn_hashes(
    cli: Cli, live_registry: LiveRegistry
) -> None:
    stays = live_registry.submit(random_pdq(RNG))
    early = live_registry.submit(random_pdq(RNG))
    live_registry.withdraw(early)
    cli.run("config", "collab", "edit", "stop_ncii", "RECLAIM", "--create")
    cli.run("fetch")
    assert cli.matches(stays.hashes[0])
    late = live_registry.submit(random_pdq(RNG))
    live_registry.withdraw(late)
    cli.run("fetch")
    # The limitation, as it is: the CLI has no way to use reclaim's class under
    # the name stop_ncii, and pytx's keeps every withdrawn hash.
    assert cli.signals("RECLAIM") == signals_of(stays.hashes, early.hashes, late.hashes)
    assert cli.matches(early.hashes[0]) and cli.matches(late.hashes[0])


MANIFEST = """\
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from reclaim.interop import StopNCIISignalExchangeAPI
{body}
TX_MANIFEST = ThreatExchangeExtensionManifest(apis=({api},))
"""


def test_the_cli_cannot_replace_its_stop_ncii_exchange(cli: Cli) -> None:
    cli.extension(
        "same_name", MANIFEST.format(body="", api="StopNCIISignalExchangeAPI")
    )
    refused = cli.run("config", "extensions", "add", "same_name", ok=False)
    assert refused.returncode != 0
    assert "Duplicate name" in refused.stderr and "'stop_ncii'" in refused.stderr


def test_the_cli_follows_withdrawals_with_reclaims_class_under_another_name(
    cli: Cli, live_registry: LiveRegistry
) -> None:
    stays = live_registry.submit(random_pdq(RNG), random_pdq(RNG))
    early = live_registry.submit(random_pdq(RNG))
    live_registry.withdraw(early)
    # A copy fetched with the stock exchange holds the withdrawn hash; the
    # repair is to delete that collab and fetch again with reclaim's class.
    cli.run("config", "collab", "edit", "stop_ncii", "RECLAIM", "--create")
    cli.run("fetch")
    assert cli.signals("RECLAIM") == signals_of(stays.hashes, early.hashes)
    cli.run("config", "collab", "delete", "RECLAIM")
    # reclaim ships the extension: reclaim_stop_ncii is reclaim's class.
    cli.run("config", "extensions", "add", "reclaim.interop.pytx_cli")
    cli.run("config", "collab", "edit", "reclaim_stop_ncii", "RECLAIM", "--create")
    cli.run("fetch")
    assert cli.signals("RECLAIM") == signals_of(stays.hashes)

    late = live_registry.submit(random_pdq(RNG))
    cli.run("fetch")
    assert cli.matches(late.hashes[0])
    live_registry.withdraw(late)
    cli.run("fetch")
    assert cli.signals("RECLAIM") == signals_of(stays.hashes)
    assert not cli.matches(late.hashes[0])

"""Run Meta's HMA (OpenMediaMatch) from its own venv: config, database, server.

scripts/hma-env builds .hma/venv from the snapshot in ../shared, with reclaim's
base install in it. `running_hma` gives each test a fresh PostgreSQL database,
an OMM_CONFIG written into its temporary directory, and HMA's flask server in
debug mode (as HMA's development setup runs it: only then does its scheduler
load the match index), on a free port, stopped with its whole process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg
import pytest

from tests.conftest import postgres_database

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT.parent / "shared" / "interop" / "threatexchange"
HMA_ENV = ROOT / ".hma"
FLASK = HMA_ENV / "venv" / "bin" / "flask"
MIGRATIONS = (
    HMA_ENV / "hasher-matcher-actioner" / "src" / "OpenMediaMatch" / "migrations"
)

#: How long HMA may take to start, to run one CLI command, to reload its index.
START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0
INDEX_TIMEOUT = 20.0

#: Exchange classes in an OMM_CONFIG: reclaim's, which keep pytx's names ...
RECLAIM_EXCHANGES = (
    "from reclaim.interop import NCMECSignalExchangeAPI, StopNCIISignalExchangeAPI\n"
)
#: ... and pytx's own StopNCII exchange, as a stock HMA has it.
STOCK_EXCHANGES = (
    "from threatexchange.exchanges.impl.stop_ncii_api import "
    "StopNCIISignalExchangeAPI\n"
    "from threatexchange.exchanges.impl.ncmec_api import NCMECSignalExchangeAPI\n"
)

OMM_CONFIG = '''\
"""HMA's configuration for reclaim's interop tests (written by the test)."""

from OpenMediaMatch.storage.postgres.impl import DefaultOMMStore
from threatexchange.content_type.photo import PhotoContent
from threatexchange.content_type.video import VideoContent
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
{exchanges}
DATABASE_URI = "{database}"
PRODUCTION = False
ROLE_HASHER = True
ROLE_MATCHER = True
ROLE_CURATOR = True
UI_ENABLED = False
# Fetching and index building are run by hand (flask fetch, flask build_indices);
# the server only reloads the index the CLI built, every second.
TASK_FETCHER = False
TASK_INDEXER = False
TASK_INDEX_CACHE = True
TASK_INDEX_CACHE_INTERVAL_SECONDS = 1
STORAGE_IFACE_INSTANCE = DefaultOMMStore(
    signal_types=[PdqSignal, VideoMD5Signal],
    content_types=[PhotoContent, VideoContent],
    exchange_types=[StopNCIISignalExchangeAPI, NCMECSignalExchangeAPI],
)
'''

T = TypeVar("T")


def require_hma() -> None:
    """Skip without the HMA snapshot or its venv, but fail under CI."""
    if not (SNAPSHOT / "hasher-matcher-actioner").is_dir():
        reason = (
            f"{SNAPSHOT} is missing: HMA's snapshot lives in ../shared beside the "
            "project checkout (CI has it; a plain clone does not)"
        )
    elif not FLASK.exists() or not (HMA_ENV / "stamp").exists():
        reason = (
            f"HMA's venv ({HMA_ENV / 'venv'}) is not built: run scripts/hma-env "
            "(make test does when ../shared is there)"
        )
    else:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def write_config(path: Path, database: str, *, exchanges: str) -> Path:
    """An OMM_CONFIG on `database` (a SQLAlchemy URL for psycopg2)."""
    path.write_text(OMM_CONFIG.format(exchanges=exchanges, database=database))
    return path


@dataclass
class Hma:
    """A running HMA: its HTTP API, its CLI and its database."""

    http: httpx.Client
    config: Path
    database: str
    env: dict[str, str]
    workdir: Path
    log: Path
    conninfo: str

    def flask(self, *args: str, config: Path | None = None) -> str:
        """Run one `flask --app OpenMediaMatch.app` command; fail on an error."""
        env = {**self.env, "OMM_CONFIG": str(config or self.config)}
        done = subprocess.run(
            [str(FLASK), "--app", "OpenMediaMatch.app", *args],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        # HMA's `fetch` logs an exchange's failure and still exits 0.
        failed = done.returncode != 0 or "Failed to fetch" in done.stderr
        if failed:
            pytest.fail(
                f"flask {' '.join(args[:2])} failed ({done.returncode}):\n"
                f"{done.stderr[-4000:]}"
            )
        return done.stdout + done.stderr

    def fetch_and_index(self, *, config: Path | None = None) -> None:
        """What HMA's background tasks do: fetch every exchange, rebuild indices."""
        self.flask("fetch", config=config)
        self.flask("build_indices", config=config)

    def create_exchange(
        self, bank: str, api: str = "stop_ncii", config: dict[str, str] | None = None
    ) -> None:
        """An exchange (and the bank it fills), as HMA's UI creates one."""
        reply = self.http.post(
            "/c/exchanges", json={"bank": bank, "api": api, "api_json": config or {}}
        )
        assert reply.status_code == 201, reply.text

    def set_credentials(self, api: str, credentials: dict[str, str]) -> None:
        """Store an exchange type's credentials through HMA's API."""
        reply = self.http.post(
            f"/c/exchanges/api/{api}", json={"credential_json": credentials}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["has_set_authentification"] is True

    def bank_signals(self, bank: str) -> set[tuple[str, str]]:
        """(signal type, value) of everything in a bank, read from HMA's tables."""
        with psycopg.connect(self.conninfo) as db:
            rows = db.execute(
                "SELECT s.signal_type, s.signal_val FROM content_signal s"
                " JOIN bank_content c ON c.id = s.content_id"
                " JOIN bank b ON b.id = c.bank_id WHERE b.name = %s",
                (bank,),
            ).fetchall()
        return {(row[0], row[1]) for row in rows}

    def raw_lookup(self, signal_type: str, value: str) -> list[object]:
        """`GET /m/raw_lookup`: the ids of the bank contents the hash matches."""
        reply = self.http.get(
            "/m/raw_lookup", params={"signal_type": signal_type, "signal": value}
        )
        assert reply.status_code == 200, reply.text
        return reply.json()["matches"]  # type: ignore[no-any-return]

    def lookup_url(self, url: str) -> dict[str, dict[str, list[object]]]:
        """`GET /m/lookup?url=`: HMA downloads and hashes the media itself."""
        reply = self.http.get("/m/lookup", params={"url": url})
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def wait_for(self, probe: Callable[[], T], ok: Callable[[T], bool]) -> T:
        """Poll `probe` until `ok` (the server reloads its index every second)."""
        deadline = time.monotonic() + INDEX_TIMEOUT
        while True:
            value = probe()
            if ok(value):
                return value
            if time.monotonic() > deadline:
                pytest.fail(
                    f"HMA's index did not catch up in {INDEX_TIMEOUT:.0f} s "
                    f"(last answer {value!r}); its log ends:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its reloaded child: they share a process group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; give its child a moment to follow it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _clean_env() -> dict[str, str]:
    """This process's environment, less what would leak into HMA's Python."""
    leaks = ("PYTHON", "VIRTUAL_ENV", "FLASK_", "WERKZEUG_", "OMM_", "RECLAIM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaks)}
    # pytx formats NCMEC time windows in local time marked Z.
    env["TZ"] = "UTC"
    return env


@contextmanager
def running_hma(tmp: Path) -> Iterator[Hma]:
    """A migrated HMA on a fresh database with reclaim's exchanges, serving."""
    require_hma()
    workdir, logs = tmp / "run", tmp / "logs"
    workdir.mkdir(parents=True)
    logs.mkdir(parents=True)
    with postgres_database() as url:
        database = url.replace("+psycopg:", "+psycopg2:", 1)
        config = write_config(
            tmp / "omm_config.py", database, exchanges=RECLAIM_EXCHANGES
        )
        hma_env = {**_clean_env(), "OMM_CONFIG": str(config)}
        migrate = subprocess.run(
            [str(FLASK), "--app", "OpenMediaMatch.app", "db", "upgrade"]
            + ["--directory", str(MIGRATIONS)],
            env={**hma_env, "MIGRATION_COMMAND": "1"},
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr[-4000:]
        port = _free_port()
        log = logs / "hma.log"
        # The debug server's reloader restarts on changes to the Python files it
        # watches; the checkout and this test's files change under other work.
        calm = os.pathsep.join([f"{ROOT}{os.sep}*", f"{tmp}{os.sep}*"])
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(FLASK), "--app", "OpenMediaMatch.app", "--debug", "run"]
                + ["--host", "127.0.0.1", "--port", str(port)]
                + ["--exclude-patterns", calm],
                env=hma_env,
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as http:
                conninfo = url.replace("+psycopg", "", 1)
                hma = Hma(http, config, database, hma_env, workdir, log, conninfo)
                _wait_until_serving(hma, server)
                yield hma
        finally:
            _stop(server)


def _wait_until_serving(hma: Hma, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            pytest.fail(f"HMA exited ({server.returncode}):\n{hma.log_tail()}")
        try:
            if hma.http.get("/status").text == "I-AM-ALIVE":
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"HMA did not start in {START_TIMEOUT:.0f} s:\n{hma.log_tail()}"
            )
        time.sleep(0.2)

"""A kill -9 durability run against a real registry process.

Concurrent clients open cases (each with its own Idempotency-Key) and
withdraw some, retrying every request that got no answer, while the server
is killed with SIGKILL and restarted several times. A platform follows the
change feed all along. At the end:

* every acknowledged creation and withdrawal is in the database ("lost"
  counts those that are not), and every PIN given back on a retry opens
  its case;
* every stored case was acknowledged to some client ("orphans" counts the
  others);
* a follower that read the feed through the kills, and one that reads it
  from 0 afterwards, both end with exactly the live set of hashes.

Used by tests/registry/test_durability.py (bounded, in `make test`) and by
bench/durability.py (longer, more clients and kills).
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from reclaim.config import Settings
from reclaim.registry import schema
from reclaim.registry.service import Registry

#: Statuses that mean "try again": the server is restarting or its database is.
RETRY = frozenset({502, 503, 504})


@dataclass
class Figures:
    """What a run measured."""

    database: str
    clients: int
    kills: int = 0
    acknowledged: int = 0
    withdrawn: int = 0
    replayed: int = 0
    retries: int = 0
    errors_5xx: int = 0
    lost: int = 0
    orphans: int = 0
    feed_live: int = 0
    feed_exact: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The figures on one line, for a report."""
        return (
            f"durability[{self.database}]: {self.clients} clients, "
            f"{self.kills} kill -9, "
            f"{self.acknowledged} creations and {self.withdrawn} withdrawals "
            f"acknowledged, {self.lost} lost, {self.orphans} orphan cases, "
            f"{self.replayed} answers replayed by key, {self.retries} retries, "
            f"{self.errors_5xx} 5xx, feed exact: {self.feed_exact} "
            f"({self.feed_live} live hashes), {self.seconds:.1f} s"
        )


@dataclass
class Acknowledged:
    """A case a client was told about."""

    number: str
    pin: str
    hashes: tuple[str, ...]
    replayed: bool
    withdrawn: bool = False


class ServerProcess:
    """The registry under uvicorn in its own process, on one fixed port."""

    def __init__(self, database_url: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RECLAIM_DATABASE_URL": database_url,
            "RECLAIM_CASE_RATE": "1000000000/hour",
            "RECLAIM_PIN_RATE": "1000000000/hour",
            "RECLAIM_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "reclaim.api.app:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the registry exited ({self.process.returncode})")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the registry did not start in 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """End it if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def random_pdq(rng: random.Random) -> str:
    """A PDQ hash with exactly 128 bits set."""
    bits = rng.sample(range(256), 128)
    return format(sum(1 << b for b in bits), "064x")


class Run:
    """One durability run; `go()` returns its Figures."""

    def __init__(
        self,
        database_url: str,
        *,
        name: str,
        clients: int,
        seconds: float,
        kills: int,
        seed: int = 14,
        keys: bool = True,
    ) -> None:
        self.database_url = database_url
        self.clients = clients
        self.seconds = seconds
        self.kill_count = kills
        #: Send an Idempotency-Key with each creation (False: as before keys).
        self.keys = keys
        self.figures = Figures(database=name, clients=clients)
        self.rng = random.Random(seed)
        self.shared = [random_pdq(self.rng) for _ in range(12)]
        self.acknowledged: list[Acknowledged] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.clients_done = threading.Event()
        self.server = ServerProcess(database_url)
        self.deadline = 0.0

    # ---- the parts ---------------------------------------------------------

    def go(self) -> Figures:
        started = time.monotonic()
        settings = Settings(database_url=self.database_url)
        registry = Registry(settings)
        try:
            schema.upgrade(registry.db.engine)
            key = registry.add_platform("Durability Social", ["adult"])[1]
            self.server.start()
            self.deadline = time.monotonic() + self.seconds + 120
            follower = Follower(self.server.url, key, self)
            threads = [
                threading.Thread(target=self._client, args=(n,), daemon=True)
                for n in range(self.clients)
            ]
            watching = threading.Thread(target=follower.follow, daemon=True)
            watching.start()
            for thread in threads:
                thread.start()
            self._killer()
            self.stop.set()
            for thread in threads:
                thread.join(max(1.0, self.deadline - time.monotonic()))
            self.clients_done.set()
            watching.join(max(1.0, self.deadline - time.monotonic()))
            try:
                self._check(registry, follower, key)
            finally:
                follower.close()
        finally:
            self.stop.set()
            self.clients_done.set()
            self.server.stop()
            registry.close()
        self.figures.seconds = time.monotonic() - started
        return self.figures

    def _killer(self) -> None:
        """Kill -9 and restart the server `kills` times, evenly over the run."""
        gap = self.seconds / (self.kill_count + 1)
        for _ in range(self.kill_count):
            time.sleep(gap * self.rng.uniform(0.6, 1.0))
            self.server.kill()
            self.figures.kills += 1
            self.server.start()
        time.sleep(gap)

    def send(
        self, http: httpx.Client, path: str, body: dict[str, object], **headers: str
    ) -> tuple[httpx.Response, bool]:
        """POST until an answer that is not "try again" comes back; returns it
        and whether an earlier try went unanswered."""
        retried = False
        while True:
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"no answer for {path} before the deadline")
            try:
                response = http.post(path, json=body, headers=headers)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code not in RETRY:
                if response.status_code < 500:
                    return response, retried
                with self.lock:
                    self.figures.errors_5xx += 1
            with self.lock:
                self.figures.retries += 1
            retried = True
            time.sleep(0.05)

    def _client(self, number: int) -> None:
        rng = random.Random(number * 7919)
        mine: list[Acknowledged] = []
        with httpx.Client(base_url=self.server.url, timeout=20) as http:
            while not self.stop.is_set():
                if mine and rng.random() < 0.3:
                    self._withdraw(http, mine.pop(rng.randrange(len(mine))))
                else:
                    case = self._create(http, rng)
                    if case is not None:
                        mine.append(case)

    def _create(self, http: httpx.Client, rng: random.Random) -> Acknowledged | None:
        hashes = [random_pdq(rng)]
        if rng.random() < 0.3:
            hashes.append(rng.choice(self.shared))
        body = {
            "program": "adult",
            "hashes": [{"type": "pdq", "value": h, "quality": 100} for h in hashes],
        }
        headers = {"Idempotency-Key": secrets.token_urlsafe(16)} if self.keys else {}
        response, _ = self.send(http, "/api/v1/cases", body, **headers)
        if response.status_code != 201:
            self._problem(f"creation answered {response.status_code}: {response.text}")
            return None
        payload = response.json()
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        case = Acknowledged(
            payload["case_number"], payload["pin"], tuple(hashes), replayed
        )
        with self.lock:
            self.acknowledged.append(case)
            self.figures.acknowledged += 1
            self.figures.replayed += replayed
        return case

    def _withdraw(self, http: httpx.Client, case: Acknowledged) -> None:
        path = f"/api/v1/cases/{case.number}/withdraw"
        response, retried = self.send(http, path, {"pin": case.pin})
        # 409 after a try that got no answer: that try withdrew it.
        done = response.status_code == 200 or (response.status_code == 409 and retried)
        if not done:
            self._problem(f"withdrawal answered {response.status_code}")
            return
        with self.lock:
            case.withdrawn = True
            self.figures.withdrawn += 1

    def _problem(self, text: str) -> None:
        with self.lock:
            self.figures.problems.append(text)

    # ---- the checks ----------------------------------------------------------

    def _check(self, registry: Registry, follower: Follower, key: str) -> None:
        with registry.db.read() as session:
            stored = dict(
                session.execute(
                    text("SELECT number, status FROM cases WHERE platform_id IS NULL")
                ).all()
            )
        told = {case.number: case for case in self.acknowledged}
        lost = 0
        for case in self.acknowledged:
            expected = "withdrawn" if case.withdrawn else "active"
            if stored.get(case.number) != expected:
                lost += 1
                self._problem(f"case {case.number}: {stored.get(case.number)}")
        self.figures.lost = lost
        self.figures.orphans = len(set(stored) - set(told))
        # Every PIN given back on a retry opens its case; and a sample of others.
        sample = [c for c in self.acknowledged if c.replayed]
        sample += self.rng.sample(self.acknowledged, min(20, len(self.acknowledged)))
        for case in sample:
            try:
                registry.case_status(case.number, case.pin)
            except Exception as error:  # noqa: BLE001 - reported as a problem
                self._problem(f"case {case.number}: PIN refused ({error})")
        live = {
            h for case in self.acknowledged if not case.withdrawn for h in case.hashes
        }
        fresh = Follower(self.server.url, key, self)
        try:
            fresh.catch_up()
        finally:
            fresh.close()
        self.figures.feed_live = len(live)
        self.figures.feed_exact = follower.live() == live == fresh.live()
        if not self.figures.feed_exact:
            self._problem(
                f"feed: followed {len(follower.live())}, fresh {len(fresh.live())}, "
                f"expected {len(live)}"
            )


class Follower:
    """A platform reading the change feed from 0, through the kills."""

    def __init__(self, url: str, key: str, run: Run) -> None:
        self.http = httpx.Client(
            base_url=url, timeout=20, headers={"Authorization": f"Bearer {key}"}
        )
        self.run = run
        self.cursor = 0
        self.status: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def live(self) -> set[str]:
        return {value for value, status in self.status.items() if status == "active"}

    def page(self) -> bool:
        """Read one page; whether there may be more."""
        try:
            response = self.http.get(
                "/api/v1/platform/changes", params={"cursor": self.cursor}
            )
        except httpx.TransportError:
            time.sleep(0.05)
            return True
        if response.status_code != 200:
            if response.status_code not in RETRY:
                self.run.figures.errors_5xx += response.status_code >= 500
                self.run._problem(f"feed answered {response.status_code}")
            time.sleep(0.05)
            return True
        payload = response.json()
        for record in payload["records"]:
            self.status[record["value"]] = record["status"]
        self.cursor = payload["cursor"]
        return bool(payload["has_more"] or payload["records"])

    def follow(self) -> None:
        """Follow until the clients are done, then catch up."""
        while not self.run.clients_done.is_set():
            if time.monotonic() > self.run.deadline:
                raise TimeoutError("the feed did not end before the deadline")
            if not self.page():
                time.sleep(0.2)
        self.catch_up()

    def catch_up(self) -> None:
        while self.page():
            if time.monotonic() > self.run.deadline:
                raise TimeoutError("the feed did not end before the deadline")

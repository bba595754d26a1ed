"""Matcher sync benchmark: bootstrap, restart, and end-to-end sync latencies.

Runs `reclaim serve` (the registry) in its own process on a fresh SQLite
database (or PostgreSQL with --postgres) preloaded with --list hashes, and a
matcher in this process. Measures:

* bootstrap: the first sync (snapshot) of the whole list into an empty store;
* restart: a new matcher loading the list from its local store;
* submission-to-matchable: a person's case is answered by the registry, until
  the matcher API matches the hash (the matcher polls every --poll seconds);
* withdrawal-to-unmatchable: the withdrawal is answered, until it no longer
  matches.

    .venv/bin/python bench/matcher_sync.py --list 100000 --poll 1 --trials 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from synthetic import free_port, random_pdq

ROOT = Path(__file__).resolve().parents[1]
RECLAIM = str(ROOT / ".venv" / "bin" / "reclaim")
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def preload(database_url: str, count: int, rng: np.random.Generator) -> None:
    """Cases of 10,000 hashes each, written through the registry service."""
    from reclaim.config import Settings
    from reclaim.registry.service import Registry

    settings = Settings(
        database_url=database_url,
        max_hashes_per_case=10_000,
        max_hashes_per_request=10_000,
    )
    registry = Registry(settings)
    try:
        # 128 of 256 bits set in each, as the registry wants real PDQ hashes.
        bits = np.argsort(rng.random((count, 256)), axis=1) < 128
        values = [row.tobytes().hex() for row in np.packbits(bits, axis=1)]
        for start in range(0, count, 10_000):
            items = [
                {"type": "pdq", "value": v, "quality": 100}
                for v in values[start : start + 10_000]
            ]
            registry.create_case("adult", items)
    finally:
        registry.close()


class Registry:
    """`reclaim serve` in its own process."""

    def __init__(self, database_url: str, list_size: int) -> None:
        self.env = {
            **os.environ,
            "RECLAIM_DATABASE_URL": database_url,
            "RECLAIM_CASE_RATE": "1000000/hour",
            "RECLAIM_PIN_RATE": "1000000/hour",
            "RECLAIM_LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [RECLAIM, "db", "upgrade"], env=self.env, check=True, capture_output=True
        )
        started = time.perf_counter()
        preload(database_url, list_size, np.random.default_rng(7))
        print(
            f"preloaded {list_size:,} hashes in {time.perf_counter() - started:.1f} s"
        )
        self.key = (
            subprocess.run(
                [RECLAIM, "platforms", "add", "bench", "--programs", "adult"],
                env=self.env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [RECLAIM, "serve", "--port", str(port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _healthy(self.url), timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Callable[[], bool], *, timeout: float) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.005)
    return time.perf_counter() - started


def serve_in_thread(app: object) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, timeout=10)
    return server, f"http://127.0.0.1:{port}"


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=int, default=100_000, help="hashes preloaded")
    parser.add_argument("--poll", type=float, default=1.0, help="matcher poll seconds")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument(
        "--postgres", action="store_true", help="registry on PostgreSQL"
    )
    args = parser.parse_args()

    from reclaim.matcher.app import create_app
    from reclaim.matcher.config import MatcherConfig
    from reclaim.matcher.service import MatcherService

    work = Path(tempfile.mkdtemp(prefix="reclaim-matcher-bench-"))
    database = f"sqlite:///{work}/registry.db"
    pg_name = None
    if args.postgres:
        import psycopg

        pg_name = f"reclaim_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        database = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    registry = Registry(database, args.list)
    config = MatcherConfig.from_mapping(
        {
            "source": {
                "url": registry.url,
                "api_key": registry.key,
                "page_size": 10_000,
            },
            "store": {"url": f"sqlite:///{work}/matcher.db"},
            "sync": {"poll_seconds": args.poll},
        }
    )
    try:
        started = time.perf_counter()
        with httpx.stream(
            "GET",
            f"{registry.url}/api/v1/platform/snapshot",
            headers={"Authorization": f"Bearer {registry.key}"},
            timeout=120,
        ) as response:
            lines = sum(1 for _ in response.iter_lines())
        download = time.perf_counter() - started
        assert lines == args.list + 1, lines
        service = MatcherService(config)
        started, cpu = time.perf_counter(), time.process_time()
        status = service.sync_once()
        bootstrap = time.perf_counter() - started
        bootstrap_cpu = time.process_time() - cpu
        assert status.healthy, status.message
        assert len(service.matchable) == args.list, len(service.matchable)
        service.close()

        started, cpu = time.perf_counter(), time.process_time()
        service = MatcherService(config)
        restart = time.perf_counter() - started
        restart_cpu = time.process_time() - cpu
        assert len(service.matchable) == args.list

        server, matcher_url = serve_in_thread(create_app(service, background=True))
        rng = np.random.default_rng(99)
        added: list[float] = []
        removed: list[float] = []
        with (
            httpx.Client(base_url=registry.url, timeout=30) as person,
            httpx.Client(base_url=matcher_url, timeout=30) as platform,
        ):

            def matches(value: str) -> bool:
                reply = platform.post(
                    "/v1/match", json={"hashes": [{"type": "pdq", "value": value}]}
                )
                return bool(reply.json()["results"][0]["matches"])

            for _ in range(args.trials):
                # Submit at a random point of the poll cycle, not just after one.
                time.sleep(float(rng.uniform(0, args.poll)))
                value = random_pdq(rng)
                reply = person.post(
                    "/api/v1/cases",
                    json={
                        "program": "adult",
                        "hashes": [{"type": "pdq", "value": value, "quality": 100}],
                    },
                )
                answered = time.perf_counter()
                case = reply.json()
                wait_until(lambda v=value: matches(v), timeout=60)
                added.append(time.perf_counter() - answered)
                time.sleep(float(rng.uniform(0, args.poll)))
                person.post(
                    f"/api/v1/cases/{case['case_number']}/withdraw",
                    json={"pin": case["pin"]},
                )
                answered = time.perf_counter()
                wait_until(lambda v=value: not matches(v), timeout=60)
                removed.append(time.perf_counter() - answered)
        server.should_exit = True
        service.close()
    finally:
        registry.stop()
        if pg_name:
            import psycopg

            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')

    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"registry on {store}, list of {args.list:,} PDQ hashes, poll {args.poll} s")
    print(f"the registry's snapshot alone (download, count lines): {download:.2f} s")
    print(
        f"bootstrap (snapshot into an empty SQLite store, index): {bootstrap:.2f} s "
        f"({bootstrap_cpu:.2f} s of the matcher's CPU)"
    )
    print(
        f"restart (load the local store, build the index): {restart:.2f} s "
        f"({restart_cpu:.2f} s of CPU)"
    )
    print(f"submission to matchable ({args.trials} trials): {summary(added)}")
    print(f"withdrawal to unmatchable ({args.trials} trials): {summary(removed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

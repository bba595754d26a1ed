"""Registry speed on PostgreSQL: case creations at 32 clients, and a 1M-hash sync.

Run with `.venv/bin/python bench/registry_speed.py` (PostgreSQL on
127.0.0.1:5432, user postgres, trust auth). Every request goes to 127.0.0.1.

1. Case creations: a fresh database, migrated; a real uvicorn server process
   serving `create_app(Settings(...))` with rate limits raised; 32 concurrent
   httpx clients POST /api/v1/cases, each case with one distinct, valid PDQ
   hash (128 of 256 bits set). Warm-up, then a fixed time. Checked: every
   answer is 201, the database holds exactly that many cases (the same case
   numbers), and `instance.feed_head` advanced by exactly that many with no
   gap. If one server process misses the goal, two are tried as well.
2. Sync: 1,000,000 active PDQ records bulk-loaded with COPY (setup, not
   timed), then read from empty over HTTP through the platform snapshot
   (NDJSON), the StopNCII FetchHashes pages and the platform change feed.
   Checked: exactly 1,000,000 values arrive, all distinct, equal to the
   loaded set.
3. Reference: a raw `SELECT value FROM hashes` of the same rows through
   psycopg in this process, the floor any API could reach; the API times are
   printed as ratios to it.

The server, PostgreSQL and the load generator share the machine's cores; the
CPU each used is printed. Exits 1 if a correctness check fails; a missed speed
goal is printed as MISSED.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import numpy as np
import psycopg
from fastapi import FastAPI

HOST = "127.0.0.1"
PG_ADMIN = f"host={HOST} port=5432 user=postgres dbname=postgres"
URL_ENV = "REGISTRY_SPEED_DATABASE_URL"
HERE = Path(__file__).resolve().parent

CLIENTS = 32
WARMUP_S = 2.0
DURATION_S = 10.0
LIST_SIZE = 1_000_000
PAGE = 10_000  # the largest page both feeds allow
CREATION_GOAL = 300.0  # per second, on 2 cores
SYNC_GOAL_S = 20.0  # a full 1M sync
SYNC_DEADLINE_S = 60.0  # each sync pass is cut off after this
PASSES = ("snapshot", "stopncii", "changes")


# ---- the server ------------------------------------------------------------


def make_app() -> FastAPI:
    """uvicorn's app factory (in the server process): the registry, limits off."""
    from reclaim.api.app import create_app
    from reclaim.config import Settings

    settings = Settings(
        database_url=os.environ[URL_ENV],
        case_rate=(10**9, 3600),
        pin_rate=(10**9, 3600),
        log_level="WARNING",
    )
    return create_app(settings)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(database_url: str, *, workers: int) -> Iterator[tuple[str, int]]:
    """A uvicorn process (and its workers) on a free port: (base URL, pid)."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "registry_speed:make_app",
        "--factory",
        "--app-dir",
        str(HERE),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECLAIM_")}
    env[URL_ENV] = database_url
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-3000:]
                    raise RuntimeError(f"the server did not start:\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                time.sleep(0.1)
            if workers > 1:
                # Both workers must be up before the clock starts.
                end = time.monotonic() + 30
                while len(workers_of(process.pid)) < workers:
                    if time.monotonic() > end:
                        raise RuntimeError(f"fewer than {workers} workers started")
                    time.sleep(0.1)
                time.sleep(1.0)
            yield base, process.pid
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


# ---- databases -------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(tag: str) -> Iterator[str]:
    """A new, migrated database (SQLAlchemy URL); dropped however this ends."""
    from reclaim.registry.db import make_engine
    from reclaim.registry.schema import upgrade

    name = f"reclaim_bench_{os.getpid()}_{tag}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@{HOST}:5432/{name}"
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dbname(url: str) -> str:
    """The database name in one of our SQLAlchemy URLs."""
    return url.rsplit("/", 1)[1]


def conninfo(url: str) -> str:
    """psycopg's connection string for one of our SQLAlchemy URLs."""
    return f"host={HOST} port=5432 user=postgres dbname={dbname(url)}"


# ---- PDQ values ------------------------------------------------------------


def pdq_values(count: int, seed: int) -> list[str]:
    """`count` distinct random PDQ hashes (hex), each with exactly 128 bits set."""
    rng = np.random.default_rng(seed)
    base = np.zeros((1, 256), dtype=np.uint8)
    base[0, :128] = 1
    values: list[str] = []
    for start in range(0, count, 100_000):
        rows = min(100_000, count - start)
        bits = rng.permuted(np.repeat(base, rows, axis=0), axis=1)
        text = np.packbits(bits, axis=1).tobytes().hex()
        values.extend(text[i : i + 64] for i in range(0, len(text), 64))
    if len(set(values)) != count:
        raise RuntimeError("random PDQ values collided; use another seed")
    assert all(int(values[i], 16).bit_count() == 128 for i in (0, -1))
    return values


# ---- CPU accounting --------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing children) under `pid`."""
    found = []
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def postgres_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL process working for `database`.

    Its backends, and the shared WAL writer, checkpointer and background
    writer.
    """
    found: dict[int, float] = {}
    shared = ("walwriter", "checkpointer", "background writer")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if f" {database} " in title or any(word in title for word in shared):
            fields = _stat(int(entry.name))
            if fields:
                found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICK
    return found


def machine_busy() -> float:
    """CPU seconds every core of the machine spent busy so far."""
    numbers = [
        int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]
    ]
    user, nice, system, _idle, _iowait, irq, softirq, steal = numbers[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


class CpuMeter:
    """CPU used between start() and stop() by the server, PostgreSQL, us, all.

    PostgreSQL backends come and go (a pool that closes connections), so
    they are read every 0.2 s and each one's last reading counts.
    """

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.began = (0.0, 0.0, 0.0)  # wall, machine busy, our CPU
        self.server_began = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _server(self) -> float:
        return process_cpu([self.server_pid, *descendants(self.server_pid)])

    def _poll(self) -> None:
        while not self.done.wait(0.2):
            self.last.update(postgres_cpu(self.database))

    def start(self) -> None:
        self.first = postgres_cpu(self.database)
        self.last = dict(self.first)
        self.began = (time.perf_counter(), machine_busy(), time.process_time())
        self.server_began = self._server()
        self.thread.start()

    def stop(self) -> CpuUse:
        self.done.set()
        self.thread.join()
        self.last.update(postgres_cpu(self.database))
        wall, machine, client = (
            time.perf_counter() - self.began[0],
            machine_busy() - self.began[1],
            time.process_time() - self.began[2],
        )
        server = self._server() - self.server_began
        pg = sum(v - self.first.get(pid, 0.0) for pid, v in self.last.items())
        other = max(0.0, machine - server - pg - client)
        return CpuUse(wall, server, pg, client, other, machine)


@dataclass
class CpuUse:
    """CPU seconds used by each party during `wall` seconds."""

    wall: float
    server: float
    postgres: float
    client: float
    other: float
    machine: float

    def cores(self) -> str:
        """Cores each party kept busy on average."""
        w = self.wall
        return (
            f"cores busy: server {self.server / w:.2f}, PostgreSQL "
            f"{self.postgres / w:.2f}, load generator {self.client / w:.2f}, "
            f"other processes {self.other / w:.2f}; machine {self.machine / w:.2f} "
            f"of {os.cpu_count()}"
        )

    def disturbed(self) -> str:
        """A warning when something else on the machine took CPU meanwhile."""
        cores = self.other / self.wall
        if cores < 0.25:
            return ""
        return (
            f"NOTE: other processes took {cores:.2f} cores meanwhile: "
            "on an idle machine this is faster"
        )

    def per(self, count: int, unit: str) -> str:
        """CPU milliseconds each party spent per `unit`."""
        if not count:
            return ""
        ms = 1000 / count
        return (
            f"CPU ms per {unit}: server {self.server * ms:.1f}, PostgreSQL "
            f"{self.postgres * ms:.1f}, load generator {self.client * ms:.1f}"
        )


def idle_cores(seconds: float = 1.0) -> float:
    """How many cores something else keeps busy while this process sleeps."""
    before = machine_busy()
    time.sleep(seconds)
    return (machine_busy() - before) / seconds


# ---- 1. case creations ------------------------------------------------------


@dataclass
class Load:
    """What the clients saw: (start, end, status) per request, and numbers."""

    samples: list[tuple[float, float, int]] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    measure_from: float = 0.0
    measure_to: float = 0.0
    cpu: CpuUse | None = None


async def create_cases(
    base: str,
    server_pid: int,
    database: str,
    values: list[str],
    warmup: float,
    duration: float,
) -> Load:
    """32 clients creating cases as fast as answered, for warmup + duration."""
    load = Load()
    now = time.perf_counter()
    load.measure_from = now + warmup
    load.measure_to = load.measure_from + duration
    taken = 0
    meter = CpuMeter(server_pid, database)

    async def client() -> None:
        nonlocal taken
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while time.perf_counter() < load.measure_to and taken < len(values):
                value = values[taken]
                taken += 1
                body = {
                    "program": "adult",
                    "hashes": [{"type": "pdq", "value": value, "quality": 100}],
                }
                started = time.perf_counter()
                try:
                    response = await http.post("/api/v1/cases", json=body)
                except httpx.HTTPError as error:
                    load.samples.append((started, time.perf_counter(), 0))
                    load.problems.append(f"request failed: {error!r}")
                    continue
                load.samples.append(
                    (started, time.perf_counter(), response.status_code)
                )
                if response.status_code != 201:
                    load.problems.append(
                        f"answered {response.status_code}: {response.text[:200]}"
                    )
                    continue
                try:
                    reply = response.json()
                    held = [h["value"] for h in reply["case"]["hashes"]]
                    number = str(reply["case_number"])
                except (ValueError, KeyError, TypeError) as error:
                    load.problems.append(f"a 201 answer without a case: {error!r}")
                    continue
                if held != [value]:
                    load.problems.append(f"case holds {held}, sent {value}")
                load.numbers.append(number)

    async def sampler() -> None:
        await asyncio.sleep(max(0.0, load.measure_from - time.perf_counter()))
        meter.start()
        await asyncio.sleep(max(0.0, load.measure_to - time.perf_counter()))
        load.cpu = meter.stop()

    tasks = [client() for _ in range(CLIENTS)]
    await asyncio.wait_for(
        asyncio.gather(sampler(), *tasks), timeout=warmup + duration + 60
    )
    if taken >= len(values):
        load.problems.append("ran out of prepared hashes before the time was up")
    return load


@dataclass
class CreationResult:
    """One creation run."""

    workers: int
    rate: float
    p50_ms: float
    p99_ms: float
    answered: int
    measured: int
    connections: int
    cpu: CpuUse | None
    failures: list[str]


def bench_creations(workers: int, warmup: float, duration: float) -> CreationResult:
    """Case creations/s through HTTP at CLIENTS concurrent clients."""
    values = pdq_values(int((warmup + duration) * 3000) + 1000, seed=workers)
    with fresh_database(f"cases{workers}") as url:
        sessions_before = sessions(url)
        with server(url, workers=workers) as (base, pid):
            with psycopg.connect(conninfo(url)) as conn:
                head_before = _one(conn, "SELECT feed_head FROM instance")
            load = asyncio.run(
                create_cases(base, pid, dbname(url), values, warmup, duration)
            )
            with psycopg.connect(conninfo(url)) as conn:
                stored = {r[0] for r in conn.execute("SELECT number FROM cases")}
                head_after = _one(conn, "SELECT feed_head FROM instance")
                changes = conn.execute(
                    "SELECT count(*), count(DISTINCT change), min(change), "
                    "max(change) FROM hashes"
                ).fetchone()
        # The server's connections are closed now; less our own two.
        opened = sessions(url, settle=sessions_before + 2) - sessions_before - 2
    ok = [s for s in load.samples if s[2] == 201]
    answered = len(ok)
    failures = list(dict.fromkeys(load.problems))[:5]
    if len(load.problems) > 5:
        failures.append(f"... {len(load.problems)} problems in all")
    if answered != len(load.samples):
        failures.insert(0, f"{len(load.samples) - answered} answers were not 201")
    if len(set(load.numbers)) != answered or stored != set(load.numbers):
        failures.append(
            f"{answered} cases answered 201, {len(stored)} in the database"
            + ("" if len(stored) != answered else " (different case numbers)")
        )
    if head_after - head_before != answered:
        failures.append(
            f"feed_head advanced by {head_after - head_before}, expected {answered}"
        )
    if changes != (answered, answered, head_before + 1, head_after):
        failures.append(
            f"hash changes (count, distinct, min, max) = {changes}, expected "
            f"({answered}, {answered}, {head_before + 1}, {head_after})"
        )
    finished = [s for s in ok if load.measure_from <= s[1] <= load.measure_to]
    latencies = sorted(
        end - start
        for start, end, status in load.samples
        if load.measure_from <= start < load.measure_to
    )
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return CreationResult(
        workers,
        len(finished) / duration,
        p50,
        p99,
        answered,
        len(finished),
        opened,
        load.cpu,
        failures,
    )


def sessions(url: str, settle: int = 0) -> int:
    """Connections to this database that PostgreSQL has seen close so far."""
    name = dbname(url)
    deadline = time.monotonic() + 3
    while True:
        with psycopg.connect(PG_ADMIN) as admin:
            count = _one(
                admin,
                "SELECT coalesce(sessions, 0) FROM pg_stat_database "
                f"WHERE datname = '{name}'",
            )
        # Closing backends report a moment later.
        if count > settle or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def _one(conn: psycopg.Connection[Any], sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


# ---- 2. the 1M-hash sync ----------------------------------------------------


def bulk_load(url: str, values: list[str]) -> float:
    """COPY `values` in as active adult PDQ records, changes 1..N; seconds."""
    started = time.perf_counter()
    first = datetime.now(UTC) - timedelta(days=1)
    step = timedelta(microseconds=50)
    last = first
    with psycopg.connect(conninfo(url)) as conn:
        with conn.cursor() as cursor:
            with cursor.copy(
                "COPY hashes (signal_type, digest, value, quality, program, status, "
                "case_count, quarantined, change, updated_at) FROM STDIN"
            ) as copy:
                for start in range(0, len(values), 50_000):
                    lines = []
                    for change in range(
                        start + 1, min(start + 50_000, len(values)) + 1
                    ):
                        value = values[change - 1]
                        digest = hashlib.sha256(value.encode()).hexdigest()
                        last = first + step * change
                        lines.append(
                            f"pdq\t{digest}\t{value}\t100\tadult\tactive\t1\tf\t"
                            f"{change}\t{last.isoformat()}\n"
                        )
                    copy.write("".join(lines).encode())
            cursor.execute(
                "UPDATE instance SET feed_head = %s, feed_time = %s WHERE id = 1",
                (len(values), last),
            )
    # What autovacuum would have done to a table this size long ago.
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) hashes")
    return time.perf_counter() - started


def platform_key(url: str) -> str:
    """A platform allowed the adult program, and its API key."""
    from reclaim.config import Settings
    from reclaim.registry.service import Registry

    registry = Registry(Settings(database_url=url))
    try:
        _, key = registry.add_platform("bench", ["adult"])
    finally:
        registry.close()
    return key


@dataclass
class Pass:
    """One way of reading the whole list."""

    name: str
    seconds: float
    values: list[str]
    problems: list[str]
    complete: bool
    cpu: CpuUse | None = None


def raw_select(url: str) -> Pass:
    """The reference: every value straight from PostgreSQL."""
    started = time.perf_counter()
    with psycopg.connect(conninfo(url)) as conn:
        values = [row[0] for row in conn.execute("SELECT value FROM hashes")]
    return Pass(
        "raw SELECT value (reference)", time.perf_counter() - started, values, [], True
    )


def read_snapshot(base: str, key: str, size: int) -> Pass:
    """GET /api/v1/platform/snapshot, every NDJSON line parsed."""
    started = time.perf_counter()
    deadline = started + SYNC_DEADLINE_S
    values: list[str] = []
    problems: list[str] = []
    last: Any = None
    complete = True
    loads = json.loads
    with httpx.stream(
        "GET",
        f"{base}/api/v1/platform/snapshot",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ) as response:
        if response.status_code != 200:
            response.read()
            return Pass("snapshot", 0.0, [], [response.text[:200]], False)
        if response.headers.get("x-reclaim-cursor") != str(size):
            problems.append(
                f"X-Reclaim-Cursor {response.headers.get('x-reclaim-cursor')}"
            )
        rest = b""
        for chunk in response.iter_bytes():
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                last = loads(line)
                if "value" in last:
                    values.append(last["value"])
            if time.perf_counter() > deadline:
                complete = False
                break
        if rest.strip():
            last = loads(rest)
    seconds = time.perf_counter() - started
    if complete and last != {"end": True, "cursor": size, "count": size}:
        problems.append(f"the last line is {last!r}")
    return Pass(
        "platform snapshot (NDJSON stream)", seconds, values, problems, complete
    )


def read_stopncii(base: str, key: str, size: int) -> Pass:
    """GET /stopncii/v1/FetchHashes, 10,000 a page, following nextPageToken."""
    headers = {"x-functions-key": key, "Ocp-Apim-Subscription-Key": key}
    values: list[str] = []
    problems: list[str] = []
    complete = False
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        token: str | None = None
        for _ in range(size // PAGE + 10):
            params: dict[str, Any] = {"startTimestamp": 10, "pageSize": PAGE}
            if token:
                params["nextPageToken"] = token
            response = http.get("/stopncii/v1/FetchHashes", params=params)
            if response.status_code != 200:
                problems.append(
                    f"answered {response.status_code}: {response.text[:200]}"
                )
                break
            page = json.loads(response.content)
            values.extend(r["hashValue"] for r in page["hashRecords"])
            if not page["hasMoreRecords"]:
                complete = True
                break
            token = page["nextPageToken"]
            if time.perf_counter() - started > SYNC_DEADLINE_S:
                break
    seconds = time.perf_counter() - started
    return Pass("StopNCII FetchHashes (10k pages)", seconds, values, problems, complete)


def read_changes(base: str, key: str, size: int) -> Pass:
    """GET /api/v1/platform/changes, 10,000 a page, from cursor 0."""
    values: list[str] = []
    problems: list[str] = []
    complete = False
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        cursor = 0
        for _ in range(size // PAGE + 10):
            response = http.get(
                "/api/v1/platform/changes", params={"cursor": cursor, "limit": PAGE}
            )
            if response.status_code != 200:
                problems.append(
                    f"answered {response.status_code}: {response.text[:200]}"
                )
                break
            page = json.loads(response.content)
            values.extend(r["value"] for r in page["records"])
            cursor = page["cursor"]
            if not page["has_more"]:
                complete = True
                break
            if time.perf_counter() - started > SYNC_DEADLINE_S:
                break
    seconds = time.perf_counter() - started
    if complete and cursor != size:
        problems.append(f"the last cursor is {cursor}, expected {size}")
    return Pass("platform changes (10k pages)", seconds, values, problems, complete)


def check(sync: Pass, expected: set[str]) -> None:
    """Exactly the loaded values, each once (only a complete pass is judged)."""
    if not sync.complete:
        return
    got = set(sync.values)
    if len(sync.values) != len(expected):
        sync.problems.append(
            f"{len(sync.values):,} records, expected {len(expected):,}"
        )
    if len(got) != len(sync.values):
        sync.problems.append(f"{len(sync.values) - len(got):,} duplicates")
    if got != expected:
        sync.problems.append(
            f"{len(expected - got):,} loaded values missing, "
            f"{len(got - expected):,} values never loaded"
        )


def bench_sync(size: int, passes: tuple[str, ...]) -> tuple[float, list[Pass]]:
    """(load seconds, [reference, *API passes]) for a list of `size` hashes."""
    values = pdq_values(size, seed=1_000_003)
    expected = set(values)
    with fresh_database("sync") as url:
        load_s = bulk_load(url, values)
        key = platform_key(url)
        del values
        results = [raw_select(url)]
        readers = {
            "snapshot": read_snapshot,
            "stopncii": read_stopncii,
            "changes": read_changes,
        }
        with server(url, workers=1) as (base, pid):
            for name in passes:
                meter = CpuMeter(pid, dbname(url))
                meter.start()
                sync = readers[name](base, key, size)
                sync.cpu = meter.stop()
                results.append(sync)
        for sync in results:
            check(sync, expected)
            sync.values = []
    return load_s, results


# ---- the report -------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=DURATION_S)
    parser.add_argument("--warmup", type=float, default=WARMUP_S)
    parser.add_argument("--size", type=int, default=LIST_SIZE)
    parser.add_argument(
        "--only", choices=("creations", "sync"), help="run one half only"
    )
    parser.add_argument(
        "--two-workers",
        action="store_true",
        help="also run two server processes even if one meets the goal",
    )
    parser.add_argument("--passes", default=",".join(PASSES))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    failed = False
    cores = os.cpu_count()
    print(
        f"reclaim registry on PostgreSQL 15, {cores} cores shared by the server, "
        "PostgreSQL and the load generator (all on this machine)"
    )
    busy = idle_cores()
    if busy > 0.2:
        print(
            f"WARNING: before starting, other processes kept {busy:.2f} cores "
            "busy; the numbers below are lower than on an idle machine"
        )

    if args.only != "sync":
        print(
            f"\n1. Case creations: {CLIENTS} concurrent httpx clients, POST "
            f"/api/v1/cases with one PDQ hash each; {args.warmup:g} s warm-up, "
            f"{args.duration:g} s measured"
        )
        print(
            f"   {'server':<22} {'creations/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'201s':>7}  goal >= {CREATION_GOAL:g}/s"
        )
        runs = [1, 2]
        results = []
        for workers in runs:
            if (
                workers == 2
                and not args.two_workers
                and results[0].rate >= CREATION_GOAL
            ):
                break
            result = bench_creations(workers, args.warmup, args.duration)
            results.append(result)
            label = f"uvicorn, {workers} process{'es' if workers > 1 else ''}"
            print(
                f"   {label:<22} {result.rate:12.0f} {result.p50_ms:8.1f} "
                f"{result.p99_ms:8.1f} {result.answered:7d}  "
                f"{verdict(result.rate >= CREATION_GOAL)}"
            )
            if result.cpu:
                print(f"   {'':<22} {result.cpu.cores()}")
                print(f"   {'':<22} {result.cpu.per(result.measured, 'creation')}")
                if result.cpu.disturbed():
                    print(f"   {'':<22} {result.cpu.disturbed()}")
            print(
                f"   {'':<22} PostgreSQL connections the server opened: "
                f"{result.connections} for {result.answered} requests"
            )
            for problem in result.failures:
                failed = True
                print(f"   FAIL: {problem}")
            if not result.failures:
                print(
                    f"   {'':<22} checked: all answers 201; {result.answered} cases "
                    "in the database; feed_head advanced by as many, no gap"
                )

    if args.only != "creations":
        passes = tuple(p for p in args.passes.split(",") if p)
        print(f"\n2. Sync of {args.size:,} hashes from empty over HTTP (1 process)")
        load_s, syncs = bench_sync(args.size, passes)
        print(
            f"   (setup: generated, COPY-loaded and VACUUM ANALYZEd in {load_s:.1f} s)"
        )
        reference = syncs[0].seconds
        print(
            f"   {'reader':<36} {'seconds':>8} {'records/s':>11} {'x raw':>7}  "
            f"goal <= {SYNC_GOAL_S:g} s"
        )
        for sync in syncs:
            rate = args.size / sync.seconds if sync.complete and sync.seconds else 0
            goal = (
                "(reference)"
                if sync is syncs[0]
                else verdict(sync.complete and sync.seconds <= SYNC_GOAL_S)
            )
            state = "" if sync.complete else f"  cut off after {sync.seconds:.0f} s"
            print(
                f"   {sync.name:<36} {sync.seconds:8.2f} {rate:11,.0f} "
                f"{sync.seconds / reference:7.1f}  {goal}{state}"
            )
            if sync.cpu:
                use = sync.cpu
                print(f"   {'':<36} {use.cores()}")
                print(
                    f"   {'':<36} CPU s for the pass: server {use.server:.1f}, "
                    f"PostgreSQL {use.postgres:.1f}, client {use.client:.1f}"
                )
                if use.disturbed():
                    print(f"   {'':<36} {use.disturbed()}")
            for problem in sync.problems:
                failed = True
                print(f"   FAIL: {problem}")
        if all(s.complete and not s.problems for s in syncs):
            print(
                f"   checked: each reader got exactly {args.size:,} values, all "
                "distinct, equal to the loaded set"
            )
    print("\nFAILED: a correctness check failed" if failed else "\nall checks passed")
    return 1 if failed else 0


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())

"""Registry load: case creations per second, and a 1M-hash list sync, on PostgreSQL.

Runs `reclaim serve` as a real server process on 127.0.0.1 against a fresh
PostgreSQL database, then:

1. 32 concurrent clients create cases (one PDQ hash each) for a fixed time;
   every answer must be 201, and the database must hold exactly that many
   cases and feed positions afterwards.
2. 1,000,000 hash records are bulk-loaded (setup, not timed), then synced from
   empty through the platform snapshot stream and through the StopNCII
   FetchHashes pages; every hash must arrive exactly once. A raw `SELECT` of
   the same rows through psycopg is the reference the API is compared with.

Goals printed beside the numbers: >= 300 creations/s on 2 cores, a full 1M
sync in <= 20 s. The server and the load generator share the machine's cores.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psycopg

from synthetic import free_port, random_pdq

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 32
DURATION = 10.0
LIST_SIZE = 1_000_000
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))


class Server:
    """`reclaim serve` in its own process, on a fresh database."""

    def __init__(self, database: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RECLAIM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
            "RECLAIM_CASE_RATE": "1000000000/hour",
            "RECLAIM_PIN_RATE": "1000000000/hour",
            "RECLAIM_LOG_LEVEL": "WARNING",
        }
        reclaim = str(ROOT / ".venv" / "bin" / "reclaim")
        subprocess.run(
            [reclaim, "db", "upgrade"], env=self.env, check=True, capture_output=True
        )
        self.process = subprocess.Popen(
            [reclaim, "serve", "--port", str(self.port), "--workers", str(WORKERS)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def platform_key(self, programs: str = "adult") -> str:
        reclaim = str(ROOT / ".venv" / "bin" / "reclaim")
        out = subprocess.run(
            [
                reclaim,
                "platforms",
                "add",
                f"bench-{uuid.uuid4().hex[:6]}",
                "--programs",
                programs,
            ],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.strip().splitlines()[-1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def cpu_seconds(match: Callable[[int, str], bool]) -> float:
    """User+system CPU seconds of the live processes `match(pid, comm)` picks."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if not match(int(entry.name), comm):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_tree(root: int) -> set[int]:
    """`root` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def fresh_database() -> str:
    name = f"reclaim_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def post_json(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 POST on a kept-alive connection: (status, body).

    A bare client on purpose: the load generator shares the 2 cores with the
    server, and httpx spends about as much CPU per request as the server.
    """
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def create_cases(url: str) -> tuple[int, list[float], int]:
    rng = np.random.default_rng(1)
    hashes = [random_pdq(rng) for _ in range(20_000)]
    latencies: list[float] = []
    failures = 0
    ok = 0
    stop_at = time.monotonic() + DURATION
    counter = iter(range(10**9))
    host, port = url.removeprefix("http://").split(":")

    async def client() -> None:
        nonlocal ok, failures
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.monotonic() < stop_at:
                value = hashes[next(counter) % len(hashes)]
                body = json.dumps(
                    {
                        "program": "adult",
                        "hashes": [{"type": "pdq", "value": value, "quality": 100}],
                    }
                ).encode()
                started = time.perf_counter()
                status, answer = await post_json(reader, writer, "/api/v1/cases", body)
                latencies.append(time.perf_counter() - started)
                # Every answer is checked: a case number, a PIN, the hash.
                reply = json.loads(answer) if status == 201 else {}
                if (
                    reply.get("case_number")
                    and reply.get("pin")
                    and reply["case"]["hashes"][0]["value"] == value
                ):
                    ok += 1
                else:
                    failures += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return ok, latencies, failures


def scalar(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def bench_creations() -> tuple[float, float, float, bool]:
    database = fresh_database()
    server = Server(database)
    try:
        tree = process_tree(server.process.pid)
        before = cpu_seconds(lambda pid, _: pid in tree)
        database_before = cpu_seconds(lambda _, comm: comm.startswith("postgres"))
        client_before = time.process_time()
        ok, latencies, failures = asyncio.run(create_cases(server.url))
        server_cpu = cpu_seconds(lambda pid, _: pid in tree) - before
        database_cpu = (
            cpu_seconds(lambda _, comm: comm.startswith("postgres")) - database_before
        )
        client_cpu = time.process_time() - client_before
        per = 1000 / max(ok, 1)
        print(
            f"CPU per creation: server {server_cpu * per:.2f} ms, PostgreSQL "
            f"{database_cpu * per:.2f} ms, load generator {client_cpu * per:.2f} ms"
        )
        ceiling = (os.cpu_count() or 1) / (server_cpu + database_cpu + client_cpu)
        print(f"  (so {os.cpu_count()} idle cores could serve ~{ceiling * ok:.0f}/s)")
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
            cases = scalar(conn, "SELECT count(*) FROM cases")
            head = scalar(conn, "SELECT feed_head FROM instance")
            distinct = scalar(conn, "SELECT count(*) FROM hashes")
        correct = failures == 0 and cases == ok and head >= distinct and distinct > 0
        if not correct:
            print(
                f"FAIL creations: {ok} answered 201, {failures} failed, {cases} stored"
            )
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        return ok / DURATION, p50, p99, correct
    finally:
        server.stop()
        drop_database(database)


def load_list(database: str) -> tuple[set[str], datetime]:
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 2**63, size=(LIST_SIZE, 4), dtype=np.uint64)
    values = ["".join(f"{int(w):016x}" for w in row) for row in raw]
    start = datetime.now(UTC) - timedelta(days=1)
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
        with conn.cursor().copy(
            "COPY hashes (signal_type, digest, value, quality, program, status, "
            "case_count, quarantined, change, updated_at) FROM STDIN"
        ) as copy:
            for index, value in enumerate(values, start=1):
                copy.write_row(
                    (
                        "pdq",
                        hashlib.sha256(value.encode()).hexdigest(),
                        value,
                        100,
                        "adult",
                        "active",
                        1,
                        False,
                        index,
                        start + timedelta(microseconds=index * 50),
                    )
                )
        last = start + timedelta(microseconds=LIST_SIZE * 50)
        conn.execute(
            "UPDATE instance SET feed_head = %s, feed_time = %s", (LIST_SIZE, last)
        )
        conn.commit()
        # As autovacuum would after a load: the planner needs row counts.
        conn.execute("ANALYZE")
    return set(values), last


def fetch_stopncii(url: str, key: str, expected: set[str]) -> float:
    """Seconds to page through FetchHashes; every hash must arrive once."""
    started = time.perf_counter()
    seen: set[str] = set()
    token = ""
    headers = {"x-functions-key": key, "Ocp-Apim-Subscription-Key": key}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        while True:
            params: dict[str, str | int] = {"startTimestamp": 10, "pageSize": 10_000}
            if token:
                params["nextPageToken"] = token
            page = http.get("/stopncii/v1/FetchHashes", params=params).json()
            values = [r["hashValue"] for r in page["hashRecords"]]
            assert not seen.intersection(values), "a hash was served twice"
            seen.update(values)
            if not page["hasMoreRecords"]:
                break
            token = page["nextPageToken"]
    assert seen == expected
    return time.perf_counter() - started


def bench_sync() -> dict[str, float]:
    database = fresh_database()
    server = Server(database)
    try:
        expected, _ = load_list(database)
        key = server.platform_key()
        results: dict[str, float] = {}

        started = time.perf_counter()
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
            raw = {
                row[0]
                for row in conn.execute(
                    "SELECT value FROM hashes WHERE status = 'active'"
                )
            }
        results["raw SELECT (reference)"] = time.perf_counter() - started
        assert raw == expected

        started = time.perf_counter()
        seen: set[str] = set()
        last: dict[str, object] = {}
        with httpx.stream(
            "GET",
            f"{server.url}/api/v1/platform/snapshot",
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        ) as response:
            for line in response.iter_lines():
                record = json.loads(line)
                if "end" in record:
                    last = record
                else:
                    seen.add(record["value"])
        results["platform snapshot (NDJSON)"] = time.perf_counter() - started
        assert seen == expected and last == {
            "end": True,
            "cursor": LIST_SIZE,
            "count": LIST_SIZE,
        }

        both = server.platform_key("adult,minor")
        for label, reader in [
            ("StopNCII FetchHashes (10k pages)", key),
            # A key that reads two programs: each hash is merged over both.
            ("StopNCII FetchHashes, adult+minor key", both),
        ]:
            results[label] = fetch_stopncii(server.url, reader, expected)

        started = time.perf_counter()
        seen = set()
        cursor = 0
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as http:
            while True:
                page = http.get(
                    "/api/v1/platform/changes",
                    params={"cursor": cursor, "limit": 10_000},
                ).json()
                seen.update(r["value"] for r in page["records"])
                cursor = page["cursor"]
                if not page["has_more"]:
                    break
        results["platform changes (10k pages)"] = time.perf_counter() - started
        assert seen == expected
        return results
    finally:
        server.stop()
        drop_database(database)


def main() -> int:
    cores = os.cpu_count()
    print(f"registry on PostgreSQL; server ({WORKERS} workers) and {CLIENTS} clients")
    print(f"share {cores} cores\n")
    only = os.environ.get("BENCH_ONLY", "")  # "creations" or "sync"
    correct = True
    if only != "sync":
        rate, p50, p99, correct = bench_creations()
        verdict = "met" if rate >= 300 else "MISSED"
        print(f"case creations: {rate:7.0f}/s  (p50 {p50:.0f} ms, p99 {p99:.0f} ms)")
        print(f"                goal >= 300/s: {verdict}\n")
    if only == "creations":
        return 0 if correct else 1
    results = bench_sync()
    reference = results["raw SELECT (reference)"]
    print(f"sync of {LIST_SIZE:,} hashes from empty:")
    for name, seconds in results.items():
        goal = ""
        if "reference" not in name:
            goal = "  goal <= 20 s: " + ("met" if seconds <= 20 else "MISSED")
        ratio = f"{seconds / reference:5.1f}x raw"
        print(
            f"  {name:<38} {seconds:6.1f} s {LIST_SIZE / seconds:9,.0f}/s {ratio}{goal}"
        )
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())

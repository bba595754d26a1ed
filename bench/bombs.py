"""Decompression bombs against a real matcher: its memory and its answer times.

Runs `reclaim serve` (a registry on SQLite, empty list) and `reclaim matcher
serve` in processes of their own, with the matcher's default `[decode]`
settings, and samples the resident memory of the matcher's whole process
tree (the matcher, its decode workers and their fork server) every 20 ms:

* 16 concurrent uploads of the issue's bomb: a ~300 KB PNG of 99.8 MP;
* 16 concurrent uploads of a bomb just under the pixel budget (39.9 MP);
* a 2-hour 64x64 H.264 video (made once and cached in bench/.cache), its
  answer time.

Goals (issue 14): the whole matcher stays under 1.5 GB during the bombs, and
the 2-hour video is answered within 20 s. Exits non-zero if one is missed.
Every bomb is made here; nothing is downloaded.

    .venv/bin/python bench/bombs.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from matcher_sync import RECLAIM, Registry, wait_until
from synthetic import free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.bombs import long_video, png_bomb  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
MEMORY_GOAL_MB = 1536
VIDEO_GOAL_SECONDS = 20.0
CONCURRENT = 16


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and every process below it, in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    inside = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in inside and pid not in inside:
                inside.add(pid)
                grew = True
    return sum(rss.get(pid, 0) for pid in inside) / 2**20


class Sampler:
    """The peak of `tree_rss_mb(root)`, sampled in a thread."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.root))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self.peak = tree_rss_mb(self.root)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def matcher(work: Path, registry: Registry) -> tuple[subprocess.Popen[bytes], str]:
    """`reclaim matcher serve` with the default [decode] settings, ready."""
    port = free_port()
    config = work / "matcher.toml"
    config.write_text(
        f'[source]\nurl = "{registry.url}"\napi_key = "{registry.key}"\n'
        f'[store]\nurl = "sqlite:///{work}/matcher.db"\n'
        f"[sync]\npoll_seconds = 1\n[serve]\nport = {port}\n"
    )
    process = subprocess.Popen(
        [RECLAIM, "matcher", "serve", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ready(url), timeout=60)
    return process, url


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def storm(url: str, bomb: bytes) -> dict[int, int]:
    """`CONCURRENT` uploads of `bomb` at once: how many got each status."""

    def upload(_: int) -> int:
        reply = httpx.post(f"{url}/v1/match/media", content=bomb, timeout=300)
        return reply.status_code

    with ThreadPoolExecutor(CONCURRENT) as pool:
        codes = list(pool.map(upload, range(CONCURRENT)))
    return {code: codes.count(code) for code in sorted(set(codes))}


def two_hour_video() -> bytes:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "bomb-2h-64px.mp4"
    if not path.exists():
        started = time.perf_counter()
        long_video(path.with_name("partial.mp4"), seconds=7200).rename(path)
        print(f"made the 2-hour video in {time.perf_counter() - started:.0f} s")
    return path.read_bytes()


def main() -> int:
    video = two_hour_video()
    big, under = png_bomb(10_000, 9_980), png_bomb(7_300, 5_465)
    work = Path(tempfile.mkdtemp(prefix="reclaim-bombs-"))
    registry = Registry(f"sqlite:///{work}/registry.db", 0)
    process, url = matcher(work, registry)
    failed = False
    try:
        idle = tree_rss_mb(process.pid)
        print(f"matcher at rest: {idle:.0f} MB (its whole process tree)")
        for name, bomb in (
            (f"99.8 MP PNG ({len(big) // 1024} KB)", big),
            (f"39.9 MP PNG ({len(under) // 1024} KB)", under),
        ):
            started = time.perf_counter()
            with Sampler(process.pid) as sampler:
                codes = storm(url, bomb)
            took = time.perf_counter() - started
            ok = sampler.peak < MEMORY_GOAL_MB
            failed |= not ok
            print(
                f"{CONCURRENT} x {name}: peak {sampler.peak:.0f} MB "
                f"(goal < {MEMORY_GOAL_MB}) {'PASS' if ok else 'FAIL'}; "
                f"answers {codes} in {took:.1f} s"
            )
        started = time.perf_counter()
        with Sampler(process.pid) as sampler:
            reply = httpx.post(f"{url}/v1/match/media", content=video, timeout=300)
        took = time.perf_counter() - started
        ok = reply.status_code == 200 and took < VIDEO_GOAL_SECONDS
        failed |= not ok
        print(
            f"2-hour 64x64 video ({len(video) / 2**20:.1f} MB): {reply.status_code} "
            f"{reply.json().get('media')} in {took:.1f} s (goal < "
            f"{VIDEO_GOAL_SECONDS:.0f} s) {'PASS' if ok else 'FAIL'}; "
            f"peak {sampler.peak:.0f} MB"
        )
        alive = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        failed |= not alive
        print(f"matcher still answering: {'PASS' if alive else 'FAIL'}")
    finally:
        process.terminate()
        process.wait(10)
        registry.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Upload decoders: memory, CPU and time limits, crashes, and a bounded queue.

Every bomb is made here at test time (`tests/bombs.py`), small enough to
build in memory, and every limit is lowered to fit it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import numpy as np
import pytest

from reclaim.hashing import MediaTooLargeError, UnreadableMediaError
from reclaim.matcher.app import create_app
from reclaim.matcher.config import DecodeConfig, MatcherConfig
from reclaim.matcher.decode_pool import DecodePool, _limit_cpu
from reclaim.matcher.errors import BusyError
from reclaim.matcher.service import MatcherService
from tests.bombs import long_video, png_bomb
from tests.conftest import encode, live_server

#: Budgets off, so the long clip is decoded whole (about 3 s of CPU).
NO_VIDEO_BUDGET = {"video_max_frames": 10**9}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """15 minutes of 64x64 at 25 fps: 22,500 frames in about 1 MB."""
    folder = tmp_path_factory.mktemp("clip")
    return long_video(folder / "long.mp4", seconds=900).read_bytes()


@pytest.fixture
def photo(photos: dict[str, np.ndarray]) -> bytes:
    return encode(photos["coins"], "JPEG")


@pytest.fixture
def make_pool() -> Iterator[Callable[..., DecodePool]]:
    made: list[DecodePool] = []

    def make(**limits: object) -> DecodePool:
        pool = DecodePool(DecodeConfig(**limits))  # type: ignore[arg-type]
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_bomb_over_the_memory_limit_fails_cleanly_and_the_next_upload_works(
    make_pool: Callable[..., DecodePool], photo: bytes
) -> None:
    bomb = png_bomb(6000, 5000)  # 30 MP: about 280 MB to hash, 90 KB to send
    assert len(bomb) < 200_000
    pool = make_pool(workers=1, queue=0, memory_mb=64, max_pixels=50_000_000)
    before = _peak_rss_mb()
    with pytest.raises(MediaTooLargeError, match="memory"):
        pool.hash_now(bomb, dihedral=True)
    assert _peak_rss_mb() - before < 50  # decoded in the worker, not here
    assert len(pool.hash_now(photo, dihedral=True).pdq) > 8


def test_an_upload_over_the_time_limit_kills_its_worker(
    make_pool: Callable[..., DecodePool], long_clip: bytes, photo: bytes
) -> None:
    pool = make_pool(workers=1, queue=0, timeout_seconds=0.5, **NO_VIDEO_BUDGET)
    started = time.monotonic()
    with pytest.raises(MediaTooLargeError, match=r"took over 0.5 s"):
        pool.hash_now(long_clip, dihedral=True)
    assert time.monotonic() - started < 5
    assert pool.hash_now(photo, dihedral=True).pdq


def test_the_cpu_limit_is_enforced_by_the_kernel() -> None:
    """`_limit_cpu` as a worker sets it: a busy loop is ended by SIGXCPU."""
    context = multiprocessing.get_context("forkserver")
    spinner = context.Process(target=_spin_under_cpu_limit)
    spinner.start()
    spinner.join(30)
    assert spinner.exitcode == -signal.SIGXCPU


def test_a_worker_over_its_cpu_limit_is_one_clear_error(
    make_pool: Callable[..., DecodePool], long_clip: bytes, photo: bytes
) -> None:
    message = _kill_during_upload(make_pool, long_clip, photo, signal.SIGXCPU)
    assert isinstance(message, MediaTooLargeError)
    assert "s of CPU" in str(message) and "cpu_seconds" in str(message)


def test_a_crashed_decoder_is_one_clear_error_and_is_replaced(
    make_pool: Callable[..., DecodePool], long_clip: bytes, photo: bytes
) -> None:
    error = _kill_during_upload(make_pool, long_clip, photo, signal.SIGSEGV)
    assert isinstance(error, UnreadableMediaError)
    assert "decoder crashed" in str(error)


def _kill_during_upload(
    make_pool: Callable[..., DecodePool],
    long_clip: bytes,
    photo: bytes,
    sign: signal.Signals,
) -> BaseException:
    """Send `sign` to the worker hashing the long clip; return what it raised."""
    pool = make_pool(workers=1, queue=0, **NO_VIDEO_BUDGET)
    pool.hash_now(photo, dihedral=True)  # the worker is up
    worker = pool._workers[0].process
    assert worker is not None and worker.pid is not None
    failures: list[BaseException] = []

    def upload() -> None:
        try:
            pool.hash_now(long_clip, dihedral=True)
        except Exception as error:  # noqa: BLE001 - returned below
            failures.append(error)

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(0.3)
    os.kill(worker.pid, sign)  # as a decoder bug, or the kernel, would
    thread.join(30)
    assert len(failures) == 1
    assert pool.hash_now(photo, dihedral=True).pdq  # a new worker took over
    return failures[0]


def _spin_under_cpu_limit() -> None:
    _limit_cpu(0.5)
    while True:
        pass


def test_places_are_bounded(make_pool: Callable[..., DecodePool]) -> None:
    pool = make_pool(workers=1, queue=1)
    first, second = pool.reserve(), pool.reserve()
    with pytest.raises(BusyError, match="all 1 upload decoders are busy") as busy:
        pool.reserve()
    assert busy.value.retry_after > 0
    first.release()
    first.release()  # idempotent
    pool.reserve().release()
    second.release()
    assert pool.admitted == 0


# Over HTTP: the matcher answers in its one error shape and stays up.


@pytest.fixture
def served(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> Iterator[Callable[..., httpx.Client]]:
    with ExitStack() as stack:

        def serve(**decode: object) -> httpx.Client:
            service = make_service(make_config(decode=decode))
            service.sync_once()  # ready: the list is complete
            url = stack.enter_context(live_server(create_app(service)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=60))

        yield serve


def test_over_http_a_memory_bomb_is_413_and_the_matcher_answers_the_next(
    served: Callable[..., httpx.Client], photo: bytes, photos: dict[str, np.ndarray]
) -> None:
    api = served(workers=1, memory_mb=64, max_pixels=50_000_000)
    reply = api.post("/v1/match/media", content=png_bomb(6000, 5000))
    assert reply.status_code == 413, reply.text
    body = reply.json()
    assert set(body) == {"ok", "error", "errors", "status", "code"}
    assert body["status"] == 413 and body["code"] == "too_large"
    assert "64 MB" in body["error"] or "memory" in body["error"]
    assert api.post("/v1/match/media", content=photo).json()["media"] == "image"
    cut = encode(photos["astronaut"], "JPEG")
    reply = api.post("/v1/match/media", content=cut[: len(cut) * 98 // 100])
    assert reply.status_code == 200 and reply.json()["media"] == "image"


def test_over_http_a_full_queue_is_503_with_retry_after(
    served: Callable[..., httpx.Client], long_clip: bytes, photo: bytes
) -> None:
    api = served(workers=1, queue=0, timeout_seconds=3, **NO_VIDEO_BUDGET)
    busy = None
    answers: list[httpx.Response] = []
    for _ in range(5):  # until the slow upload, not a photo, holds the place
        answers.clear()
        slow = threading.Thread(
            target=lambda: answers.append(
                api.post("/v1/match/media", content=long_clip)
            )
        )
        slow.start()
        time.sleep(0.3)
        while slow.is_alive() and busy is None:
            reply = api.post("/v1/match/media", content=photo)
            if reply.status_code == 503:
                busy = reply
            time.sleep(0.05)
        slow.join()
        if busy is not None:
            break
    assert busy is not None, "the one worker was never seen busy"
    # The slow one finished or ran out of time, depending on this machine's
    # speed (timeouts have a test of their own); either way it was answered.
    assert answers[0].status_code in (200, 413)
    assert busy.headers["Retry-After"].isdigit()
    assert set(busy.json()) == {"ok", "error", "errors", "status", "code"}
    assert "busy" in busy.json()["error"]
    assert api.post("/v1/match/media", content=photo).status_code == 200

"""Hashing many files across processes, reporting each result as it lands.

Images go to a pool of worker processes. Videos are hashed one at a time in
this process (their decoding is threaded already), each with its own
progress bar on a terminal and nothing at all when stderr is not one.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.queues import Queue
from pathlib import Path
from queue import Empty
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from reclaim.hashing.digest import file_digests
from reclaim.hashing.errors import MediaError
from reclaim.hashing.files import VIDEO_SUFFIXES, FileHashes, hash_file
from reclaim.hashing.video import video_hash

#: Why a file has no hashes when its decoder took the worker process down.
CRASHED = (
    "the decoder crashed on this file: it is corrupt or hostile; do not open "
    "it with other software either"
)


def find_files(paths: Sequence[Path]) -> Iterator[Path | FileHashes]:
    """Regular files under `paths` (directories recursively, sorted).

    Inside folders, hidden files and folders (".DS_Store", ".git", "._x.jpg")
    are skipped; a file named on the command line is always hashed. A path
    that does not exist or is not a file yields a `FileHashes` error.
    """
    for path in paths:
        if path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(n for n in names if not n.startswith(".")):
                    candidate = Path(folder, name)
                    if candidate.is_file():
                        yield candidate
        elif path.is_file():
            yield path
        elif path.exists():
            yield FileHashes(str(path), error="not a regular file: nothing to hash")
        else:
            yield FileHashes(str(path), error="no such file or directory")


def is_video(path: Path) -> bool:
    """Whether `path` is hashed as a video (MD5 + vPDQ) by its name."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def hash_video(
    path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    threads: int | None = None,
) -> FileHashes:
    """Digests and vPDQ of one video on `threads` cores (None: all of them);
    a bad file's reason goes into `error`."""
    name = str(path)
    try:
        if path.stat().st_size == 0:
            return FileHashes(
                name, error="the file is empty (0 bytes): nothing to hash"
            )
        digests = file_digests(name)
    except OSError as error:
        return FileHashes(name, error=f"cannot read the file: {error.strerror}")
    try:
        return FileHashes(
            name,
            digests,
            video=video_hash(
                name, on_progress=on_progress, md5=digests.md5, threads=threads
            ),
        )
    except MediaError as error:
        return FileHashes(name, digests, error=str(error))


#: In a video worker process: where to send progress (set by `_set_queue`).
_progress_queue: Queue[float] | None = None


def _set_queue(queue: Queue[float]) -> None:
    global _progress_queue
    _progress_queue = queue


def _report(share: float) -> None:
    if _progress_queue is not None:
        _progress_queue.put(share)


def _video_job(path: str, threads: int) -> FileHashes:
    """What a video worker runs: hash one video, sending progress home."""
    return hash_video(Path(path), on_progress=_report, threads=threads)


def progress_bars(console: Console) -> Progress:
    """The progress display: bars on a terminal, nothing otherwise."""
    return Progress(
        TextColumn("{task.description}", style="progress.description"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def hash_with_progress(
    files: Sequence[Path],
    *,
    dihedral: bool,
    exact: bool,
    workers: int,
    console: Console,
    on_result: Callable[[FileHashes], None],
    expand: bool = False,
) -> None:
    """`hash_files` with a bar for the batch (2+ files) and one per video."""
    with progress_bars(console) as progress:
        task = progress.add_task("files", total=len(files), visible=len(files) > 1)

        def collect(result: FileHashes) -> None:
            on_result(result)
            progress.advance(task)

        hash_files(
            files,
            dihedral=dihedral,
            exact=exact,
            workers=workers,
            on_result=collect,
            progress=progress,
            expand=expand,
        )


def hash_videos(
    videos: Sequence[Path],
    *,
    progress: Progress,
    on_result: Callable[[FileHashes], None],
    threads: int,
) -> None:
    """Hash videos one by one in a worker process, with a progress bar each.

    The worker keeps a decoder crash from taking the command down; its
    progress comes back through a queue. Each video is decoded on `threads`
    cores (its groups of pictures side by side), after the images are done,
    so the two never compete for cores.
    """
    if not videos:
        return
    context = multiprocessing.get_context("spawn")
    queue: Queue[float] = context.Queue()
    pool = _video_pool(context, queue)
    try:
        for number, path in enumerate(videos, start=1):
            task = progress.add_task(f"video {number}/{len(videos)}", total=1.0)
            future = pool.submit(_video_job, str(path), threads)

            def show(share: float, task: TaskID = task) -> None:
                progress.update(task, completed=share)

            while not future.done():
                _drain(queue, show)
            _drain(queue, show, wait=0)
            try:
                result = future.result()
            except BrokenProcessPool:
                result = FileHashes(str(path), error=CRASHED)
                pool.shutdown()
                pool = _video_pool(context, queue)
            progress.remove_task(task)
            on_result(result)
    finally:
        pool.shutdown()


def _video_pool(context: Any, queue: Queue[float]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=_set_queue, initargs=(queue,)
    )


def _drain(
    queue: Queue[float], update: Callable[[float], None], *, wait: float = 0.1
) -> None:
    """Pass on the progress reported so far (waiting up to `wait` for some)."""
    try:
        update(queue.get(timeout=wait) if wait else queue.get_nowait())
        while True:
            update(queue.get_nowait())
    except Empty:
        pass


def hash_files(
    files: Sequence[Path],
    *,
    dihedral: bool,
    exact: bool,
    workers: int,
    on_result: Callable[[FileHashes], None],
    progress: Progress | None = None,
    expand: bool = False,
) -> None:
    """Hash `files`: images in `workers` processes, then videos one at a time.

    With `progress`, videos are hashed in a worker process of their own and
    each gets a bar there.
    """
    videos: list[Path] = []
    if progress is not None:
        videos = [path for path in files if is_video(path)]
        files = [path for path in files if not is_video(path)]
    job: Callable[[str], FileHashes] = partial(
        hash_file, dihedral=dihedral, exact=exact, expand=expand
    )
    _hash_images(files, job, workers=workers, on_result=on_result)
    if progress is not None:
        hash_videos(videos, progress=progress, on_result=on_result, threads=workers)


def _hash_images(
    files: Sequence[Path],
    job: Callable[[str], FileHashes],
    *,
    workers: int,
    on_result: Callable[[FileHashes], None],
) -> None:
    if workers <= 1 or len(files) <= 1:
        for path in files:
            on_result(job(str(path)))
        return
    run_isolated(files, job, workers=workers, on_result=on_result)


def run_isolated(
    files: Sequence[Path],
    job: Callable[[str], FileHashes],
    *,
    workers: int,
    on_result: Callable[[FileHashes], None],
) -> None:
    """Run a picklable `job` over `files` in worker processes, surviving crashes."""
    unfinished = _run_pool(files, job, workers=workers, on_result=on_result)
    # A worker died (a decoder crash or the OOM killer): the pool is broken.
    # Retry each unfinished file alone, so one bad file cannot sink the batch.
    for path in unfinished:
        if _run_pool([path], job, workers=1, on_result=on_result):
            on_result(FileHashes(str(path), error=CRASHED))


def _run_pool(
    files: Sequence[Path],
    job: Callable[[str], FileHashes],
    *,
    workers: int,
    on_result: Callable[[FileHashes], None],
) -> list[Path]:
    """Run `job` over `files` in a process pool; return files whose worker died."""
    # spawn: fresh interpreters, no inherited threads or locks.
    context = multiprocessing.get_context("spawn")
    pending: dict[Future[FileHashes], Path] = {}
    unfinished: list[Path] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for path in files:
            pending[pool.submit(job, str(path))] = path
        for future in as_completed(pending):
            try:
                on_result(future.result())
            except BrokenProcessPool:
                unfinished.append(pending[future])
    return sorted(unfinished)

"""Hashing many files across processes, reporting each result as it lands."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

from reclaim.hashing.files import FileHashes, hash_file


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


def hash_files(
    files: Sequence[Path],
    *,
    dihedral: bool,
    exact: bool,
    workers: int,
    on_result: Callable[[FileHashes], None],
) -> None:
    """Hash `files`, in `workers` processes when there is more than one file."""
    job = partial(hash_file, dihedral=dihedral, exact=exact)
    if workers <= 1 or len(files) <= 1:
        for path in files:
            on_result(job(path))
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
            on_result(
                FileHashes(
                    str(path),
                    error="the image decoder crashed on this file: it is corrupt "
                    "or hostile; do not open it with other software either",
                )
            )


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

"""Hashing uploads in worker processes with memory, CPU and wall-time limits.

The matcher never decodes an upload in its own process: a decompression
bomb or a decoder bug would take the service down with it. `DecodePool`
keeps `[decode] workers` processes, forked from a server process that has
the hashing code loaded (so a replacement starts in milliseconds). Each
worker:

* may allocate `memory_mb` beyond what it held at start (`RLIMIT_DATA`: the
  heap and private maps, where numpy, Pillow and FFmpeg put pixels); past
  it an allocation fails, the upload is answered 413 and the worker is
  replaced;
* may spend `cpu_seconds` of CPU on one upload, all threads together
  (`RLIMIT_CPU`, moved on before each upload; past it the kernel ends the
  worker with SIGXCPU);
* is killed and replaced when one upload takes over `timeout_seconds`.

When the desk keeps previews (`[desk] keep_media_hours` > 0) the service
asks for one with the hashes (`Reservation.decode(..., preview=480)`): the
same worker, within the same limits and only after the upload passed the
pixel budget, makes a small JPEG of the image (never of a video), with no
metadata. The server process never decodes an upload itself.

At most `workers` uploads are hashed at once and `queue` more wait for a
worker. Past that, `reserve()` refuses before the body is read: BusyError,
which the API answers 503 with Retry-After. A place is held from
`reserve()` until the upload's job ends, even if the client goes away.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import multiprocessing
import queue as queues
import resource
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

from reclaim.hashing import MediaError, MediaTooLargeError, UnreadableMediaError
from reclaim.hashing.decoder import looks_like_image, truncated_images
from reclaim.matcher.config import DecodeConfig
from reclaim.matcher.errors import BusyError
from reclaim.matcher.media import MediaHashes, hash_upload
from reclaim.memory import data_bytes, memory_ceiling

logger = logging.getLogger(__name__)

#: What a 503 asks the client to wait: about one image job on a busy worker.
RETRY_AFTER_SECONDS = 5
#: JPEG quality of previews: enough to recognise, small to keep.
PREVIEW_QUALITY = 70


@dataclass(frozen=True, slots=True)
class Decoded:
    """An upload's hashes, and its preview when one was asked for and could
    be made (a downscaled JPEG, never the upload)."""

    hashes: MediaHashes
    preview: bytes | None = None


class DecodePool:
    """Worker processes that hash uploads, a bounded queue in front of them."""

    def __init__(self, limits: DecodeConfig) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._admitted = 0
        self._closed = False
        self._workers = [_Worker(limits) for _ in range(limits.workers)]
        self._idle: queues.SimpleQueue[_Worker] = queues.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)
        # One thread per admitted upload: each waits on a worker's pipe.
        self._threads = ThreadPoolExecutor(
            max_workers=limits.workers + limits.queue, thread_name_prefix="decode"
        )

    @property
    def admitted(self) -> int:
        """Uploads being hashed or waiting for a worker now."""
        return self._admitted

    def reserve(self) -> Reservation:
        """A place for one upload; BusyError when every place is taken."""
        capacity = self.limits.workers + self.limits.queue
        with self._lock:
            if self._closed:
                raise BusyError(
                    "the matcher is shutting down: send the upload again in "
                    f"{RETRY_AFTER_SECONDS} s",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if self._admitted >= capacity:
                raise BusyError(
                    f"all {self.limits.workers} upload decoders are busy and "
                    f"{self.limits.queue} uploads are waiting: send this upload "
                    f"again in {RETRY_AFTER_SECONDS} s, or raise [decode] workers "
                    "or queue",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._admitted += 1
        return Reservation(self)

    def hash_now(self, data: bytes, *, dihedral: bool) -> MediaHashes:
        """Hash one upload in a worker, waiting for one (reserve, then run)."""
        reservation = self.reserve()
        try:
            return self._job(data, dihedral, 0).hashes
        finally:
            reservation.release()

    def close(self) -> None:
        """Stop every worker; uploads still waiting are not hashed."""
        with self._lock:
            self._closed = True
        self._threads.shutdown(wait=False, cancel_futures=True)
        for worker in self._workers:
            worker.stop()

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def _job(self, data: bytes, dihedral: bool, preview: int) -> Decoded:
        """In a pool thread: take an idle worker, hash, give the worker back."""
        worker = self._idle.get()
        try:
            if self._closed:  # stopped while this upload waited
                raise BusyError(
                    "the matcher is shutting down: send the upload again in "
                    f"{RETRY_AFTER_SECONDS} s",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            return worker.run(data, dihedral, preview)
        finally:
            self._idle.put(worker)


class Reservation:
    """One upload's place in the pool, from `reserve()` to the end of its job."""

    def __init__(self, pool: DecodePool) -> None:
        self._pool = pool
        self._held = True

    async def hash(self, data: bytes, *, dihedral: bool) -> MediaHashes:
        """Hash the upload in a worker; the place is given back when it ends."""
        return (await self.decode(data, dihedral=dihedral)).hashes

    async def decode(self, data: bytes, *, dihedral: bool, preview: int = 0) -> Decoded:
        """Hash the upload in a worker, and with `preview` > 0 make a JPEG
        preview at most that many pixels on its longer side (images only)."""
        if not self._held:
            raise RuntimeError("this reservation was used or released already")
        self._held = False
        try:
            future: Future[Decoded] = self._pool._threads.submit(
                self._pool._job, data, dihedral, preview
            )
        except RuntimeError:  # the pool was closed meanwhile
            self._pool._release()
            raise BusyError(
                "the matcher is shutting down: send the upload again in "
                f"{RETRY_AFTER_SECONDS} s",
                retry_after=RETRY_AFTER_SECONDS,
            ) from None
        # Runs when the job ends, fails or is cancelled before it starts.
        future.add_done_callback(lambda _: self._pool._release())
        return await asyncio.wrap_future(future)

    def release(self) -> None:
        """Give the place back if `hash` never took it (idempotent)."""
        if self._held:
            self._held = False
            self._pool._release()


def _context() -> ForkServerContext:
    """Workers fork from a server that has already imported the hashing code."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class _Worker:
    """One worker process and the pipe to it; restarted after it dies."""

    def __init__(self, limits: DecodeConfig) -> None:
        self.limits = limits
        self.process: BaseProcess | None = None
        self.pipe: Connection | None = None

    def run(self, data: bytes, dihedral: bool, preview: int = 0) -> Decoded:
        """Hash one upload in this worker, within its limits."""
        process, pipe = self._ready()
        try:
            pipe.send((dihedral, preview))
            pipe.send_bytes(data)
            answered = pipe.poll(self.limits.timeout_seconds)
        except (OSError, EOFError):
            raise self._died(process) from None
        if not answered:
            self.stop()
            raise MediaTooLargeError(
                f"hashing the upload took over {self.limits.timeout_seconds:g} s: "
                "the file is too long or too complex to hash here; send a shorter "
                "or smaller file, or raise [decode] timeout_seconds"
            )
        try:
            kind, value, retire = pipe.recv()
        except (OSError, EOFError):
            raise self._died(process) from None
        if retire:
            self.stop()
        if kind == "ok":
            assert isinstance(value, Decoded)
            return value
        if kind == "error":
            assert isinstance(value, MediaError)
            raise value
        raise RuntimeError(f"the decode worker failed with {value}")

    def stop(self) -> None:
        """Kill the process (if any); the next upload starts a new one."""
        process, pipe = self.process, self.pipe
        self.process = self.pipe = None
        if pipe is not None:
            pipe.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)

    def _ready(self) -> tuple[BaseProcess, Connection]:
        if self.process is not None and self.pipe is not None:
            if self.process.is_alive():
                return self.process, self.pipe
            self.stop()
        context = _context()
        mine, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(theirs, self.limits), name="reclaim-decode"
        )
        process.daemon = True
        process.start()
        theirs.close()
        self.process, self.pipe = process, mine
        return process, mine

    def _died(self, process: BaseProcess) -> MediaError:
        """Why the worker ended in the middle of an upload, as the error to send."""
        process.join(5)
        code = process.exitcode
        self.stop()
        logger.warning("a decode worker ended during an upload (exit code %s)", code)
        if code == -signal.SIGXCPU:
            return MediaTooLargeError(
                f"hashing the upload used over {self.limits.cpu_seconds:g} s of "
                "CPU: the file is too long or too complex to hash here; send a "
                "shorter or smaller file, or raise [decode] cpu_seconds"
            )
        if code == -signal.SIGKILL:
            return MediaTooLargeError(
                "the decode worker was killed while hashing the upload (out of "
                "memory): send a smaller file, or give the matcher more memory"
            )
        return UnreadableMediaError(
            "the decoder crashed on this upload: the file is corrupt or hostile "
            "and cannot be hashed"
        )


def _serve(pipe: Connection, limits: DecodeConfig) -> None:
    """A worker's life: set its limits, then hash uploads until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the matcher handles Ctrl-C
    with memory_ceiling(limits.memory_mb * 2**20) as start:
        if start is None:  # not Linux: the wall-time limit still holds
            logger.warning("cannot read a decode worker's memory: no limit set")
        while _serve_one(pipe, limits, start):
            pass


def _serve_one(pipe: Connection, limits: DecodeConfig, start: int | None) -> bool:
    """Hash one upload from the pipe; False when the worker should end."""
    try:
        dihedral, preview = pipe.recv()
        data = pipe.recv_bytes()
    except (EOFError, OSError):
        return False
    except MemoryError:
        pipe.send(("error", _out_of_memory(limits), True))
        return False
    _limit_cpu(limits.cpu_seconds)
    retire = False
    answer: tuple[str, object]
    try:
        hashes = hash_upload(data, dihedral=dihedral, limits=limits)
        # Only after hashing: the pixel budget has been checked by then.
        shown = make_preview(data, max_side=preview) if preview > 0 else None
        answer = ("ok", Decoded(hashes, shown))
    except MediaTooLargeError as error:
        # Often a failed allocation: the heap may be left fragmented.
        answer, retire = ("error", error), True
    except MediaError as error:
        answer = ("error", error)
    except MemoryError:
        # The heap may be in a poor state after this: start afresh.
        answer, retire = ("error", _out_of_memory(limits)), True
    except Exception as error:  # noqa: BLE001 - reported, never raised here
        answer, retire = ("bug", type(error).__name__), True
    del data
    # Memory the allocator kept from a large job counts against the next.
    held = data_bytes()
    if start is not None and held is not None:
        retire = retire or held - start > limits.memory_mb * 2**20 // 2
    try:
        pipe.send((*answer, retire))
    except (OSError, MemoryError):
        return False
    return not retire


def make_preview(data: bytes, *, max_side: int) -> bytes | None:
    """A JPEG of an image at most `max_side` pixels on its longer side, with
    no metadata; None for videos and anything that fails. Runs in a worker,
    after `hash_upload` has checked the image against the pixel budget."""
    if not looks_like_image(data):
        return None  # videos: no preview
    from PIL import Image, ImageOps

    try:
        with truncated_images(), Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (max_side, max_side))  # JPEG: decode smaller
            shown = ImageOps.exif_transpose(image).convert("RGB")
            shown.thumbnail((max_side, max_side))
            out = io.BytesIO()
            shown.save(out, "JPEG", quality=PREVIEW_QUALITY)
            return out.getvalue()
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - a preview is optional; the hashes stand
        return None


def _out_of_memory(limits: DecodeConfig) -> MediaTooLargeError:
    return MediaTooLargeError(
        f"hashing the upload needs more than the {limits.memory_mb} MB a decode "
        "worker may use: send a smaller file, or raise [decode] memory_mb"
    )


def _limit_cpu(seconds: float) -> None:
    """Allow `seconds` more of CPU time (all threads) from now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

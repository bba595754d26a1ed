"""Catalog backfill speed and memory: one process against Ray Data on 2 CPUs.

Run with `make bench` (or `python bench/catalog_backfill.py [--files 480]`).
It writes (once, cached) a tree of real image files: Meta's PDQ conformance
images and reclaim's samples as they are, and scikit-image photographs
(upscaled with sensor-like noise, `photos.py`) cropped, resized and encoded
at varied sizes (640 px to 12 MP) as JPEG, PNG and WebP, plus a few text,
truncated and corrupt files. Every image is decoded for real.

Then it backfills the tree into fresh catalogs, in child processes so each
one's peak memory is its own:

* one process (`address=None`): the reference rate;
* Ray Data on this machine with 2 CPUs (`ray.init(num_cpus=2)` first).

Each child first backfills a few files untimed (imports, and on Ray the
workers and Ray Data's own actors: seconds that a job of hours pays once);
that start is reported, not timed.

Each mode runs `--repeats` times; the median wall time gives files/s, end
to end (Ray Data's plan and actors' start included: about 2 s a run, which
a job of hours pays once); the ratio is Ray's rate over the single
process's (goal: at least 1.8 on 2 cores). On a shared machine other
processes take some of the 2 cores, so it also gives the CPU time per
file of each mode, every process counted (on Ray: driver, raylet, GCS,
Ray Data's actors, workers), and the ratio that 2 free cores give a
CPU-bound job: 2 x single CPU/file over Ray's.
Peak RSS is reported for the driver and the largest Ray worker.
The catalogs must be identical, shard for shard, item for item. Exits
non-zero if they are not.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from photos import photo_file  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "catalog_backfill"
SHARED = HERE.parent.parent / "shared" / "conformance" / "pdq" / "pdq" / "data"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "cat")
#: Long side of the re-encoded photos, in pixels (12 MP is 4000 x 3000).
SIDES = (640, 1024, 1600, 1920, 2560, 4000)
FORMATS = (
    ("jpg", {"quality": 85}),
    ("jpg", {"quality": 95}),
    ("png", {}),
    ("webp", {"quality": 80}),
)
CPUS = 2
GOAL = 1.8


def corpus(files: int) -> Path:
    """Write (once) `files` media files; return their root."""
    root = CACHE / f"media-{files}"
    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    count = 0
    for path in sorted(SHARED.rglob("*")) if SHARED.exists() else []:
        if path.suffix.lower() in (".jpg", ".jpeg", ".png") and count < files // 8:
            target = root / "conformance" / path.relative_to(SHARED)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
    for path in sorted((HERE.parent / "samples").iterdir()):
        shutil.copyfile(path, root / path.name)
        count += 1
    rng = np.random.default_rng(20261205)
    sources = {
        name: Image.open(photo_file(name, (4000, 3000), "png")) for name in PHOTOS
    }
    number = 0
    while count < files:
        name = PHOTOS[number % len(PHOTOS)]
        side = SIDES[(number // len(PHOTOS)) % len(SIDES)]
        ext, options = FORMATS[(number // (len(PHOTOS) * len(SIDES))) % len(FORMATS)]
        photo = sources[name]
        # A different crop each time: every file is its own picture and bytes.
        left, top = (int(v) for v in rng.integers(0, 400, size=2))
        crop = photo.crop((left, top, left + 3600, top + 2600))
        size = (side, round(side * 2600 / 3600))
        folder = root / "photos" / f"{number % 17:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        crop.resize(size, Image.Resampling.BILINEAR).save(
            folder / f"{number:05d}.{ext}", **options
        )
        number += 1
        count += 1
    # The odd files a real store holds: text, cut-short and corrupt images.
    odd = root / "odd"
    odd.mkdir()
    (odd / "readme.txt").write_text("not media\n")
    some = sorted((root / "photos").rglob("*.jpg"))[:2]
    (odd / "truncated.jpg").write_bytes(some[0].read_bytes()[:20_000])
    (odd / "corrupt.jpg").write_bytes(some[1].read_bytes()[:4] + b"\x00" * 5000)
    done.touch()
    return root


def child(
    mode: str, source: str, catalog_base: str, repeats: int, batch_files: int
) -> None:
    """Run the backfill `repeats` times in this process; print JSON stats."""
    from reclaim.catalog.backfill import backfill

    address = None
    began = time.perf_counter()
    if mode == "ray":
        import logging

        import ray
        import ray.data  # noqa: F401

        ray.init(
            address="local",
            num_cpus=CPUS,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        address = "local"
    # Warm up on a few files, untimed: imports in every worker, and Ray Data's
    # own actors, which a job of hours would start once too.
    with tempfile.TemporaryDirectory() as warm:
        for path in sorted(Path(source).rglob("*.jpg"))[: 2 * CPUS]:
            shutil.copyfile(path, Path(warm) / path.name)
        backfill(warm, f"{warm}/catalog", address=address, batch_files=1)
    start_s = time.perf_counter() - began
    runs = []
    for repeat in range(repeats):
        catalog = f"{catalog_base}-{repeat}"
        cpu = TreeCpu(os.getpid())
        stats = backfill(
            source,
            catalog,
            job="bench",
            address=address,
            batch_files=batch_files,
            shard_files=256,
            on_progress=functools.partial(_tick, cpu),
        )
        used = cpu.sample()
        runs.append(
            {
                "seconds": stats.seconds,
                "cpu_s": used,
                "files": stats.files,
                "items": stats.items,
                "bad": stats.bad,
                "shards": stats.shards,
                "peak_rss": stats.peak_rss,
                "worker_peak_rss": stats.worker_peak_rss,
                "catalog": catalog,
            }
        )
    print(json.dumps({"start_s": start_s, "runs": runs}))


def _tick(cpu: TreeCpu, progress: Any) -> None:
    cpu.sample()


class TreeCpu:
    """CPU seconds used by a process and all its descendants since made (Linux).

    On Ray that is the driver, raylet, GCS, Ray Data's actors and workers.
    Sampled after every batch, so processes that end before the run does
    (Ray Data's actors) still count up to their last sample.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.start = self._read()
        self.last = dict(self.start)

    def sample(self) -> float:
        """Sample now; the CPU seconds used so far."""
        self.last.update(self._read())
        return sum(used - self.start.get(pid, 0.0) for pid, used in self.last.items())

    def _read(self) -> dict[int, float]:
        tick = os.sysconf("SC_CLK_TCK")
        parents: dict[int, int] = {}
        used: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    raw = stat.read()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
        found, stack = {}, [self.root]
        while stack:
            pid = stack.pop()
            found[pid] = used.get(pid, 0.0)
            stack.extend(child for child, parent in parents.items() if parent == pid)
        return found


def same_catalogs(one: str, other: str) -> bool:
    from reclaim.catalog.items import from_table
    from reclaim.catalog.store import CatalogStore

    a, b = CatalogStore(one), CatalogStore(other)
    if a.shards() != b.shards():
        return False
    return all(from_table(a.read(s)) == from_table(b.read(s)) for s in a.shards())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=480)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-files", type=int, default=16)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, source, base, repeats = args.child
        child(mode, source, base, int(repeats), args.batch_files)
        return 0

    source = corpus(args.files)
    megabytes = sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 1e6
    for path in source.rglob("*"):
        if path.is_file():
            path.read_bytes()  # warm the page cache: both modes read from memory
    print(
        f"catalog backfill: {args.files} files ({megabytes:.0f} MB) under {source}; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
        f"median of {args.repeats}"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="reclaim-backfill-") as scratch:
        for mode in ("single", "ray"):
            command = [
                sys.executable,
                __file__,
                "--batch-files",
                str(args.batch_files),
                "--child",
                mode,
                str(source),
                f"{scratch}/{mode}",
                str(args.repeats),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-4000:], file=sys.stderr)
                return 1
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        identical = all(
            same_catalogs(results["single"]["runs"][0]["catalog"], run["catalog"])
            for mode in ("single", "ray")
            for run in results[mode]["runs"]
        )
    rates, cpu = {}, {}
    print(
        f"{'mode':<22}{'files/s':>9}{'median s':>10}{'CPU s/file':>12}"
        f"{'driver RSS':>12}{'worker RSS':>12}"
    )
    for mode, label in (("single", "one process"), ("ray", f"Ray Data, {CPUS} CPUs")):
        runs = results[mode]["runs"]
        seconds = statistics.median(r["seconds"] for r in runs)
        rates[mode] = runs[0]["files"] / seconds
        cpu[mode] = statistics.median(r["cpu_s"] for r in runs) / runs[0]["files"]
        worker = max(r["worker_peak_rss"] for r in runs)
        print(
            f"{label:<22}{rates[mode]:>9.1f}{seconds:>10.2f}"
            f"{cpu[mode] * 1000:>9.1f} ms"
            f"{max(r['peak_rss'] for r in runs) / 2**20:>8.0f} MiB"
            f"{(f'{worker / 2**20:.0f} MiB' if worker else '-'):>12}"
        )
    first = results["single"]["runs"][0]
    print(
        f"start and warm-up (not timed): one process "
        f"{results['single']['start_s']:.1f} s, Ray {results['ray']['start_s']:.1f} s; "
        f"{first['items']} items, {first['bad']} bad files, {first['shards']} shards"
    )
    ratio = rates["ray"] / rates["single"]
    # What 2 free cores give when the job is CPU-bound: the single process's
    # CPU per file over Ray's (every Ray process counted), times the cores.
    capacity = CPUS * cpu["single"] / cpu["ray"]
    print(
        f"ratio Ray/single: {ratio:.2f}x end to end, "
        f"{capacity:.2f}x by CPU time "
        f"(goal >= {GOAL}x on {CPUS} cores: "
        f"{'met' if ratio >= GOAL else 'NOT met'}; load average "
        f"{os.getloadavg()[0]:.2f} from other processes); "
        f"catalogs identical: {identical}"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())

"""A worker that dies (decoder crash, OOM kill) does not sink the batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from reclaim.cli.batch import run_isolated
from reclaim.hashing.files import FileHashes
from tests.cli.crashing_job import crash_on_marked_files


def test_crashing_file_is_reported_and_the_rest_hashed(
    photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    files = []
    for name in ("astronaut", "coffee", "rocket"):
        path = tmp_path / f"{name}.png"
        Image.fromarray(photos[name][:128, :128]).save(path)
        files.append(path)
    crash = tmp_path / "crash.png"
    crash.write_bytes(files[0].read_bytes())
    files.insert(1, crash)
    results: list[FileHashes] = []
    run_isolated(files, crash_on_marked_files, workers=2, on_result=results.append)
    by_name = {Path(r.path).name: r for r in results}
    assert sorted(by_name) == sorted(p.name for p in files)
    assert "decoder crashed" in (by_name["crash.png"].error or "")
    for path in files:
        if path != crash:
            assert by_name[path.name].ok and by_name[path.name].pdq is not None

"""`reclaim hash`: the real Typer app, its output formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reclaim.cli.main import app
from reclaim.hashing import pdq_hash, pdq_hash_dihedral


@pytest.fixture
def folder(photos: dict[str, np.ndarray], tmp_path: Path) -> Path:
    root = tmp_path / "phone"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(photos["astronaut"]).save(root / "a.jpg", quality=90)
    Image.fromarray(photos["coffee"]).save(root / "sub" / "b.png")
    Image.fromarray(photos["chelsea"]).save(root / "sub" / "c.webp")
    return root


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_folder_to_jsonl_in_parallel(folder: Path) -> None:
    code, out, err = _run("hash", str(folder), "--format", "jsonl", "--workers", "2")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["a.jpg", "b.png", "c.webp"]
    for row in rows:
        assert row["pdq"] == pdq_hash(row["path"]).hex
        assert row["quality"] == 100 and row["fit_to_submit"] is True
        assert len(row["md5"]) == 32 and len(row["sha256"]) == 64
        assert row["error"] is None


def test_bad_files_do_not_stop_the_batch(folder: Path, tmp_path: Path) -> None:
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("hello")
    good = (folder / "a.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 3])
    strip = np.zeros((1, 100_000, 3), np.uint8)
    strip[0, ::2] = 255
    Image.fromarray(strip).save(folder / "strip.png")
    missing = tmp_path / "missing.jpg"
    code, out, err = _run("hash", str(folder), str(missing), "-f", "jsonl", "-j", "2")
    assert code == 2
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert rows["a.jpg"]["pdq"] and rows["b.png"]["pdq"] and rows["c.webp"]["pdq"]
    assert "empty" in rows["empty.jpg"]["error"]
    assert "not a readable image" in rows["notes.txt"]["error"]
    assert "truncated or corrupt" in rows["cut.jpg"]["error"]
    assert "at least 5 pixels" in rows["strip.png"]["error"]
    assert "no such file" in rows["missing.jpg"]["error"]
    lines = err.strip().splitlines()
    for name in ("empty.jpg", "notes.txt", "cut.jpg", "strip.png", "missing.jpg"):
        assert sum(name in line for line in lines) == 1, name
    assert lines[-1] == "reclaim: 5 of 8 files could not be hashed"


def test_csv_with_dihedral(folder: Path) -> None:
    code, out, _ = _run("hash", str(folder / "a.jpg"), "-f", "csv", "--dihedral")
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    variants = pdq_hash_dihedral(folder / "a.jpg")
    assert row["pdq"] == variants[0].hex
    assert row["pdq_rotate90"] == variants[1].hex
    assert row["pdq_flip_minus1"] == variants[7].hex
    assert row["fit_to_submit"] == "True"


def test_table_for_people(folder: Path) -> None:
    code, out, _ = _run("hash", str(folder / "sub"), "-f", "table", "--exact")
    assert code == 0
    assert pdq_hash(folder / "sub" / "b.png").hex in out
    assert "quality 100, fit to submit" in out


def test_unfit_hash_is_marked(tmp_path: Path) -> None:
    y, x = np.mgrid[0:300, 0:300]
    smooth = (x * y * 255 // (299 * 299)).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "smooth.png")
    code, out, _ = _run("hash", str(tmp_path / "smooth.png"), "-f", "jsonl")
    assert code == 0
    row = json.loads(out)
    assert row["fit_to_submit"] is False and "below 50" in row["unfit_reason"]


def test_usage_errors_exit_2() -> None:
    code, _, _ = _run("hash")
    assert code == 2
    code, _, _ = _run("hash", "x", "--format", "xml")
    assert code == 2


def test_version() -> None:
    code, out, _ = _run("--version")
    assert code == 0 and out.startswith("reclaim ")


def test_hidden_files_in_folders_are_skipped(folder: Path) -> None:
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".git").mkdir()
    (folder / ".git" / "x.jpg").write_bytes(b"junk")
    code, out, _ = _run("hash", str(folder), "-f", "jsonl", "-j", "1")
    assert code == 0
    assert len(out.splitlines()) == 3
    code, _, err = _run("hash", str(folder / ".DS_Store"), "-f", "jsonl")
    assert code == 2 and "not a readable image" in err


def test_videos_get_md5_and_vpdq(photos: dict[str, np.ndarray], tmp_path: Path) -> None:
    from tests.conftest import write_video

    video = write_video(
        tmp_path / "clip.mp4", photos["astronaut"][:240, :320], frames=25
    )
    code, out, err = _run("hash", str(video), "-f", "jsonl")
    assert code == 0, err
    row = json.loads(out)
    assert row["pdq"] is None and len(row["md5"]) == 32
    assert row["vpdq_frames"] == 3  # frames 0, 10, 20 at 10 fps, one a second
    lines = row["vpdq"].strip().splitlines()
    assert [line.split(",")[0] for line in lines] == ["0", "10", "20"]

"""`reclaim hash`: the real Typer app, its output formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
import resource
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reclaim.cli.main import app
from reclaim.cli.memory import affordable_workers
from reclaim.hashing import pdq_hash, pdq_hash_dihedral
from reclaim.hashing.files import NO_MEMORY
from tests.bombs import png_bomb, png_header_only, png_stripes


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


def _gif_with_a_huge_screen() -> bytes:
    """An 8x8 GIF whose header claims a 65535x65535 logical screen."""
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A 16x16 JPEG whose frame header claims `width` x `height`."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "JPEG")
    data = buffer.getvalue()
    at = data.find(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def test_decompression_bombs_get_one_clear_error_each(tmp_path: Path) -> None:
    bombs = {
        "wide.png": png_header_only(20_000, 20_000),
        "screen.gif": _gif_with_a_huge_screen(),
        "huge.jpg": _jpeg_claiming(65_000, 65_000),
        "tall.png": png_header_only(10_001, 10_000),
    }
    for name, data in bombs.items():
        (tmp_path / name).write_bytes(data)
    code, out, err = _run("hash", str(tmp_path), "-f", "jsonl", "-j", "2")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == len(bombs) + 1 and "4 of 4 files" in lines[-1]
    for line in lines[:-1]:
        assert "over the 100 MP limit: refused before decoding" in line
    assert all(json.loads(row)["error"] for row in out.splitlines())


def test_a_file_past_the_memory_ceiling_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real ceiling is about 1.25 GB a process: lowered here to 64 MB,
    # under what this 30 MP bomb (90 KB on disk) takes to decode.
    monkeypatch.setattr("reclaim.cli.hash.PROCESS_BYTES", 64 * 2**20)
    (tmp_path / "bomb.png").write_bytes(png_bomb(6000, 5000))
    before = resource.getrlimit(resource.RLIMIT_DATA)
    code, _, err = _run("hash", str(tmp_path / "bomb.png"), "-f", "jsonl")
    assert code == 2
    assert (
        err.strip()
        .splitlines()[0]
        .endswith(
            "bomb.png: not enough memory to decode a 6000x5000 image: shrink it "
            "first, or allow the decoder more memory"
        )
    )
    assert resource.getrlimit(resource.RLIMIT_DATA) == before  # put back


def test_workers_fit_in_memory() -> None:
    assert affordable_workers(16, memory=4 * 2**30) == 2
    assert affordable_workers(3, memory=64 * 2**30) == 3
    assert affordable_workers(8, memory=2**20) == 1


def test_whatever_the_memory_ceiling_a_bomb_never_crashes_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 MP of diagonal stripes (350 KB): PDQ's exact pass on it takes float64
    # planes after decoding, so some ceilings run out there, not in the decoder.
    (tmp_path / "stripes.png").write_bytes(png_stripes(6000, 5000))
    seen = set()
    for megabytes in range(130, 260, 24):
        monkeypatch.setattr("reclaim.cli.hash.PROCESS_BYTES", megabytes * 2**20)
        code, _, err = _run("hash", str(tmp_path / "stripes.png"), "-f", "jsonl")
        assert code in (0, 2), (megabytes, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 2 and "not enough memory" in lines[0]
            seen.add(lines[0].split(": ", 1)[1])
    assert NO_MEMORY in seen or any("to decode a 6000x5000" in s for s in seen)

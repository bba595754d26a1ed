"""Videos in `reclaim hash` and `reclaim submit`: progress bars, compact hashes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from reclaim.api.app import create_app
from reclaim.cli.batch import hash_video, hash_with_progress
from reclaim.cli.cases import _submittable
from reclaim.cli.main import app
from reclaim.config import Settings
from reclaim.hashing import VpdqHash
from reclaim.hashing.files import FileHashes
from tests.conftest import live_server, write_video


@pytest.fixture
def video(photos: dict[str, np.ndarray], tmp_path: Path) -> Path:
    return write_video(
        tmp_path / "clip.mp4", photos["astronaut"][:240, :320], frames=25
    )


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_hash_output_is_clean_without_a_terminal(video: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mov"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    code, out, err = run("hash", str(video), str(broken), "-f", "jsonl")
    assert code == 2
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["vpdq_frames"] == 3 and rows[1]["error"]
    # No bar, no escape codes: one line per bad file, then the count.
    assert err.splitlines() == [
        f"reclaim: {broken}: {rows[1]['error']}",
        "reclaim: 1 of 2 files could not be hashed",
    ]
    assert "\x1b" not in err


def test_each_video_gets_a_progress_bar_on_a_terminal(video: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    results: list[FileHashes] = []
    hash_with_progress(
        [video, video],
        dihedral=False,
        exact=False,
        workers=1,
        console=console,
        on_result=results.append,
    )
    assert [len(r.video.frames) for r in results if r.video] == [3, 3]
    shown = screen.getvalue()
    assert "video 1/2" in shown and "video 2/2" in shown and "files" in shown


def test_progress_reaches_the_end(video: Path) -> None:
    shares: list[float] = []
    result = hash_video(video, on_progress=shares.append)
    assert result.ok and shares == sorted(shares) and 0.7 <= shares[-1] <= 1.0


def test_submit_sends_compact_vpdq(video: Path) -> None:
    items = _submittable(hash_video(video), 0)
    assert [item["type"] for item in items] == ["md5", "vpdq"]
    compact = items[1]["value"]
    assert compact.startswith("vpdq1:")
    text = VpdqHash.parse(compact).to_text()
    assert len(compact) < 0.65 * len(text)


def test_submit_a_video_to_a_registry(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, video: Path
) -> None:
    monkeypatch.setenv("RECLAIM_DATABASE_URL", settings.database_url)
    assert run("db", "upgrade")[0] == 0
    with live_server(create_app(settings)) as url:
        code, out, err = run(
            "submit", str(video), "--program", "adult", "--registry", url
        )
        assert code == 0, err
        assert "1 files (2 hashes) submitted" in out  # MD5 and vPDQ: one item
        number = re.search(r"case number\s+(\S+)", out).group(1)  # type: ignore[union-attr]
        pin = re.search(r"PIN\s+([0-9A-Z-]{19})", out).group(1)  # type: ignore[union-attr]
        code, out, _ = run("status", number, "--pin", pin, "--registry", url)
        assert code == 0 and "video" in out and "active" in out

"""The operator's and the person's registry commands, with real servers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reclaim.api.app import create_app
from reclaim.cli.main import app
from reclaim.config import Settings
from reclaim.registry import schema
from tests.conftest import live_server


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "RECLAIM_DATABASE_URL": settings.database_url,
        "RECLAIM_CASE_RATE": "1000/hour",
        "RECLAIM_PIN_RATE": "1000/hour",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_platforms_are_named_on_the_page_only_with_consent(
    env: dict[str, str],
) -> None:
    assert run("db", "upgrade")[0] == 0
    code, out, _ = run("platforms", "add", "quiet", "--programs", "adult")
    assert code == 0 and "listed on the person's page" not in out
    code, out, _ = run("platforms", "add", "loud", "--named")
    assert code == 0 and "listed on the person's page as: loud" in out
    code, out, _ = run("platforms", "add", "pv", "--public-name", "Photo Vault")
    assert code == 0 and "as: Photo Vault" in out
    code, out, _ = run("platforms", "name", "quiet", "--public-name", "Quiet App")
    assert code == 0 and "as: Quiet App" in out
    code, out, _ = run("platforms", "unname", "loud")
    assert code == 0 and "no longer listed" in out
    out = run("platforms", "list")[1]
    assert "Photo Vault" in out and "Quiet App" in out and "(not named)" in out
    code, _, err = run("platforms", "name", "nobody")
    assert code == 2 and "no platform is named" in err
    code, _, err = run("platforms", "name", "quiet", "--public-name", "bad\x07")
    assert code == 2 and "is not a public name" in err


def test_operator_commands(env: dict[str, str]) -> None:
    code, out, _ = run("db", "upgrade")
    assert code == 0 and f"revision {schema.head_revision()}" in out
    assert run("db", "upgrade")[1].startswith("database already at revision")
    code, out, _ = run(
        "platforms", "add", "Example Social", "--programs", "minor,adult"
    )
    assert code == 0
    key = out.strip().splitlines()[-1]
    assert re.fullmatch(r"rk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key)
    code, out, _ = run("platforms", "list")
    assert "Example Social" in out and "adult,minor" in out and key not in out
    code, out, _ = run("platforms", "rotate", "Example Social")
    assert code == 0 and out.strip().splitlines()[-1] != key
    assert run("platforms", "revoke", "Example Social")[0] == 0
    assert "revoked" in run("platforms", "list")[1]
    code, _, err = run("platforms", "add", "Example Social")
    assert code == 2 and err.startswith("reclaim: a platform named")
    code, _, err = run("platforms", "rotate", "Nobody")
    assert code == 2 and "no platform is named" in err
    code, out, _ = run("audit", "--json", "--limit", "10")
    actions = [json.loads(line)["action"] for line in out.splitlines()]
    assert {"platform_added", "key_issued", "key_revoked", "platform_revoked"} <= set(
        actions
    )
    assert key not in out


def test_serve_refuses_an_unmigrated_database(env: dict[str, str]) -> None:
    code, _, err = run("serve")
    assert code == 2 and "run `reclaim db upgrade` first" in err


def test_bad_settings_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECLAIM_CASE_RATE", "lots")
    code, _, err = run("platforms", "list")
    assert code == 2 and "RECLAIM_CASE_RATE='lots' is not valid" in err
    monkeypatch.delenv("RECLAIM_CASE_RATE")
    monkeypatch.setenv("RECLAIM_PORTT", "1")
    code, _, err = run("platforms", "list")
    assert code == 2 and "unknown setting RECLAIM_PORTT" in err


def test_submit_status_withdraw(
    env: dict[str, str],
    settings: Settings,
    photos: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    assert run("db", "upgrade")[0] == 0
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(photos[name]).save(folder / f"{name}.jpg")
    (folder / "notes.txt").write_text("not an image")
    with live_server(create_app(settings)) as url:
        code, out, err = run(
            "submit", str(folder), "--program", "adult", "--registry", url
        )
        assert code == 0, err
        assert "skipped" in err and "notes.txt" in err
        number = re.search(r"case number\s+(\S+)", out).group(1)  # type: ignore[union-attr]
        pin = re.search(r"PIN\s+([0-9A-Z-]{19})", out).group(1)  # type: ignore[union-attr]
        # Two pictures, each with its derived views (crops, small turns).
        sent = int(re.search(r"2 files \((\d+) hashes\) submitted", out).group(1))  # type: ignore[union-attr]
        assert sent > 2
        code, out, _ = run("status", number, "--pin", pin, "--registry", url)
        rows = [line for line in out.splitlines() if " image " in line]
        assert code == 0 and len(rows) == 2 and all("active" in r for r in rows)
        code, out, _ = run(
            "submit",
            str(folder),
            "--program",
            "adult",
            "--registry",
            url,
            "--no-expand",
        )
        assert code == 0 and "2 files (2 hashes) submitted" in out
        code, _, err = run("status", number, "--pin", "WRONG", "--registry", url)
        assert code == 2 and "no case matches" in err
        code, out, _ = run("withdraw", number, "--registry", url, input=f"{pin}\nn\n")
        assert code == 0
        code, out, _ = run("withdraw", number, "--pin", pin, "--yes", "--registry", url)
        assert code == 0 and "withdrawn" in out
    code, _, err = run("status", number, "--pin", pin, "--registry", url)
    assert code == 3 and "cannot reach the registry" in err


def test_requests_are_packed_by_count_and_bytes_never_splitting_a_file() -> None:
    from reclaim.cli.cases import CHUNK, REQUEST_BYTES, _requests

    def hashes(item: int, count: int, size: int) -> list[dict[str, object]]:
        return [{"type": "pdq", "value": "x" * size, "item": item}] * count

    pictures = [hashes(i, 44, 64) for i in range(30)]  # 1,320 hashes
    packed = _requests(pictures)
    assert [len(r) for r in packed] == [484, 484, 352]
    assert all(len(r) <= CHUNK for r in packed)
    homes = [
        {n for n, r in enumerate(packed) if picture[0] in r} for picture in pictures
    ]
    assert all(len(home) == 1 for home in homes)  # each picture in one request
    videos = [hashes(0, 1, 1_000_000), hashes(1, 1, 1_000_000), hashes(2, 2, 64)]
    packed = _requests(videos)
    assert [[h["item"] for h in r] for r in packed] == [[0], [1, 2, 2]]
    alone = _requests([hashes(0, 2, REQUEST_BYTES)])
    assert len(alone) == 1 and len(alone[0]) == 2  # one file is never split

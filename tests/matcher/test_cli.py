"""`reclaim matcher sync|match|review` run as the real Typer app."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import httpx
import numpy as np
from typer.testing import CliRunner

from reclaim.cli.main import app
from reclaim.hashing import pdq_hash, pdq_hash_dihedral, query_hashes, submission_hashes
from reclaim.index import robust_match
from tests.conftest import encode, live_server
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.test_done import altered_copy


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_config(path: Path, registry_url: str, key: str, store: Path) -> Path:
    path.write_text(
        f'[source]\nurl = "{registry_url}"\napi_key = "{key}"\n'
        f'[store]\nurl = "sqlite:///{store}"\n'
    )
    return path


def test_sync_match_and_review(
    tmp_path: Path,
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    registry_url: str,
    platform_key: str,
) -> None:
    original = pdq_hash(encode(photos["chelsea"], "JPEG", quality=95))
    case = submit(person, pdq_item(original.hex, original.quality or 0))
    config = write_config(
        tmp_path / "matcher.toml", registry_url, platform_key, tmp_path / "m.db"
    )
    code, out, _ = run("matcher", "sync", "-c", str(config))
    assert code == 0, out
    assert "1 hashes listed" in out and "sync ok" in out

    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "copy.jpg").write_bytes(altered_copy(photos["chelsea"]))
    (folder / "other.png").write_bytes(encode(photos["coffee"], "PNG"))
    (folder / "broken.jpg").write_bytes(b"not an image")
    found = tmp_path / "matches.jsonl"
    code, _, err = run(
        "matcher", "match", str(folder), "-c", str(config), "-o", str(found), "-j", "1"
    )
    assert code == 2  # one file could not be hashed
    assert "1 of 3 files match the list" in err and "broken.jpg" in err
    rows = [json.loads(line) for line in found.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["path"].endswith("copy.jpg")
    assert rows[0]["type"] == "pdq" and rows[0]["distance"] <= 31

    # A local scan queues nothing; serve-side matches do (see test_service).
    code, out, _ = run("matcher", "review", "list", "-c", str(config))
    assert code == 0 and "no pending matches" in out

    from reclaim.matcher.config import MatcherConfig
    from reclaim.matcher.service import MatcherService, Query

    service = MatcherService(MatcherConfig.load(config))
    try:
        service.match([Query(pdq=(original,), reference="post-17")])
    finally:
        service.close()
    code, out, _ = run("matcher", "review", "list", "-c", str(config))
    assert code == 0 and "post-17" in out and "pending" in out
    code, out, _ = run("matcher", "review", "show", "1", "-c", str(config))
    assert code == 0 and json.loads(out)["state"] == "pending"
    code, out, _ = run("matcher", "review", "decide", "1", "blocked", "-c", str(config))
    assert code == 0 and "blocked; feedback sent" in out, out
    code, _, err = run("matcher", "review", "decide", "1", "blocked", "-c", str(config))
    assert code == 2 and "already blocked" in err
    status = person.post(
        f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    ).json()["case"]
    assert status["hashes"][0]["platforms_removed"] == 1


def edited_copies(photos: dict[str, np.ndarray]) -> dict[str, bytes]:
    """Copies of chelsea as a platform might get them, and an unrelated photo."""
    photo = photos["chelsea"]
    height, width = photo.shape[:2]
    captioned = photo.copy()
    captioned[height - height // 6 :] = 0
    copies = {
        "crop.jpg": photo[:, width // 10 :],  # 10% off the left
        "caption.jpg": captioned,
        "corner.jpg": photo[height * 12 // 100 :, width * 12 // 100 :],
        "other.jpg": photos["coffee"],
    }
    return {
        name: encode(np.ascontiguousarray(a), "JPEG", quality=90)
        for name, a in copies.items()
    }


def test_the_cli_matches_an_edited_copy_exactly_when_http_does(
    tmp_path: Path,
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    registry_url: str,
    platform_key: str,
) -> None:
    from reclaim.cli.matcher import _scan_file, _Scanned
    from reclaim.matcher.app import create_app
    from reclaim.matcher.config import MatcherConfig
    from reclaim.matcher.service import MatcherService

    listed = submission_hashes(encode(photos["chelsea"], "JPEG", quality=95))
    submit(person, *(pdq_item(h.hex, h.quality or 0) for h in listed))
    config = write_config(
        tmp_path / "matcher.toml", registry_url, platform_key, tmp_path / "m.db"
    )
    assert run("matcher", "sync", "-c", str(config))[0] == 0
    folder = tmp_path / "uploads"
    folder.mkdir()
    copies = edited_copies(photos)
    for name, data in copies.items():
        (folder / name).write_bytes(data)
    found = tmp_path / "matches.jsonl"
    code, _, err = run(
        "matcher", "match", str(folder), "-c", str(config), "-o", str(found), "-j", "1"
    )
    assert code == 0, err
    by_cli: dict[str, int] = {}
    for line in found.read_text().splitlines():
        row = json.loads(line)
        name = Path(row["path"]).name
        by_cli[name] = min(row["distance"], by_cli.get(name, 256))

    def closest(matches: list[dict[str, object]]) -> int | None:
        distances = [int(str(m["distance"])) for m in matches]
        return min(distances) if distances else None

    service = MatcherService(MatcherConfig.load(config))
    headers = {"Authorization": f"Bearer {platform_key}"}
    try:
        with (
            live_server(create_app(service)) as url,
            httpx.Client(base_url=url, timeout=60) as matcher,
        ):
            for name, data in copies.items():
                media = matcher.post("/v1/match/media", content=data).json()
                upload = query_hashes(data)
                asked = [{"type": "pdq", "value": h.hex} for h in upload]
                registry = person.post(
                    "/api/v1/platform/match", json={"hashes": asked}, headers=headers
                ).json()
                by_registry = closest(
                    [m for r in registry["results"] for m in r["matches"]]
                )
                rule = robust_match(upload, listed)
                # One rule, one query side: the CLI, the matcher's HTTP API and
                # the registry's match endpoint agree with `robust_match`.
                assert by_cli.get(name) == closest(media["matches"]) == rule, name
                assert by_registry == rule, name
    finally:
        service.close()
    assert {"crop.jpg", "caption.jpg"} <= set(by_cli) and "other.jpg" not in by_cli
    # The 8 rotations and mirrors alone, all the CLI used to look up, miss the
    # crop and the captioned copy.
    for name in ("crop.jpg", "caption.jpg"):
        assert robust_match(pdq_hash_dihedral(copies[name]), listed) is None
    # What a worker process sends back survives pickling.
    scanned = _scan_file(str(folder / "crop.jpg"), dihedral=True)
    assert isinstance(scanned, _Scanned) and scanned.media is not None
    assert pickle.loads(pickle.dumps(scanned)) == scanned


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = run("matcher", "sync", "-c", str(tmp_path / "missing.toml"))
    assert code == 2 and err.count("\n") == 1 and "cannot read" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[source]\nurl = "ftp://x"\napi_key = "k"\n')
    code, _, err = run("matcher", "sync", "-c", str(bad))
    assert code == 2 and "[source] url = 'ftp://x' is not valid" in err


def test_an_unreachable_registry_exits_3(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "m.toml", "http://127.0.0.1:9", "key", tmp_path / "m.db"
    )
    code, _, err = run("matcher", "sync", "-c", str(config))
    assert code == 3 and "could not be reached" in err


def test_serve_runs_the_api_and_syncs_in_the_background(
    tmp_path: Path, person: httpx.Client, registry_url: str, platform_key: str
) -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(
        tmp_path / "matcher.toml", registry_url, platform_key, tmp_path / "m.db"
    )
    with config.open("a") as extra:
        extra.write(f"[sync]\npoll_seconds = 0.2\n[serve]\nport = {port}\n")
    value = "f0" * 32
    submit(person, pdq_item(value))
    process = subprocess.Popen(
        [
            Path(sys.executable).parent / "reclaim",
            "matcher",
            "serve",
            "-c",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/status", timeout=1).json()
                # Synced, and the listed hash is in: on a loaded machine the
                # first poll can finish before the next brings it.
                if status["ok"] and status["list"]["size"] == 1:  # type: ignore[index]
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert status.get("ok") is True, status
        assert status["list"]["size"] == 1  # type: ignore[index]
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    assert "reclaim matcher on http://127.0.0.1" in err
    assert value not in err  # no hashes in the logs

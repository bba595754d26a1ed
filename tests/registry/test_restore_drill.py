"""The restore drill of docs/deploy.md, run for real on both databases.

Cases and a feed are made through the HTTP API; the database is backed up
while the registry runs (SQLite's online backup through the `sqlite3` shell;
`pg_dump`), restored into a fresh database (a file copy; `pg_restore`), and
its feed head moved past every cursor handed out since the backup. The
restored registry must then answer every case's PIN as before, serve the same
feed, and let a platform follow on from its cursor with nothing lost or
repeated, including a platform whose cursor had passed the backup.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from reclaim.api.app import create_app
from reclaim.config import Settings
from reclaim.registry.service import Registry
from tests.conftest import (
    PG_ADMIN,
    generous_settings,
    migrated_registry,
    random_pdq,
    run_async,
)

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
RNG = np.random.default_rng(909)


# ---- the registry's normal operations, over HTTP ---------------------------


def ask(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request to the app in process."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry.test"
        ) as client:
            return await client.request(method, url, **kwargs)

    return run_async(go)


def open_case(app: FastAPI, hashes: int = 2) -> tuple[str, str]:
    """A new adult case's number and PIN."""
    body = {
        "program": "adult",
        "hashes": [
            {"type": "pdq", "value": random_pdq(RNG), "quality": 100}
            for _ in range(hashes)
        ],
    }
    created = ask(app, "POST", "/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    return created.json()["case_number"], created.json()["pin"]


def case_status(app: FastAPI, number: str, pin: str) -> httpx.Response:
    return ask(app, "POST", f"/api/v1/cases/{number}/status", json={"pin": pin})


def follow(app: FastAPI, key: str, cursor: int, *, limit: int = 500) -> list[Any]:
    """Every feed record after `cursor`, page by page, as a platform reads."""
    records: list[Any] = []
    while True:
        page = ask(
            app,
            "GET",
            f"/api/v1/platform/changes?cursor={cursor}&limit={limit}",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert page.status_code == 200, page.text
        body = page.json()
        records += body["records"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return records


def last_cursor(app: FastAPI, key: str, cursor: int) -> int:
    """Where a platform that read everything after `cursor` stands."""
    page = ask(
        app,
        "GET",
        f"/api/v1/platform/changes?cursor={cursor}&limit=10000",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert page["has_more"] is False
    cursor_now: int = page["cursor"]
    return cursor_now


def identity(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["type"], record["value"], record["status"]


# ---- the doc's commands -------------------------------------------------------


def doc_block(name: str) -> str:
    """The fenced block that follows `<!-- drill:NAME -->` in docs/deploy.md."""
    text = DEPLOY.read_text()
    found = re.search(
        rf"<!-- drill:{name} -->\s*```[a-z]*\n(.*?)```", text, flags=re.DOTALL
    )
    assert found, f"docs/deploy.md has no block marked <!-- drill:{name} -->"
    return found.group(1)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"`{name}` is not installed (the drill runs the doc's commands)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def run_shell(script: str, **env: str) -> None:
    """Run a block of the doc with bash, its $VARIABLES set."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"


def libpq_url(url: str) -> str:
    """postgresql+psycopg://... -> postgresql://... (for pg_dump and psql)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def backed_up_and_restored(url: str, work: Path) -> Iterator[tuple[str, Any]]:
    """Yields a function that backs `url` up, and the restored URL it fills."""
    if url.startswith("sqlite"):
        tool("sqlite3")
        live = url.removeprefix("sqlite:///")
        backup = work / "reclaim-backup.db"
        restored = work / "restored" / "reclaim.db"
        restored.parent.mkdir()

        def back_up() -> None:
            run_shell(doc_block("sqlite-backup"), DB=live, BACKUP=str(backup))

        def restore() -> None:
            run_shell(doc_block("sqlite-restore"), DB=str(restored), BACKUP=str(backup))
            run_shell(doc_block("sqlite-feed-head"), DB=str(restored))

        yield f"sqlite:///{restored}", (back_up, restore)
        return

    tool("pg_dump"), tool("pg_restore"), tool("psql")
    dump = work / "reclaim.dump"
    name = f"reclaim_restored_{uuid.uuid4().hex[:12]}"
    restored_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def pg_back_up() -> None:
        run_shell(doc_block("pg-backup"), DATABASE_URL=libpq_url(url), DUMP=str(dump))

    def pg_restore() -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        target = libpq_url(restored_url)
        run_shell(doc_block("pg-restore"), RESTORED_URL=target, DUMP=str(dump))
        run_shell(doc_block("pg-feed-head"), DATABASE_URL=target)

    try:
        yield restored_url, (pg_back_up, pg_restore)
    finally:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- the drill -----------------------------------------------------------------


def test_restore_drill(settings: Settings, registry: Registry, tmp_path: Path) -> None:
    key = registry.add_platform("Example Social", ["minor", "adult"])[1]
    app = create_app(settings, registry)
    cases = [open_case(app) for _ in range(3)]
    withdrawn = ask(
        app, "POST", f"/api/v1/cases/{cases[2][0]}/withdraw", json={"pin": cases[2][1]}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    # A platform part-way through the feed when the backup is made.
    first = ask(
        app,
        "GET",
        "/api/v1/platform/changes?limit=3",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    behind = first["cursor"]
    statuses = {n: case_status(app, n, pin).json() for n, pin in cases}
    feed = follow(app, key, 0)

    with backed_up_and_restored(settings.database_url, tmp_path) as (url, steps):
        back_up, restore = steps
        back_up()
        # After the backup: a case the restore loses, which another platform
        # (or this one) has already read: its cursor is past the backup.
        lost_case = open_case(app, hashes=1)
        ahead = last_cursor(app, key, 0)
        restore()

        restored_settings = generous_settings(url)
        with migrated_registry(restored_settings) as again:
            restored = create_app(restored_settings, again)
            # Every PIN answers as before; a wrong one is refused.
            for number, pin in cases:
                answer = case_status(restored, number, pin)
                assert answer.status_code == 200, answer.text
                assert answer.json() == statuses[number]
            wrong = case_status(restored, cases[0][0], "0" * len(cases[0][1]))
            assert wrong.status_code in (403, 404), wrong.text
            # What came after the backup is gone.
            assert case_status(restored, *lost_case).status_code in (403, 404)
            # The same feed, and a follower goes on from its cursor.
            assert [identity(r) for r in follow(restored, key, 0)] == [
                identity(r) for r in feed
            ]
            rest = follow(restored, key, behind)
            assert [identity(r) for r in first["records"] + rest] == [
                identity(r) for r in feed
            ]
            # A new change reaches both followers, the one whose cursor had
            # passed the backup's feed head included.
            new_number, new_pin = open_case(restored, hashes=1)
            assert case_status(restored, new_number, new_pin).status_code == 200
            new = follow(restored, key, ahead)
            assert len(new) == 1 and new[0]["status"] == "active"
            assert [identity(r) for r in follow(restored, key, behind)] == [
                identity(r) for r in rest + new
            ]
            assert identity(new[0]) not in {identity(r) for r in feed}

"""`reclaim serve`'s start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reclaim.cli.main import app


@pytest.mark.parametrize(
    ("workers", "redis", "warned"),
    [(2, False, True), (1, False, False), (2, True, False)],
)
def test_several_workers_without_redis_warn(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    redis: bool,
    warned: bool,
) -> None:
    """The warning comes first; the unmigrated database then stops `serve`
    before any server starts."""
    monkeypatch.setenv("RECLAIM_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    if redis:
        monkeypatch.setenv("RECLAIM_REDIS_URL", "redis://127.0.0.1:6379/15")
    result = CliRunner().invoke(app, ["serve", "--workers", str(workers)])
    assert result.exit_code == 2, result.output
    assert ("each keeps its own rate limits" in result.stderr) is warned
    if warned:
        assert f"up to {workers} times every limit" in result.stderr

"""`reclaim submit` over a connection that loses the registry's answer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from reclaim.api.app import create_app
from reclaim.cli.main import app
from reclaim.config import Settings
from reclaim.registry.models import Case
from reclaim.registry.service import Registry
from tests.conftest import live_server
from tests.dropping_proxy import dropping_proxy


@pytest.fixture
def pictures(photos: dict[str, np.ndarray], tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(photos[name]).save(folder / f"{name}.jpg")
    return folder


def cases(registry: Registry) -> int:
    with registry.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_submit_retries_a_lost_answer_and_gets_its_case(
    registry: Registry, settings: Settings, pictures: Path
) -> None:
    """The registry commits the case, the answer is lost: `submit` tries
    again with the same Idempotency-Key and shows that case, not a second."""
    with (
        live_server(create_app(settings, registry)) as url,
        dropping_proxy(url, prefix=b"POST /api/v1/cases ") as proxy,
    ):
        result = CliRunner().invoke(
            app,
            [
                "submit",
                str(pictures),
                "--program",
                "adult",
                "--registry",
                f"http://127.0.0.1:{proxy.port}",
            ],
        )
        assert result.exit_code == 0, result.stderr
        assert proxy.dropped == 1
    number = re.search(r"case number\s+(\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    pin = re.search(r"PIN\s+([0-9A-Z-]{19})", result.stdout).group(1)  # type: ignore[union-attr]
    assert cases(registry) == 1
    assert len(registry.case_status(number, pin).items) == 2


def test_withdraw_whose_answer_was_lost_reports_the_withdrawn_case(
    registry: Registry, settings: Settings
) -> None:
    new = registry.create_case(
        "adult", [{"type": "md5", "value": "cd" * 16}], idempotency_key=None
    )
    with (
        live_server(create_app(settings, registry)) as url,
        dropping_proxy(url, prefix=b"POST /api/v1/cases/") as proxy,
    ):
        result = CliRunner().invoke(
            app,
            [
                "withdraw",
                new.number,
                "--pin",
                new.pin,
                "--yes",
                "--registry",
                f"http://127.0.0.1:{proxy.port}",
            ],
        )
        assert proxy.dropped == 1
    assert result.exit_code == 0, result.stderr
    assert "withdrawn" in result.stdout
    assert registry.case_status(new.number, new.pin).status == "withdrawn"

"""`reclaim matcher backfill`: the real command, its output and exit codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from reclaim.catalog.backfill import job_name
from reclaim.catalog.items import from_table
from reclaim.catalog.store import CatalogStore
from reclaim.cli import catalog as catalog_cli
from tests.catalog.media import media_tree

# As `reclaim matcher` registers it.
app = typer.Typer()
app.command("backfill")(catalog_cli.backfill)


@app.command("other")
def _other() -> None:
    """A second command, so that `backfill` stays a subcommand as in the app."""


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["backfill", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def media(tmp_path: Path, photos: dict[str, np.ndarray]) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "media"
    return root, media_tree(root, photos)


def _config(tmp_path: Path, catalog: Path) -> Path:
    path = tmp_path / "matcher.toml"
    path.write_text(
        '[source]\nurl = "http://127.0.0.1:9"\napi_key = "k"\n'
        f'[catalog]\npath = "{catalog}"\n',
        encoding="utf-8",
    )
    return path


def test_backfill_into_the_configured_catalog(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    source, kinds = media
    config = _config(tmp_path, tmp_path / "catalog")
    code, out, err = _run(str(source), "--config", str(config), "--batch-files", "3")
    assert code == 0, err
    bad = [r for r, kind in kinds.items() if kind in ("bad", "corrupt")]
    items = len([k for k in kinds.values() if k != "bad"])
    job = job_name(str(source))
    assert f"backfill {job}: {len(kinds)} files, {items} items, {len(bad)} bad" in out
    # One line per bad file on stderr, naming it.
    lines = [line for line in err.splitlines() if ": " in line]
    assert sorted(line.split(": ", 1)[0] for line in lines) == sorted(bad)
    store = CatalogStore(str(tmp_path / "catalog"))
    assert sum(len(from_table(store.read(s))) for s in store.shards()) == items

    # Run again: the job is done, nothing is hashed twice.
    code, out, _ = _run(str(source), "--config", str(config))
    assert code == 0 and "this run hashed 0 files" in out


def test_a_catalog_option_needs_no_config(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    source, _ = media
    code, out, err = _run(
        str(source), "--catalog", str(tmp_path / "c"), "--reference", "name"
    )
    assert code == 0, err
    assert "items" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/media"], "the media source '/no/such/media' does not exist"),
        (["--reference", "url"], "'url' is not a reference mode"),
        (["--job", "Not Ok"], "'Not Ok' is not a usable job name"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    media: tuple[Path, dict[str, str]], tmp_path: Path, args: list[str], message: str
) -> None:
    source, _ = media
    if args[0].startswith("--"):
        args = [str(source), *args]
    code, _, err = _run(*args, "--catalog", str(tmp_path / "c"))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"reclaim: {message}")


def test_a_missing_config_is_a_user_error(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    source, _ = media
    code, _, err = _run(str(source), "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "cannot read the matcher config" in err

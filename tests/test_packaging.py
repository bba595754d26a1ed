"""The package as published: each extra installed into a clean venv imports
what it promises.

The project's wheel is built once per session (from a copy of the sources, so
the working tree gets no build/ folder); then, per extra, `python -m venv` and
`pip install 'reclaim-*.whl[extra]'` from PyPI through pip's cache, and a script
that imports and runs that extra's public surface. About 12-17 s per extra
with a warm pip cache (75 s for all five on one core; `make test` spreads them
over its workers). A failed install fails the test; nothing here skips.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What each install promises, as a script its venv's Python runs.
PROMISES: dict[str, str] = {
    # `pip install reclaim`: hashing on a person's device, images and videos,
    # the matching index, and nothing of the server.
    "": """
        import importlib.util
        import numpy as np
        import reclaim.hashing, reclaim.index
        from reclaim.hashing import pdq_hash, video_hash
        picture = np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)
        assert len(pdq_hash(picture).hex) == 64
        for heavy in ("fastapi", "sqlalchemy", "faiss", "threatexchange"):
            assert importlib.util.find_spec(heavy) is None, heavy
    """,
    # The registry: migrate a SQLite database, then `reclaim serve` the API,
    # the page and the browser libraries it carries.
    "server": """
        import os, socket, subprocess, sys, time
        from pathlib import Path
        import httpx
        from reclaim.api.app import create_app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = "sqlite:///" + str(Path("registry.db").resolve())
        env = dict(os.environ, RECLAIM_DATABASE_URL=url, RECLAIM_PORT=str(port))
        reclaim = str(Path(sys.executable).with_name("reclaim"))
        subprocess.run([reclaim, "db", "upgrade"], env=env, check=True)
        server = subprocess.Popen([reclaim, "serve"], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(base + "/healthz").raise_for_status()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "reclaim serve did not start"
                    time.sleep(0.2)
            for path in ("/", "/static/vendor/hash-wasm.mjs", "/docs"):
                answer = httpx.get(base + path)
                assert answer.status_code == 200, (path, answer.status_code)
        finally:
            server.terminate()
            server.wait(30)
    """,
    # The platform matcher's service and CLI.
    "matcher": """
        import subprocess, sys
        from pathlib import Path
        from reclaim.matcher.app import create_app
        from reclaim.matcher.service import MatcherService
        reclaim = str(Path(sys.executable).with_name("reclaim"))
        subprocess.run([reclaim, "matcher", "serve", "--help"], check=True,
                       stdout=subprocess.DEVNULL)
    """,
    # Drop-in exchanges for HMA and pytx.
    "interop": """
        from reclaim.interop import (
            NCMECSignalExchangeAPI, StopNCIISignalExchangeAPI,
        )
    """,
    # The faiss backend of the index is the one in use.
    "faiss": """
        import reclaim.index.flat as flat
        assert flat.faiss is not None
    """,
}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once from a copy of its sources."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work, source])
    (built,) = work.glob("reclaim-*.whl")
    return built


@pytest.mark.parametrize("extra", list(PROMISES), ids=lambda e: e or "base")
def test_extra_installs_into_a_clean_venv(extra: str, wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    try:
        _run([sys.executable, "-m", "venv", venv])
        python = venv / "bin" / "python"
        requirement = f"{wheel}[{extra}]" if extra else str(wheel)
        _run([python, "-m", "pip", "install", "--quiet", requirement])
        # The console script of every install.
        _run([venv / "bin" / "reclaim", "--help"])
        script = tmp_path / "promise.py"
        script.write_text(textwrap.dedent(PROMISES[extra]))
        _run([python, script], cwd=tmp_path)
    finally:
        # 280-360 MB each: gone as soon as it has answered.
        shutil.rmtree(venv, ignore_errors=True)


def _run(command: list[object], *, cwd: Path | None = None) -> None:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} exited {done.returncode}:\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )

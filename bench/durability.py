"""kill -9 durability, the long run: more clients, more kills, both databases.

The same run as tests/registry/test_durability.py (tests/registry/durability.py
says what it checks), longer: by default 32 concurrent clients for 60 s with
10 kills per database. Prints, per database, the creations and withdrawals
acknowledged, how many were lost, the orphan cases, the answers given again
by Idempotency-Key, and whether the platform feed ended exactly at the live
set. Exits 1 if anything acknowledged was lost, any case was orphaned or the
feed was not exact.

    .venv/bin/python bench/durability.py [--clients 32] [--seconds 60] [--kills 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import postgres_database  # noqa: E402
from tests.registry.durability import Figures, Run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument(
        "--database", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument(
        "--no-keys",
        action="store_true",
        help="send no Idempotency-Key (as clients did before): orphans show up",
    )
    options = parser.parse_args()
    if options.clients < 1 or options.seconds <= 0 or options.kills < 0:
        parser.error("expected --clients >= 1, --seconds > 0 and --kills >= 0")
    chosen = (
        ["sqlite", "postgres"] if options.database == "both" else [options.database]
    )
    results: list[Figures] = []
    for name in chosen:
        run = {
            "clients": options.clients,
            "seconds": options.seconds,
            "kills": options.kills,
            "keys": not options.no_keys,
        }
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{folder}/durability.db"
                results.append(Run(url, name=name, **run).go())  # type: ignore[arg-type]
        else:
            with postgres_database() as url:
                results.append(Run(url, name=name, **run).go())  # type: ignore[arg-type]
        print(results[-1].line(), flush=True)
        for problem in results[-1].problems[:10]:
            print(f"  problem: {problem}", flush=True)
    bad = [
        f
        for f in results
        if f.lost or f.orphans or not f.feed_exact or f.problems or f.errors_5xx
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

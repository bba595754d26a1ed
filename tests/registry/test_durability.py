"""kill -9 under concurrent clients, on SQLite and PostgreSQL: nothing
acknowledged is lost, no orphan case, and the platform feed is exact."""

from __future__ import annotations

from tests.registry.durability import Run


def test_kill_9_loses_nothing_and_leaves_no_orphan(database_url: str) -> None:
    name = "postgres" if database_url.startswith("postgresql") else "sqlite"
    figures = Run(database_url, name=name, clients=8, seconds=12, kills=3).go()
    print(figures.line())
    assert figures.problems == []
    assert figures.kills == 3 and figures.acknowledged > 50
    assert figures.lost == 0 and figures.orphans == 0
    assert figures.errors_5xx == 0
    assert figures.feed_exact

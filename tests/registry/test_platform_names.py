"""Platforms named on the person's page only when they agreed (migration 0005)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from alembic import command
from sqlalchemy import text

from reclaim.api.app import create_app
from reclaim.registry import db, schema
from reclaim.registry.errors import InvalidRequestError, NotFoundError
from reclaim.registry.platforms import NamedPlatform, parse_public_name
from reclaim.registry.service import Registry
from tests.conftest import live_server


def test_platforms_that_existed_before_0005_stay_unnamed(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        config = schema._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO platforms (id, name, programs, created_at) "
                    "VALUES (1, 'Old Social', 'adult', :t)"
                ),
                {"t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
        assert schema.upgrade(engine) == ("0004", "0005")
        with engine.connect() as connection:
            shown = connection.execute(text("SELECT public_name FROM platforms"))
            assert shown.scalar_one() is None
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        with engine.connect() as connection:
            names = connection.execute(text("SELECT name FROM platforms"))
            assert names.scalar_one() == "Old Social"
    finally:
        engine.dispose()


def test_only_platforms_that_agreed_are_named(registry: Registry) -> None:
    registry.add_platform("quiet", ["adult"])
    info, _ = registry.add_platform("loud", ["minor", "adult"], public_name="Loud  App")
    assert info.public_name == "Loud App"
    registry.add_platform("gone", ["adult"], public_name="Gone")
    registry.revoke_platform("gone")
    assert registry.named_platforms() == [NamedPlatform("Loud App", ("adult", "minor"))]
    registry.name_platform("quiet", "Quiet Video")
    assert [p.name for p in registry.named_platforms()] == ["Loud App", "Quiet Video"]
    registry.name_platform("loud", None)
    assert [p.name for p in registry.named_platforms()] == ["Quiet Video"]
    listed = {p.name: p.public_name for p in registry.list_platforms()}
    assert listed == {"gone": "Gone", "loud": None, "quiet": "Quiet Video"}
    named = registry.audit_log(action="platform_named")  # newest first
    assert [e.detail["public_name"] for e in named] == [
        None,
        "Quiet Video",
        "Gone",
        "Loud App",
    ]
    assert all(e.actor == "operator" for e in named)


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "x" * 101, "bell\x07"])
def test_a_public_name_must_be_fit_to_show(bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="is not a public name"):
        parse_public_name(bad)


def test_naming_an_unknown_platform_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="no platform is named"):
        registry.name_platform("nobody", "Nobody")


def test_the_page_lists_only_named_platforms(registry: Registry) -> None:
    registry.add_platform("hidden-platform", ["adult"])
    registry.add_platform("shown", ["minor"], public_name="Shown <b>Social</b>")
    with live_server(create_app(registry.settings, registry)) as url:
        page = httpx.get(f"{url}/?lang=en").text
        assert "Shown &lt;b&gt;Social&lt;/b&gt; (under-18 list)" in page
        assert "hidden-platform" not in page
        registry.name_platform("shown", None)
        after = httpx.get(f"{url}/?lang=en").text
    assert "Shown" not in after
    assert "No platform has agreed to be named here yet" in after

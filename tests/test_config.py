"""Settings: parsing, errors, and documentation of every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from reclaim.config import SETTINGS, Settings, SettingsError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_defaults_match_the_settings_table() -> None:
    assert Settings.from_env({}) == Settings()


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "RECLAIM_PORT": "9000",
            "RECLAIM_CASE_RATE": "5/minute",
            "RECLAIM_REDIS_URL": "redis://127.0.0.1:6379/0",
            "RECLAIM_TRUST_FORWARDED_FOR": "yes",
        }
    )
    assert settings.port == 9000 and settings.case_rate == (5, 60)
    assert settings.redis_url and settings.trust_forwarded_for


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RECLAIM_PORT", "-1"),
        ("RECLAIM_CASE_RATE", "5/fortnight"),
        ("RECLAIM_TRUST_FORWARDED_FOR", "maybe"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}={value!r} is not valid"):
        Settings.from_env({name: value})


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for setting in SETTINGS:
        variable = f"RECLAIM_{setting.name.upper()}"
        assert f"`{variable}`" in text, f"{variable} is not in docs/configuration.md"
        assert setting.help.split(".")[0][:40] in text.replace("\n", " ")

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
            "RECLAIM_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,fd00::/8",
        }
    )
    assert settings.port == 9000 and settings.case_rate == (5, 60)
    assert settings.redis_url
    assert [str(n) for n in settings.trusted_proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "fd00::/8",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RECLAIM_PORT", "-1"),
        ("RECLAIM_CASE_RATE", "5/fortnight"),
        ("RECLAIM_PRIVACY_NOTICE_URL", "//elsewhere.example/privacy"),
        ("RECLAIM_PRIVACY_NOTICE_URL", "http://example.org/privacy"),
        ("RECLAIM_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}={value!r} is not valid"):
        Settings.from_env({name: value})


def test_the_retired_forwarded_for_setting_stops_with_its_replacement() -> None:
    """It trusted the leftmost X-Forwarded-For entry, which the client writes."""
    with pytest.raises(SettingsError, match="RECLAIM_TRUSTED_PROXIES=127.0.0.1"):
        Settings.from_env({"RECLAIM_TRUST_FORWARDED_FOR": "true"})
    assert Settings.from_env({"RECLAIM_TRUST_FORWARDED_FOR": "false"}) == Settings()


def test_a_short_metrics_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RECLAIM_METRICS_TOKEN": "hunter2"})
    assert "RECLAIM_METRICS_TOKEN=<7 characters> is not valid" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    token = "t" * 32
    settings = Settings.from_env({"RECLAIM_METRICS_TOKEN": token})
    assert settings.metrics_token == token and token not in repr(settings)


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for setting in SETTINGS:
        variable = f"RECLAIM_{setting.name.upper()}"
        assert f"`{variable}`" in text, f"{variable} is not in docs/configuration.md"
        assert setting.help.split(".")[0][:40] in text.replace("\n", " ")

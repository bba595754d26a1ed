"""The matcher's TOML config: defaults, validation, errors that say what to fix."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from reclaim.matcher.config import DECODE_HELP, DecodeConfig, MatcherConfig
from reclaim.matcher.errors import ConfigError

MINIMAL = {"source": {"url": "http://registry.example", "api_key": "rk_secret_value"}}


def config(**sections: dict[str, Any]) -> MatcherConfig:
    data: dict[str, dict[str, Any]] = {"source": dict(MINIMAL["source"])}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return MatcherConfig.from_mapping(data)


def test_defaults() -> None:
    loaded = config()
    assert loaded.radius == 31 and loaded.dihedral is True
    assert loaded.store_url.startswith("sqlite:///")
    assert loaded.policy.auto_action_distance is None
    assert not loaded.policy.auto_action(0)
    assert not loaded.webhook.enabled
    assert "rk_secret_value" not in repr(loaded) + repr(loaded.source)


def test_a_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "matcher.toml"
    path.write_text(
        "[source]\n"
        'kind = "stopncii"\n'
        'url = "https://api.example/v1/"\n'
        'subscription_key = "s"\n'
        "[policy]\nauto_action_distance = 4\n"
        "[match]\nradius = 20\ndihedral = false\n"
        '[webhook]\nurl = "https://hooks.example"\nsecret = "0123456789abcdef"\n'
    )
    loaded = MatcherConfig.load(path)
    assert (
        loaded.source.kind == "stopncii"
        and loaded.source.url == "https://api.example/v1"
    )
    assert loaded.source.function_key == "s"
    assert loaded.policy.auto_action(4) and not loaded.policy.auto_action(5)
    assert loaded.radius == 20 and loaded.dihedral is False
    assert loaded.webhook.enabled


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"match": {"radius": 300}}, r"\[match\] radius = 300 is not valid"),
        ({"match": {"dihedral": "yes"}}, r"\[match\] dihedral = 'yes' is not valid"),
        ({"sync": {"poll_seconds": 0}}, r"poll_seconds = 0 is not valid"),
        ({"source": {"kind": "ftp"}}, r"kind = 'ftp' is not valid"),
        ({"source": {"api_key": ""}}, r"\[source\] api_key is missing"),
        ({"source": {"colour": "x"}}, r"colour is not a known key"),
        ({"paint": {}}, r"\[paint\] is not a matcher config section"),
        ({"webhook": {"url": "https://h", "secret": "short"}}, r"secret is missing"),
        ({"policy": {"auto_action_distance": -2}}, r"auto_action_distance = -2"),
    ],
)
def test_errors_name_the_key_and_the_fix(
    sections: dict[str, dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**sections)


def test_secrets_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as error:
        config(source={"api_key": 12345})
    assert "12345" not in str(error.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the matcher config"):
        MatcherConfig.load(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[source\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        MatcherConfig.load(bad)


SEVERAL = """
[[sources]]
name = "ncmec"
kind = "ncmec"
url = "https://report.cybertip.org/hashsharing/"
user = "esp-user"
password = "esp-password"
start = 2024-01-01T00:00:00Z

[[sources]]
name = "stopncii"
kind = "stopncii"
url = "https://api.stopncii.example/v1"
subscription_key = "s"

[[sources]]
name = "registry"
url = "https://registry.example"
api_key = "rk"
"""


def test_several_sources(tmp_path: Path) -> None:
    path = tmp_path / "matcher.toml"
    path.write_text(SEVERAL)
    loaded = MatcherConfig.load(path)
    assert [(s.name, s.kind) for s in loaded.sources] == [
        ("ncmec", "ncmec"),
        ("stopncii", "stopncii"),
        ("registry", "reclaim"),
    ]
    ncmec = loaded.sources[0]
    assert loaded.source is ncmec
    assert ncmec.url == "https://report.cybertip.org/hashsharing"
    assert (ncmec.user, ncmec.password, ncmec.start) == (
        "esp-user",
        "esp-password",
        1_704_067_200,
    )
    assert ncmec.program == "minor" and loaded.sources[1].program == "adult"
    assert ncmec.page_size == 0 and loaded.sources[1].page_size == 5000
    assert "esp-password" not in repr(loaded) + repr(ncmec)


def test_a_single_source_table_is_the_source_default() -> None:
    loaded = config()
    assert [s.name for s in loaded.sources] == ["default"]
    assert loaded.sources == (loaded.source,)


def several(*tables: dict[str, Any]) -> MatcherConfig:
    return MatcherConfig.from_mapping({"sources": list(tables)})


NCMEC = {"name": "n", "kind": "ncmec", "url": "https://n", "user": "u", "password": "p"}
REGISTRY = {"name": "r", "url": "https://r", "api_key": "k"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"source": MINIMAL["source"], "sources": [REGISTRY]},
            r"both \[source\] and \[\[sources\]\] are set",
        ),
        ({"sources": []}, r"expected one or more \[\[sources\]\] tables"),
        ({"sources": [REGISTRY, REGISTRY]}, r"name = 'r' is not valid: .*own name"),
        ({"sources": [{**REGISTRY, "name": "Big Name"}]}, r"name = 'Big Name'"),
        ({"sources": [{"url": "https://r", "api_key": "k"}]}, r"#1 name is missing"),
        ({"sources": [{**NCMEC, "password": ""}]}, r"#1 password is missing"),
        ({"sources": [{**NCMEC, "user": ""}]}, r"#1 user is missing"),
        ({"sources": [{**NCMEC, "start": "yesterday"}]}, r"start = 'yesterday'"),
        ({"sources": [{**NCMEC, "colour": 1}]}, r"\[\[sources\]\] #1 colour is not"),
    ],
)
def test_several_sources_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MatcherConfig.from_mapping(data)


def test_passwords_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as error:
        several({**NCMEC, "password": 98765})
    assert "98765" not in str(error.value)


def test_decode_limits() -> None:
    loaded = config(decode={"workers": 4, "queue": 0, "memory_mb": 256})
    assert (loaded.decode.workers, loaded.decode.queue) == (4, 0)
    assert loaded.decode.memory_mb == 256 and loaded.decode.max_pixels == 40_000_000
    with pytest.raises(ConfigError, match=r"\[decode\] workers = 0 is not valid"):
        config(decode={"workers": 0})
    with pytest.raises(ConfigError, match=r"max_pixels = 200000000 is not valid"):
        config(decode={"max_pixels": 200_000_000})  # over the decoder's own limit
    with pytest.raises(ConfigError, match=r"\[decode\] threads is not a known key"):
        config(decode={"threads": 2})


def test_every_decode_key_is_documented_with_its_default() -> None:
    text = (Path(__file__).parents[2] / "docs" / "matcher.md").read_text()
    defaults = DecodeConfig()
    for key, help_text in DECODE_HELP.items():
        default = getattr(defaults, key)
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert f"| `{key}` | {shown} | {help_text} |" in text, key


def test_trusted_proxies_are_addresses_or_networks() -> None:
    base = {"source": {"url": "https://registry.example", "api_key": "k"}}
    assert MatcherConfig.from_mapping(base).trusted_proxies == ("127.0.0.1",)
    given = {**base, "serve": {"trusted_proxies": ["10.0.0.0/8", "::1"]}}
    assert MatcherConfig.from_mapping(given).trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(
        ConfigError, match=r"trusted_proxies = \['proxy'\] is not valid"
    ):
        MatcherConfig.from_mapping({**base, "serve": {"trusted_proxies": ["proxy"]}})


def test_a_network_with_host_bits_is_refused_as_uvicorn_would_never_match_it() -> None:
    base = {"source": {"url": "https://registry.example", "api_key": "k"}}
    with pytest.raises(ConfigError, match="no host bits set"):
        MatcherConfig.from_mapping(
            {**base, "serve": {"trusted_proxies": ["10.0.0.1/8"]}}
        )


def test_a_token_of_the_wrong_type_is_not_echoed() -> None:
    base = {"source": {"url": "https://registry.example", "api_key": "k"}}
    with pytest.raises(ConfigError, match="<secret>") as refused:
        MatcherConfig.from_mapping({**base, "serve": {"token": 12345678901234567}})
    assert "12345678901234567" not in str(refused.value)


def test_arrays_of_tables_given_as_one_table_are_refused_by_their_reader() -> None:
    base = {"source": {"url": "https://registry.example", "api_key": "k"}}
    with pytest.raises(ConfigError, match=r"expected one or more \[\[alerts\]\]"):
        MatcherConfig.from_mapping({**base, "alerts": {"name": "a"}})
    source = base["source"]
    with pytest.raises(ConfigError, match=r"expected one or more \[\[sources\]\]"):
        MatcherConfig.from_mapping({"sources": {"name": "a", **source}})


def test_the_desks_documented_config_loads() -> None:
    text = (Path(__file__).parents[2] / "docs" / "desk.md").read_text()
    section = text[text.index("## Configuration") :]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    source = '[source]\nurl = "https://registry.example"\napi_key = "k"\n'
    loaded = MatcherConfig.from_mapping(tomllib.loads(source + block))
    assert loaded.desk.undo_seconds == 30 and loaded.removals.max_per_hour == 200
    assert loaded.alerts[0].name == "adult-spike"
    assert loaded.dsa.territorial_scope == ("DE", "FR", "NL")

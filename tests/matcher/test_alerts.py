"""reclaim.matcher.alerts: the spike rule and its [[alerts]] config."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reclaim.matcher.alerts import SpikeRule, evaluate, parse_rules
from reclaim.matcher.errors import ConfigError, MatcherError

RULE = SpikeRule(name="adult-spike", factor=3.0, min_matches=10, program="adult")


def test_fires_on_a_jump_with_an_operator_message() -> None:
    spike = evaluate(RULE, window_count=57, baseline_counts=[5, 6, 7, 6, 6, 40])
    assert spike is not None
    assert spike.rule == "adult-spike"
    assert spike.window_count == 57
    assert spike.baseline == 6.0  # the median: last week's 40 does not count
    assert spike.factor == pytest.approx(9.5)
    assert spike.message == (
        "matches in program adult jumped to 57 in 60 min, 9.5× the 7-day "
        "baseline of 6.0"
    )


def test_the_factor_is_the_threshold() -> None:
    baseline = [20] * 168
    assert evaluate(RULE, window_count=59, baseline_counts=baseline) is None
    assert evaluate(RULE, window_count=60, baseline_counts=baseline) is not None


def test_a_steady_rate_does_not_fire() -> None:
    baseline = [30, 25, 35, 28, 32] * 30
    for count in (25, 30, 45, 89):
        assert evaluate(RULE, window_count=count, baseline_counts=baseline) is None


def test_nothing_under_min_matches_fires() -> None:
    # 9 is 9× a baseline of 1, but under the 10 matches the rule asks for.
    assert evaluate(RULE, window_count=9, baseline_counts=[1] * 168) is None
    assert evaluate(RULE, window_count=10, baseline_counts=[1] * 168) is not None


@pytest.mark.parametrize("baseline", [[0] * 168, [], [0, 0, 0, 5]])
def test_a_zero_baseline_is_floored_at_one(baseline: list[int]) -> None:
    rule = SpikeRule(name="quiet", factor=20.0, min_matches=5, source="ncmec")
    assert evaluate(rule, window_count=19, baseline_counts=baseline) is None
    spike = evaluate(rule, window_count=20, baseline_counts=baseline)
    assert spike is not None
    assert spike.baseline == 0.0 and spike.factor == 20.0
    assert spike.message == (
        "matches from source ncmec jumped to 20 in 60 min; the 7-day baseline is 0.0"
    )


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        evaluate(RULE, window_count=5, baseline_counts=[1, -1])


def test_baseline_windows() -> None:
    assert RULE.baseline_windows == 168
    assert (
        SpikeRule(name="x", window_minutes=15, baseline_days=1).baseline_windows == 96
    )


@given(
    count=st.integers(min_value=0, max_value=10_000),
    extra=st.integers(min_value=0, max_value=10_000),
    baseline=st.lists(st.integers(min_value=0, max_value=5_000), max_size=50),
    factor=st.floats(min_value=1.01, max_value=100),
    min_matches=st.integers(min_value=1, max_value=500),
)
def test_more_matches_never_turn_a_firing_rule_off(
    count: int, extra: int, baseline: list[int], factor: float, min_matches: int
) -> None:
    rule = SpikeRule(name="p", factor=factor, min_matches=min_matches)
    before = evaluate(rule, window_count=count, baseline_counts=baseline)
    after = evaluate(rule, window_count=count + extra, baseline_counts=baseline)
    if before is not None:
        assert after is not None and after.factor >= before.factor
    # The order of the baseline windows does not matter.
    shuffled = evaluate(rule, window_count=count, baseline_counts=baseline[::-1])
    assert (shuffled is None) == (before is None)


def test_parse_rules_reads_tables_with_defaults() -> None:
    rules = parse_rules(
        [
            {"name": "all"},
            {
                "name": "adult",
                "window_minutes": 15,
                "baseline_days": 14,
                "factor": 4,
                "min_matches": 3,
                "program": "adult",
                "source": "ncmec",
            },
        ],
        origin="matcher.toml",
    )
    assert rules == (
        SpikeRule(name="all"),
        SpikeRule(
            name="adult",
            window_minutes=15,
            baseline_days=14,
            factor=4,
            min_matches=3,
            program="adult",
            source="ncmec",
        ),
    )
    assert parse_rules([]) == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"name": "a", "factor": 0},
            "#2 factor = 0 is not valid: expected a number above 1",
        ),
        ({"name": "a", "factor": 1}, "#2 factor = 1 is not valid"),
        (
            {"name": "a", "factor": "3"},
            "#2 factor = '3' is not valid: expected a number",
        ),
        ({"name": "a", "factor": float("nan")}, "#2 factor = nan is not valid"),
        (
            {"name": "a", "window_minutes": 0},
            "window_minutes = 0 is not valid: expected a whole number from 1 to 1440",
        ),
        ({"name": "a", "window_minutes": 1.5}, "window_minutes = 1.5 is not valid"),
        (
            {"name": "a", "baseline_days": 91},
            "baseline_days = 91 is not valid: expected a whole number from 1 to 90",
        ),
        ({"name": "a", "min_matches": True}, "min_matches = True is not valid"),
        ({"name": "a", "min_matches": 0}, "min_matches = 0 is not valid"),
        (
            {"name": "a", "program": ""},
            "program = '' is not valid: expected a program name",
        ),
        ({"name": "a", "source": 3}, "source = 3 is not valid: expected a source name"),
        ({"name": " "}, "name = ' ' is not valid: expected a short label"),
        ({"factor": 3}, "#2 has no name: expected a short label"),
        (
            {"name": "a", "treshold": 3},
            "#2 treshold is not a known key: expected one of baseline_days, factor",
        ),
        (
            {"name": "first"},
            "#2 name = 'first' is not valid: expected a name no other rule has",
        ),
    ],
)
def test_bad_config_values_name_the_key_and_the_fix(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules([{"name": "first"}, table], origin="matcher.toml")
    text = str(caught.value)
    assert text.startswith("matcher.toml: [[alerts]] #2 ")
    assert message in text
    assert re.search(
        r"; (fix the config file|check the spelling|add name|give each)", text
    )
    assert isinstance(caught.value, MatcherError)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"name": "a"}, "alerts is not valid: expected one or more [[alerts]] tables"),
        (["a"], "alerts #1 is not a table: expected an [[alerts]] table"),
    ],
)
def test_the_alerts_array_must_hold_tables(tables: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_rules(tables, origin="matcher.toml")


def test_a_rule_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match="factor = 0.5"):
        SpikeRule(name="x", factor=0.5)

"""Spike alerts: a rule that fires when matches jump far above their baseline.

The rule, written so an operator can check it by hand:

    baseline = the median of the match counts in the baseline windows
               (the same-length windows over the last `baseline_days`)
    fire when  window_count >= min_matches
          and  window_count >= factor * max(baseline, 1)

Why the median and not the mean: one earlier spike (an upload wave last
Tuesday) pulls a mean up for a whole week and hides the next wave, while the
median stays at "a typical hour". It needs no tuning beyond `factor`, and it
reads plainly in a message ("the 7-day baseline of 6.0"). A median plus a
MAD-based bound would adapt to noisy programs, but would add a second knob
that is hard to explain; `min_matches` already keeps quiet programs quiet.

The floor of 1 keeps a baseline of 0 (a quiet program, a new install with no
history) from making every match a spike: then the window must reach both
`min_matches` and `factor` matches.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reclaim.matcher.errors import ConfigError

logger = logging.getLogger(__name__)

#: The keys of one `[[alerts]]` table and their defaults (None: required).
DEFAULTS: Mapping[str, object] = {
    "name": None,
    "window_minutes": 60,
    "baseline_days": 7,
    "factor": 3.0,
    "min_matches": 10,
    "program": None,
    "source": None,
}
_MAX_WINDOW_MINUTES = 24 * 60
_MAX_BASELINE_DAYS = 90


@dataclass(frozen=True, slots=True)
class SpikeRule:
    """Fire when a window's matches reach `min_matches` and `factor` times the
    baseline; only matches in `program` and from `source` when they are set."""

    name: str
    window_minutes: int = 60
    baseline_days: int = 7
    factor: float = 3.0
    min_matches: int = 10
    program: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        for key in DEFAULTS:
            problem = _problem(key, getattr(self, key))
            if problem:
                raise ValueError(f"SpikeRule {key} = {getattr(self, key)!r}: {problem}")

    @property
    def baseline_windows(self) -> int:
        """How many windows of `window_minutes` the baseline period holds: the
        counts `evaluate` expects in `baseline_counts`."""
        return self.baseline_days * 24 * 60 // self.window_minutes


@dataclass(frozen=True, slots=True)
class Spike:
    """A rule that fired: what it saw, and a line to send to the webhook."""

    rule: str
    window_count: int
    baseline: float
    factor: float
    message: str


def evaluate(
    rule: SpikeRule, *, window_count: int, baseline_counts: Sequence[int]
) -> Spike | None:
    """The spike, if `window_count` breaks the rule (see the module docstring).

    `baseline_counts` are the counts of the same-length windows over the
    baseline period (`rule.baseline_windows` of them); with none, the baseline
    is 0. `Spike.factor` is the count over the floored baseline, max(baseline, 1).
    """
    if window_count < 0 or any(count < 0 for count in baseline_counts):
        raise ValueError(
            f"rule {rule.name!r}: a negative match count is not valid: expected "
            "counts ≥ 0; count the matches again"
        )
    baseline = float(statistics.median(baseline_counts)) if baseline_counts else 0.0
    floored = max(baseline, 1.0)
    if window_count < rule.min_matches or window_count < rule.factor * floored:
        return None
    observed = window_count / floored
    logger.info(
        "alert %s fired: %d matches against a baseline of %.1f",
        rule.name,
        window_count,
        baseline,
    )
    return Spike(
        rule=rule.name,
        window_count=window_count,
        baseline=baseline,
        factor=observed,
        message=_message(rule, window_count, baseline, observed),
    )


def parse_rules(tables: object, *, origin: str = "config") -> tuple[SpikeRule, ...]:
    """The rules of a config file's `[[alerts]]` array (the parsed TOML value).

    Each table needs a `name` no other rule has; the other keys default as in
    `DEFAULTS`. Errors name the file, the table, the key, what was expected
    and how to fix it.
    """
    if not isinstance(tables, list):
        raise ConfigError(
            f"{origin}: alerts is not valid: expected one or more [[alerts]] "
            "tables; write each rule as an [[alerts]] table"
        )
    rules: list[SpikeRule] = []
    for number, table in enumerate(tables, start=1):
        title = f"[[alerts]] #{number}"
        if not isinstance(table, dict):
            raise ConfigError(
                f"{origin}: alerts #{number} is not a table: expected an "
                "[[alerts]] table; fix the config file"
            )
        for key in table:
            if key not in DEFAULTS:
                raise ConfigError(
                    f"{origin}: {title} {key} is not a known key: expected one of "
                    f"{', '.join(sorted(DEFAULTS))}; check the spelling"
                )
        if "name" not in table:
            raise ConfigError(
                f"{origin}: {title} has no name: expected a short label such as "
                "'adult-spike'; add name = \"...\" to the table"
            )
        values = {key: table.get(key, default) for key, default in DEFAULTS.items()}
        for key, value in values.items():
            problem = _problem(key, value)
            if problem:
                raise ConfigError(
                    f"{origin}: {title} {key} = {value!r} is not valid: {problem}; "
                    "fix the config file"
                )
        if any(rule.name == values["name"] for rule in rules):
            raise ConfigError(
                f"{origin}: {title} name = {values['name']!r} is not valid: "
                "expected a name no other rule has; give each [[alerts]] table "
                "its own name"
            )
        rules.append(SpikeRule(**values))  # every value was checked above
    return tuple(rules)


def _problem(key: str, value: object) -> str | None:
    """What is wrong with one setting of a rule (None: nothing), as
    "expected ..."."""
    if key in {"name", "program", "source"}:
        if value is None and key != "name":
            return None
        if not isinstance(value, str) or not value.strip():
            what = "a short label" if key == "name" else f"a {key} name"
            return f"expected {what} (text that is not empty)"
        return None
    if key == "factor":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "expected a number above 1, such as 3"
        if not 1 < value <= 1000:
            return "expected a number above 1 and at most 1000, such as 3"
        return None
    limits = {
        "window_minutes": (1, _MAX_WINDOW_MINUTES),
        "baseline_days": (1, _MAX_BASELINE_DAYS),
        "min_matches": (1, 1_000_000),
    }
    low, high = limits[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        return f"expected a whole number from {low} to {high}"
    return None


def _message(rule: SpikeRule, count: int, baseline: float, observed: float) -> str:
    """'matches in program adult from source ncmec jumped to 57 in 60 min, ...'."""
    scope = "matches"
    if rule.program is not None:
        scope += f" in program {rule.program}"
    if rule.source is not None:
        scope += f" from source {rule.source}"
    head = f"{scope} jumped to {count} in {rule.window_minutes} min"
    period = f"{rule.baseline_days}-day baseline"
    if baseline < 1:
        return f"{head}; the {period} is {baseline:.1f}"
    return f"{head}, {observed:.1f}× the {period} of {baseline:.1f}"

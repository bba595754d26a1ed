"""reclaim.matcher.desk.charts: well-formed, accessible, proportional SVG."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from reclaim.matcher.desk.charts import (
    NO_DATA,
    PALETTE,
    TEXT,
    Chart,
    ChartSpec,
    Series,
    bar_chart,
    format_number,
    line_chart,
    nice_ticks,
)

NS = "{http://www.w3.org/2000/svg}"
SPEC = ChartSpec(title="Matches per day", x_label="Day", y_label="Matches")
DAYS = ("05-01", "05-02", "05-03")
BY_SOURCE = [
    Series("ncmec", tuple(zip(DAYS, (12.0, 57.0, 3.0), strict=True))),
    Series("stopncii", tuple(zip(DAYS, (5.0, 0.0, 40.0), strict=True))),
]


def parse(chart: Chart) -> ET.Element:
    assert isinstance(chart.svg, Markup)
    return ET.fromstring(str(chart.svg))  # raises on malformed markup


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}rect") if e.get("class") == "bar"]


def ticks(root: ET.Element) -> list[float]:
    return [
        float(e.get("data-value", "nan"))
        for e in root.iter(f"{NS}text")
        if e.get("class") == "tick"
    ]


def legend(root: ET.Element) -> list[str]:
    return [
        e.text or "" for e in root.iter(f"{NS}text") if e.get("class") == "legend-name"
    ]


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_on_white(colour: str) -> float:
    return 1.05 / (luminance(colour) + 0.05)


def test_the_svg_is_an_accessible_image() -> None:
    root = parse(bar_chart(BY_SOURCE, spec=SPEC))
    assert root.get("role") == "img"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert title is not None and desc is not None
    assert title.text == "Matches per day"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "57 (ncmec, 05-02)" in (desc.text or "")
    assert [t.text for t in bars(root)[0].iter(f"{NS}title")] == ["ncmec, 05-01: 12"]


def test_grouped_bar_heights_are_proportional_to_values() -> None:
    root = parse(bar_chart(BY_SOURCE, spec=SPEC))
    found = bars(root)
    values = [s.points[day][1] for day in range(3) for s in BY_SOURCE]
    assert len(found) == len(values) == 6
    heights = [float(e.get("height", "nan")) for e in found]
    per_unit = heights[2] / 57.0  # ncmec on 05-02, the tallest
    for value, height in zip(values, heights, strict=True):
        assert height == pytest.approx(value * per_unit, abs=0.02)
    bottoms = {
        round(float(e.get("y", 0)) + float(e.get("height", 0)), 1) for e in found
    }
    assert len(bottoms) == 1  # every bar stands on the zero line


def test_ticks_are_round_and_cover_the_maximum() -> None:
    root = parse(bar_chart(BY_SOURCE, spec=SPEC))
    values = ticks(root)
    assert values[0] == 0 and values[-1] >= 57
    steps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in {1, 2, 5, 10, 20, 25, 50}
    # The top tick sits at the top of the plot: the tallest bar reaches 57/top.
    tallest = max(float(e.get("height", 0)) for e in bars(root))
    grid = [float(e.get("y1", 0)) for e in root.iter(f"{NS}line") if e.get("y1")]
    assert tallest == pytest.approx((max(grid) - min(grid)) * 57 / values[-1], 0.01)


@pytest.mark.parametrize(
    ("low", "high", "integer"),
    [
        (0, 57, True),
        (0, 0.37, False),
        (0, 1, True),
        (0, 12.5, True),
        (-3, 8, False),
        (0, 999_999, True),
        (0, 0, True),
        (0, 3e-5, False),
    ],
)
def test_nice_ticks(low: float, high: float, integer: bool) -> None:
    found = nice_ticks(low, high, integer=integer)
    assert found[0] <= low and found[-1] >= high
    assert 2 <= len(found) <= 12
    step = found[1] - found[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in {1, 2, 2.5, 5}
    if integer:
        assert all(float(t).is_integer() for t in found)


def test_stacked_bars_add_up_to_the_totals() -> None:
    chart = bar_chart(BY_SOURCE, spec=SPEC, stacked=True)
    root = parse(chart)
    found = bars(root)
    by_x: dict[str, list[ET.Element]] = {}
    for rect in found:
        by_x.setdefault(rect.get("x", ""), []).append(rect)
    assert len(by_x) == 3
    totals = [17.0, 57.0, 43.0]
    per_unit = sum(float(r.get("height", 0)) for r in by_x[found[2].get("x", "")])
    per_unit /= 57.0
    for rects, total in zip(by_x.values(), totals, strict=True):
        heights = sum(float(r.get("height", 0)) for r in rects)
        assert heights == pytest.approx(total * per_unit, abs=0.05)
        # Segments touch: each starts where the one below it ends.
        ordered = sorted(rects, key=lambda r: -float(r.get("y", 0)))
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            top_of_lower = float(lower.get("y", 0))
            bottom_of_upper = float(upper.get("y", 0)) + float(upper.get("height", 0))
            assert bottom_of_upper == pytest.approx(top_of_lower, abs=0.02)
    assert ticks(root)[-1] >= 57
    assert chart.table.header == ("Day", "ncmec", "stopncii", "Total")
    assert [row[-1] for row in chart.table.rows] == ["17", "57", "43"]


def test_legend_names_the_series_in_palette_colours() -> None:
    root = parse(line_chart(BY_SOURCE, spec=SPEC))
    assert legend(root) == ["ncmec", "stopncii"]
    swatches = [
        e.get("fill") for e in root.iter(f"{NS}rect") if e.get("class") == "swatch"
    ]
    assert swatches == list(PALETTE[:2])


def test_hostile_labels_are_escaped() -> None:
    hostile = '<script>alert("x")</script> "&\' \x00\x1b'
    series = [Series(hostile, ((hostile, 4.0), ("ok", 2.0)))]
    for chart in (
        bar_chart(series, spec=ChartSpec(title=hostile, x_label=hostile)),
        line_chart(series, spec=ChartSpec(title=hostile, description=hostile)),
    ):
        root = parse(chart)  # well-formed despite the NUL and ESC
        assert "<script" not in chart.svg
        assert all(e.tag != f"{NS}script" for e in root.iter())
        cleaned = hostile.replace("\x00", "\ufffd").replace("\x1b", "\ufffd")
        assert legend(root) == [cleaned]
        assert root.find(f"{NS}title").text == cleaned  # type: ignore[union-attr]
        # The table stays plain text: Jinja2 escapes it where it is shown.
        assert chart.table.rows[0][0] == hostile


def test_empty_data_says_no_data_yet() -> None:
    for chart in (
        bar_chart([], spec=SPEC),
        bar_chart([Series("ncmec", ())], spec=SPEC, stacked=True),
        line_chart([Series("lag", (("05-01", math.nan),))], spec=SPEC),
    ):
        root = parse(chart)
        assert chart.empty
        assert NO_DATA in [e.text for e in root.iter(f"{NS}text")]
        assert root.find(f"{NS}desc").text == NO_DATA  # type: ignore[union-attr]
        assert not bars(root)


def test_all_zero_values_still_draw_an_axis() -> None:
    root = parse(bar_chart([Series("ncmec", (("05-01", 0.0),))], spec=SPEC))
    assert ticks(root) == [0.0, 1.0]
    assert [float(b.get("height", 1)) for b in bars(root)] == [0.0]


def test_a_line_breaks_where_a_value_is_missing() -> None:
    series = Series("lag", (("a", 30.0), ("b", 9000.0), ("c", math.nan), ("d", 1.0)))
    spec = ChartSpec(title="Sync lag", unit="seconds")
    chart = line_chart([series], spec=spec)
    root = parse(chart)
    path = next(e for e in root.iter(f"{NS}path") if e.get("class") == "line")
    assert path.get("d", "").count("M") == 2
    assert len([e for e in root.iter(f"{NS}circle")]) == 3
    labels = [e.text for e in root.iter(f"{NS}text") if e.get("class") == "tick"]
    assert labels[-1] is not None and labels[-1].endswith(" h")
    assert chart.table.rows == (("a", "30 s"), ("b", "2.5 h"), ("c", "—"), ("d", "1 s"))


def test_text_and_graphics_colours_have_enough_contrast() -> None:
    assert all(contrast_on_white(c) >= 3 for c in PALETTE)
    assert contrast_on_white(TEXT) >= 4.5


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (57, "count", "57"),
        (6.0, "count", "6"),
        (6.54, "count", "6.5"),
        (1200, "count", "1.2k"),
        (999_960, "count", "1M"),
        (3_400_000, "count", "3.4M"),
        (45, "seconds", "45 s"),
        (210, "seconds", "3.5 min"),
        (12_240, "seconds", "3.4 h"),
        (3 * 86400, "seconds", "3 d"),
    ],
)
def test_format_number(value: float, unit: str, text: str) -> None:
    assert format_number(value, unit=unit) == text  # type: ignore[arg-type]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="label twice"):
        Series("x", (("a", 1.0), ("a", 2.0)))
    with pytest.raises(ValueError, match="≥ 0"):
        bar_chart([Series("x", (("a", -1.0),))], spec=SPEC)
    with pytest.raises(ValueError, match="chart id"):
        ChartSpec(title="t", id='x" onload="')


def test_negative_values_draw_below_zero_in_a_line_chart() -> None:
    root = parse(line_chart([Series("delta", (("a", -4.0), ("b", 7.0)))], spec=SPEC))
    found = ticks(root)
    assert found[0] <= -4 and found[-1] >= 7 and 0 in found


def test_an_axis_of_milliseconds_still_reads_in_distinct_ticks() -> None:
    chart = line_chart(
        [Series("default", (("14h", 0.0013), ("15h", 0.0009)))],
        spec=ChartSpec(title="Sync lag", unit="seconds"),
    )
    labels = [
        e.text
        for e in parse(chart).iter(f"{NS}text")
        if e.get("class") == "tick" and e.get("data-value") is not None
    ]
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels

"""Server-side SVG charts for the operator desk: bars and lines, no JavaScript.

A chart is drawn from `Series` of (label, value) points and a `ChartSpec`, and
comes back as a `Chart`: `.svg` is markup ready for a Jinja2 template, and
`.table` holds the same numbers for an HTML data table next to it (screen
readers, copying, printing).

The markup is accessible: `role="img"`, a `<title>` and `<desc>` named by
`aria-labelledby`, a visible legend, and a `<title>` on every bar and point for
the exact value. Colours come from the Okabe–Ito colour-blind-safe palette,
kept to the hues with at least 3:1 contrast on white (orange is darkened to
reach it); lines also differ in dash pattern, so no series is told by colour
alone. Every label comes from data (program and source names), so every text
and attribute value is escaped, and characters XML forbids are replaced.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

Unit = Literal["count", "seconds"]

#: Okabe–Ito blue, vermillion, bluish green, reddish purple, orange (darkened
#: from #E69F00, which has 2.3:1 on white) and black: each ≥ 3:1 on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#A46F00", "#000000")
#: Dash patterns for lines, in step with the palette's order.
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")
#: Text (16.5:1 on white) and axis lines (7:1); grid lines are decoration.
TEXT = "#1F1F1F"
AXIS = "#595959"
GRID = "#E3E3E3"
NO_DATA = "No data yet"

_FONT = 12
_CHAR_WIDTH = 7.0  # an average glyph at 12px, to lay out text without a font
_MISSING = "—"
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Series:
    """One named line or set of bars: (label, value) points in display order."""

    name: str
    points: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        labels = [label for label, _ in self.points]
        if len(set(labels)) != len(labels):
            raise ValueError(
                f"series {self.name!r} has a label twice: expected one value per "
                "label; add the values up before charting them"
            )


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """What the chart is about, and how to draw it.

    `title` is the accessible name; `description` is put before the summary
    the chart writes itself. `id` must be unique on the page (it names the
    title and desc elements); by default it is derived from the title.
    """

    title: str
    description: str = ""
    unit: Unit = "count"
    x_label: str = ""
    y_label: str = ""
    width: int = 640
    height: int = 320
    id: str = ""

    def __post_init__(self) -> None:
        if self.id and not _ID.fullmatch(self.id):
            raise ValueError(
                f"chart id {self.id!r} is not valid: expected a letter then "
                "letters, digits, '-' or '_'; pick a plain id"
            )
        if self.width < 200 or self.height < 150:
            raise ValueError(
                f"chart size {self.width}x{self.height} is too small: expected at "
                "least 200x150; make the chart bigger"
            )


@dataclass(frozen=True, slots=True)
class Table:
    """The chart's numbers as an HTML data table: a header and formatted rows."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawn chart: SVG markup and the table that says the same."""

    svg: Markup
    table: Table
    empty: bool


def bar_chart(
    series: Sequence[Series], *, spec: ChartSpec, stacked: bool = False
) -> Chart:
    """Bars per label, one per series side by side, or `stacked` into one.

    Values are counts or durations, so they must be ≥ 0; a label a series lacks
    draws no bar there. A stacked table gets a Total column.
    """
    for one in series:
        for label, value in one.points:
            if value < 0:
                raise ValueError(
                    f"series {one.name!r} at {label!r} is {value}: expected a "
                    "value ≥ 0 for a bar chart; use a line chart for signed values"
                )
    return _Drawing(series, spec, kind="bar", stacked=stacked).chart()


def line_chart(series: Sequence[Series], *, spec: ChartSpec) -> Chart:
    """One line per series over the labels, equally spaced; gaps where missing."""
    return _Drawing(series, spec, kind="line", stacked=False).chart()


def format_number(value: float, *, unit: Unit = "count", decimals: int = 1) -> str:
    """A short reading of a value: 57, 6.5, 1.2k, 3.4M; 45 s, 3.5 min, 3.4 h.

    `decimals` is the most shown (tick labels need two for 1.25k); trailing
    zeros are dropped.
    """
    if unit == "seconds":
        scale, suffix = _time_scale(abs(value))
        return f"{_short(value / scale, decimals)} {suffix}"
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        # 999,960 rounds to 1000.0k: show it as 1M instead.
        if size >= limit or round(size / limit * 1000, decimals) >= 1000:
            return _short(value / limit, decimals) + suffix
    return _short(value, decimals)


def nice_ticks(low: float, high: float, *, integer: bool = False) -> tuple[float, ...]:
    """About five round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering
    `low` to `high`; with `integer` the step is at least 1."""
    if high <= low:
        high = low + 1
    raw = (high - low) / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = [m * magnitude for m in (1, 2, 2.5, 5, 10)]
    if integer:  # no 0.5 matches, and no 2.5
        steps = [m for m in steps if m >= 1 and float(m).is_integer()]
    step = next((m for m in steps if m >= raw), 1.0)
    start = math.floor(low / step + 1e-9) * step
    count = math.ceil((high - start) / step - 1e-9)
    return tuple(round(start + i * step, 10) for i in range(count + 1))


def _short(number: float, decimals: int = 1) -> str:
    """At most `decimals` decimals, without trailing zeros."""
    text = f"{number:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _time_scale(seconds: float) -> tuple[float, str]:
    """The unit that reads best for a duration of this size."""
    if seconds >= 2 * 86400:
        return 86400.0, "d"
    if seconds >= 2 * 3600:
        return 3600.0, "h"
    if seconds >= 120:
        return 60.0, "min"
    return 1.0, "s"


def _x(text: str) -> str:
    """Text or an attribute value, escaped, without characters XML forbids."""
    return str(escape(_NOT_XML.sub("\ufffd", text)))


def _n(number: float) -> str:
    """A coordinate, to two decimals."""
    return f"{number:.2f}".rstrip("0").rstrip(".") or "0"


class _Drawing:
    """The layout and markup of one chart; used once by `bar_chart`/`line_chart`."""

    def __init__(
        self,
        series: Sequence[Series],
        spec: ChartSpec,
        *,
        kind: Literal["bar", "line"],
        stacked: bool,
    ) -> None:
        self.series = [s for s in series]
        self.spec = spec
        self.kind = kind
        self.stacked = stacked
        self.labels = list(dict.fromkeys(lb for s in series for lb, _ in s.points))
        self.values = [
            {lb: v for lb, v in s.points if math.isfinite(v)} for s in series
        ]
        self.id = (
            spec.id
            or "chart-"
            + hashlib.sha256(spec.title.encode("utf-8", "replace")).hexdigest()[:10]
        )
        self.parts: list[str] = []

    def chart(self) -> Chart:
        empty = not any(self.values)
        table = self.table()
        if empty:
            self.open(NO_DATA)
            self.parts.append(
                f'<text x="{_n(self.spec.width / 2)}" y="{_n(self.spec.height / 2)}" '
                f'text-anchor="middle" fill="{TEXT}" font-size="{_FONT + 2}">'
                f"{NO_DATA}</text>"
            )
        else:
            self.open(self.summary())
            self.draw()
        self.parts.append("</svg>")
        # Every piece was escaped as it was written (`_x`), so this is safe.
        return Chart(svg=Markup("".join(self.parts)), table=table, empty=empty)

    def table(self) -> Table:
        unit = self.spec.unit
        header = [self.spec.x_label or "Label", *(s.name for s in self.series)]
        if self.stacked:
            header.append("Total")
        rows = []
        for label in self.labels:
            cells = [label]
            for values in self.values:
                value = values.get(label)
                cells.append(
                    _MISSING if value is None else format_number(value, unit=unit)
                )
            if self.stacked:
                total = sum(values.get(label, 0.0) for values in self.values)
                cells.append(format_number(total, unit=unit))
            rows.append(tuple(cells))
        return Table(caption=self.spec.title, header=tuple(header), rows=tuple(rows))

    def summary(self) -> str:
        """What a screen reader hears: the caller's words, then the gist."""
        kind = "Stacked bar" if self.stacked else self.kind.capitalize()
        names = ", ".join(s.name for s in self.series)
        best = max(
            (v, s.name, lb)
            for s, values in zip(self.series, self.values, strict=True)
            for lb, v in values.items()
        )
        gist = (
            f"{kind} chart of {len(self.series)} series ({names}) over "
            f"{len(self.labels)} labels, {self.labels[0]} to {self.labels[-1]}. "
            f"Highest: {format_number(best[0], unit=self.spec.unit)} "
            f"({best[1]}, {best[2]})."
        )
        return f"{self.spec.description} {gist}".strip()

    def open(self, desc: str) -> None:
        spec, ident = self.spec, _x(self.id)
        self.parts.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
            f'width="{spec.width}" height="{spec.height}" '
            f'viewBox="0 0 {spec.width} {spec.height}" '
            f'aria-labelledby="{ident}-title {ident}-desc" '
            f'font-family="system-ui, sans-serif" font-size="{_FONT}">'
            f'<title id="{ident}-title">{_x(spec.title)}</title>'
            f'<desc id="{ident}-desc">{_x(desc)}</desc>'
        )

    def draw(self) -> None:
        spec = self.spec
        legend_bottom = self.legend()
        top = legend_bottom + 10
        left, right = 64.0, spec.width - 16.0
        bottom = spec.height - (44.0 if spec.x_label else 28.0)
        if self.stacked:
            high = max(sum(v.get(lb, 0.0) for v in self.values) for lb in self.labels)
        else:
            high = max(max(v.values(), default=0.0) for v in self.values)
        low = min(0.0, min(min(v.values(), default=0.0) for v in self.values))
        if spec.unit == "seconds":
            # Tick labels show at most two decimals: an axis of a few
            # milliseconds would read "0 s" at every tick.
            high = max(high, 1.0)
        scale = _time_scale(high)[0] if spec.unit == "seconds" else 1.0
        whole = spec.unit == "count" and all(
            float(x).is_integer() for v in self.values for x in v.values()
        )
        ticks = [
            t * scale for t in nice_ticks(low / scale, high / scale, integer=whole)
        ]

        def y(value: float) -> float:
            return bottom - (value - ticks[0]) / (ticks[-1] - ticks[0]) * (bottom - top)

        self.axes(ticks, y, left=left, right=right, top=top, bottom=bottom)
        band = (right - left) / len(self.labels)
        self.x_labels(band, left=left, bottom=bottom)
        if self.kind == "bar":
            self.bars(band, y, left=left)
        else:
            self.lines(band, y, left=left)

    def legend(self) -> float:
        """Swatch and name per series, wrapped into rows; returns its bottom."""
        x, y = 12.0, 14.0
        self.parts.append('<g class="legend">')
        for number, one in enumerate(self.series):
            width = 18 + len(one.name) * _CHAR_WIDTH + 16
            if x > 12 and x + width > self.spec.width - 12:
                x, y = 12.0, y + 18
            colour = PALETTE[number % len(PALETTE)]
            self.parts.append(
                f'<rect class="swatch" x="{_n(x)}" y="{_n(y - 10)}" width="12" '
                f'height="12" fill="{colour}"/>'
                f'<text class="legend-name" x="{_n(x + 18)}" y="{_n(y)}" '
                f'fill="{TEXT}">{_x(one.name)}</text>'
            )
            x += width
        self.parts.append("</g>")
        return y + 6

    def axes(
        self,
        ticks: Sequence[float],
        y: Callable[[float], float],
        *,
        left: float,
        right: float,
        top: float,
        bottom: float,
    ) -> None:
        """Grid lines and labels at the ticks, the axis lines and their labels."""
        spec = self.spec
        scale, suffix = _time_scale(ticks[-1]) if spec.unit == "seconds" else (1, "")
        self.parts.append('<g class="y-axis">')
        for tick in ticks:
            at = _n(y(tick))
            label = (
                f"{_short(tick / scale, 2)} {suffix}"
                if suffix
                else format_number(tick, decimals=2)
            )
            self.parts.append(
                f'<line x1="{_n(left)}" x2="{_n(right)}" y1="{at}" y2="{at}" '
                f'stroke="{GRID}"/>'
                f'<text class="tick" x="{_n(left - 6)}" y="{at}" dy="0.32em" '
                f'text-anchor="end" fill="{TEXT}" data-value="{_n(tick)}">'
                f"{_x(label)}</text>"
            )
        self.parts.append("</g>")
        zero = _n(y(0.0))
        self.parts.append(
            f'<line class="axis" x1="{_n(left)}" x2="{_n(left)}" y1="{_n(top)}" '
            f'y2="{_n(bottom)}" stroke="{AXIS}"/>'
            f'<line class="axis" x1="{_n(left)}" x2="{_n(right)}" y1="{zero}" '
            f'y2="{zero}" stroke="{AXIS}"/>'
        )
        if spec.y_label:
            middle = _n((top + bottom) / 2)
            self.parts.append(
                f'<text class="axis-label" x="14" y="{middle}" text-anchor="middle" '
                f'transform="rotate(-90 14 {middle})" fill="{TEXT}">'
                f"{_x(spec.y_label)}</text>"
            )
        if spec.x_label:
            self.parts.append(
                f'<text class="axis-label" x="{_n((left + right) / 2)}" '
                f'y="{_n(spec.height - 8)}" text-anchor="middle" fill="{TEXT}">'
                f"{_x(spec.x_label)}</text>"
            )

    def x_labels(self, band: float, *, left: float, bottom: float) -> None:
        """Labels under the bands, every k-th one when they would overlap."""
        widest = max(len(label) for label in self.labels) * _CHAR_WIDTH + 8
        every = max(1, math.ceil(widest / band))
        self.parts.append('<g class="x-axis">')
        for number, label in enumerate(self.labels):
            if number % every:
                continue
            self.parts.append(
                f'<text class="x-label" x="{_n(left + band * (number + 0.5))}" '
                f'y="{_n(bottom + 16)}" text-anchor="middle" fill="{TEXT}">'
                f"{_x(label)}</text>"
            )
        self.parts.append("</g>")

    def bars(self, band: float, y: Callable[[float], float], *, left: float) -> None:
        """A rect per value, side by side or stacked, each with its own title."""
        unit, count = self.spec.unit, len(self.series)
        inner = band * 0.8
        width = inner if self.stacked else inner / count
        # A white edge keeps stacked segments apart where two colours meet.
        edge = ' stroke="#FFFFFF" stroke-width="1"' if self.stacked else ""
        self.parts.append('<g class="bars">')
        for position, label in enumerate(self.labels):
            base = 0.0
            for number, (one, values) in enumerate(
                zip(self.series, self.values, strict=True)
            ):
                value = values.get(label)
                if value is None:
                    continue
                x = left + band * position + band * 0.1
                if not self.stacked:
                    x += width * number
                upper, lower = y(base + value), y(base)
                if self.stacked:
                    base += value
                colour = PALETTE[number % len(PALETTE)]
                self.parts.append(
                    f'<rect class="bar" data-series="{number}" x="{_n(x)}" '
                    f'y="{_n(upper)}" width="{_n(width)}" '
                    f'height="{_n(lower - upper)}" fill="{colour}"{edge}>'
                    f"<title>{_x(one.name)}, {_x(label)}: "
                    f"{_x(format_number(value, unit=unit))}</title></rect>"
                )
        self.parts.append("</g>")

    def lines(self, band: float, y: Callable[[float], float], *, left: float) -> None:
        """A path per series, broken where a label has no value, and a dot per
        point with its value as a title."""
        unit = self.spec.unit
        for number, (one, values) in enumerate(
            zip(self.series, self.values, strict=True)
        ):
            colour = PALETTE[number % len(PALETTE)]
            dash = DASHES[number % len(DASHES)]
            path: list[str] = []
            dots: list[str] = []
            pen_up = True
            for position, label in enumerate(self.labels):
                value = values.get(label)
                if value is None:
                    pen_up = True
                    continue
                x, at = _n(left + band * (position + 0.5)), _n(y(value))
                path.append(f"{'M' if pen_up else 'L'}{x} {at}")
                pen_up = False
                dots.append(
                    f'<circle class="point" cx="{x}" cy="{at}" r="3" '
                    f'fill="{colour}"><title>{_x(one.name)}, {_x(label)}: '
                    f"{_x(format_number(value, unit=unit))}</title></circle>"
                )
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(
                f'<g class="series" data-series="{number}">'
                f'<path class="line" d="{" ".join(path)}" fill="none" '
                f'stroke="{colour}" stroke-width="2"{dashing}/>'
                + "".join(dots)
                + "</g>"
            )

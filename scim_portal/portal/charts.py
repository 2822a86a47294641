"""The overview's charts as geometry: pure functions from a series to what an SVG draws.

Coordinates are in the SVG's ``viewBox`` units; the SVG is as wide as its box and
scales. Text is already translated and localised here, so the templates
(``portal/_request_chart.html``, ``portal/_directory_chart.html``) only draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .._formats import number
from .series import OUTCOMES, DirectorySeries, RequestSeries

WIDTH = 720
LEFT, RIGHT = 64, 12

#: What each outcome is called in the legend and the data table (bottom of a bar first).
OUTCOME_LABELS = {
    "success": gettext_lazy("Successful (2xx, 3xx)"),
    "client_error": gettext_lazy("Client errors (4xx)"),
    "throttled": gettext_lazy("Throttled (429)"),
    "server_error": gettext_lazy("Server errors (5xx)"),
}


def nice_ceiling(value: int) -> int:
    """The smallest whole 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (at
    least 1): the top of an axis, so that its half is a round number."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value and top == int(top):
            return int(top)
    return 10 * magnitude


def _round(value: float) -> float:
    return round(value, 2)


#: The fewest hours of a day the requests chart shows that still get the day's label.
MIN_LABELLED_HOURS = 14


@dataclass
class Tick:
    position: float
    label: str
    #: Shown on narrow screens too (every other day label is hidden there).
    major: bool = True
    #: Where the label stands against its position: "start", "middle" or "end".
    anchor: str = "start"
    #: Where the label stands, if not at ``position`` (a day's label in its day's middle).
    label_at: float | None = None


@dataclass
class Segment:
    outcome: str
    x: float
    y: float
    width: float
    height: float


@dataclass
class Legend:
    key: str
    label: str
    total: str


@dataclass
class Row:
    label: str
    cells: list[str]


@dataclass
class BarChart:
    """Stacked bars of requests per hour."""

    width: int
    height: int
    empty: bool
    summary: str
    segments: list[Segment] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    legend: list[Legend] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: float = 0
    baseline: float = 0
    #: The hours whose requests are no longer kept, greyed: (x, y, width, height); and why.
    not_kept: tuple[float, float, float, float] | None = None
    note: str = ""


def request_chart(series: RequestSeries) -> BarChart:
    """The bars, axes, legend and data table of ``series``."""
    top, bottom, height = 12, 28, 240
    baseline = height - bottom
    plot_height = baseline - top
    plot_width = WIDTH - LEFT - RIGHT
    totals = series.totals
    total = series.total
    chart = BarChart(
        width=WIDTH,
        height=height,
        empty=total == 0,
        summary=ngettext(
            "%(count)s request in the last 7 days (successful: %(success)s, client errors: "
            "%(client)s, throttled: %(throttled)s, server errors: %(server)s).",
            "%(count)s requests in the last 7 days (successful: %(success)s, client errors: "
            "%(client)s, throttled: %(throttled)s, server errors: %(server)s).",
            total,
        )
        % {
            "count": number(total),
            "success": number(totals["success"]),
            "client": number(totals["client_error"]),
            "throttled": number(totals["throttled"]),
            "server": number(totals["server_error"]),
        },
        plot_top=top,
        baseline=baseline,
    )
    chart.legend = [Legend(key, str(OUTCOME_LABELS[key]), number(totals[key])) for key in OUTCOMES]
    chart.columns = [*(str(OUTCOME_LABELS[key]) for key in OUTCOMES), _("Total")]
    pruned = sum(
        1 for bucket in series.hours if series.kept_from and bucket.start < series.kept_from
    )
    chart.rows = [
        Row(
            date_format(bucket.start, "SHORT_DATETIME_FORMAT"),
            [*(number(bucket.counts[key]) for key in OUTCOMES), number(bucket.total)]
            # A pruned hour still holding requests (prune runs daily) shows them.
            if index >= pruned or bucket.total
            else ["—"] * (len(OUTCOMES) + 1),
        )
        for index, bucket in enumerate(series.hours)
    ]
    if series.kept_from is not None:
        chart.note = _(
            "Requests before %(first)s are no longer kept (REQUEST_LOG_RETENTION_DAYS), so "
            "those hours are not counted."
        ) % {"first": date_format(series.kept_from, "SHORT_DATETIME_FORMAT")}
    if chart.empty:
        return chart
    scale_top = nice_ceiling(max(bucket.total for bucket in series.hours))
    slot = plot_width / len(series.hours)
    if pruned:
        chart.not_kept = (LEFT, top, _round(pruned * slot), plot_height)
    bar = max(slot - 1, slot * 0.7)
    for index, bucket in enumerate(series.hours):
        y = float(baseline)
        for key in OUTCOMES:
            count = bucket.counts[key]
            if not count:
                continue
            size = count / scale_top * plot_height
            y -= size
            chart.segments.append(
                Segment(key, _round(LEFT + index * slot), _round(y), _round(bar), _round(size))
            )
    chart.y_ticks = [
        Tick(_round(baseline - fraction * plot_height), number(int(scale_top * fraction)))
        for fraction in (0, 0.5, 1)
        if scale_top * fraction == int(scale_top * fraction)
    ]
    midnights = [index for index, bucket in enumerate(series.hours) if bucket.start.hour == 0]
    # A line at each midnight; the day's label in the middle of its hours, left out for a
    # day with too few hours shown to hold it (today, early in the morning). On narrow
    # screens every other label goes, the newest kept.
    ends = [*midnights[1:], len(series.hours)]
    chart.x_ticks = [
        Tick(
            _round(LEFT + index * slot),
            date_format(series.hours[index].start, "MONTH_DAY_FORMAT")
            if end - index >= MIN_LABELLED_HOURS
            else "",
            major=order % 2 == (len(midnights) - 1) % 2,
            anchor="middle",
            label_at=_round(LEFT + (index + end) / 2 * slot),
        )
        for order, (index, end) in enumerate(zip(midnights, ends, strict=True))
    ]
    return chart


@dataclass
class Panel:
    """One series of the line chart, on a scale of its own."""

    key: str
    label: str
    top: float
    bottom: float
    points: str
    markers: list[tuple[float, float]]
    y_ticks: list[Tick]


@dataclass
class LineChart:
    """Users and groups at the end of each day, one panel each."""

    width: int
    height: int
    summary: str
    panels: list[Panel]
    x_ticks: list[Tick]
    columns: list[str]
    rows: list[Row]
    note: str = ""
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT


def _day(value: date) -> str:
    return date_format(value, "MONTH_DAY_FORMAT")


def directory_chart(series: DirectorySeries) -> LineChart:
    """The two panels, axes and data table of ``series``."""
    panel_height, gap, top, height = 80, 44, 24, 268
    plot_width = WIDTH - LEFT - RIGHT
    days = series.days
    count = len(days)

    def x(index: int) -> float:
        if count == 1:
            return _round(LEFT + plot_width / 2)
        return _round(LEFT + index * plot_width / (count - 1))

    panels = []
    for order, (key, label) in enumerate((("users", _("Users")), ("groups", _("Groups")))):
        values = [getattr(point, key) for point in days]
        panel_top = top + order * (panel_height + gap)
        bottom = panel_top + panel_height
        scale_top = nice_ceiling(max(values))
        markers = [
            (x(index), _round(bottom - value / scale_top * panel_height))
            for index, value in enumerate(values)
        ]
        panels.append(
            Panel(
                key,
                label,
                panel_top,
                bottom,
                " ".join(f"{px},{py}" for px, py in markers),
                markers,
                [Tick(bottom, number(0)), Tick(panel_top, number(scale_top))],
            )
        )
    first, last = days[0], days[-1]
    summary = _(
        "Users and groups at the end of each day from %(first)s to today: users went from "
        "%(users_first)s to %(users_now)s, groups from %(groups_first)s to %(groups_now)s."
    ) % {
        "first": _day(first.day),
        "users_first": number(first.users),
        "users_now": number(last.users),
        "groups_first": number(first.groups),
        "groups_now": number(last.groups),
    }
    note = ""
    if series.cut_by_retention:
        note = _(
            "Older provisioning events are no longer kept, so the history starts on %(first)s."
        ) % {"first": _day(first.day)}
    return LineChart(
        width=WIDTH,
        height=height,
        summary=summary,
        panels=panels,
        x_ticks=[
            Tick(x(index), _day(point.day), anchor="end" if 0 < index == count - 1 else "middle")
            for index, point in enumerate(days)
            if (count - 1 - index) % 7 == 0
        ],
        columns=[_("Users"), _("Groups")],
        rows=[
            Row(
                date_format(point.day, "SHORT_DATE_FORMAT"),
                [number(point.users), number(point.groups)],
            )
            for point in days
        ],
        note=note,
    )

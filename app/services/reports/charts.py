"""Reports drawn as PNG charts with matplotlib (the Agg backend: no display), for `Accept:
image/png` and for the digests' inline images. Persian labels are shaped (arabic-reshaper) and put
in display order (python-bidi), since matplotlib draws characters one by one, left to right.

Dates and periods are named as the report names them, in the workspace's calendar and locale
(`display_label`; a range's bounds as that calendar names their days, joined by "to" or "تا"). A
chart is given the report and the locale only (the digests draw them so): the calendar is the one
that named the report's periods (`periods.named_in`).

Drawing takes tens of milliseconds of CPU: callers run it on a worker thread."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from app.domain.reports import periods as cal

_LOCK = threading.Lock()  # pyplot's state is global: one figure at a time per process
STAGE_NAMES = {
    "en": {"lead": "Leads", "mql": "MQL", "sql": "SQL", "opportunity": "Opportunities", "won": "Won",
           "customer": "Customers"},
    "fa": {"lead": "سرنخ", "mql": "MQL", "sql": "SQL", "opportunity": "فرصت", "won": "برنده", "customer": "مشتری"},
}  # fmt: skip


def text(value: str) -> str:
    """A label as matplotlib must be given it: right-to-left text shaped and in display order."""
    if not any("\u0600" <= ch <= "\u06ff" for ch in value):
        return value
    import arabic_reshaper  # type: ignore[import-untyped]
    from bidi.algorithm import get_display  # type: ignore[import-untyped]

    return str(get_display(arabic_reshaper.reshape(value)))


RANGE_TEXT = {"en": "{first} to {last}", "fa": "{first} تا {last}"}


def _locale(locale: str) -> cal.Locale:
    return "fa" if locale == "fa" else "en"


def _calendar(report: Mapping[str, Any], locale: str) -> cal.ReportCalendar:
    """The calendar the report's periods are named in, with the locale."""
    named = ((date.fromisoformat(str(p["start_date"])), str(p["display_label"])) for p in report.get("periods") or ())
    return cal.ReportCalendar(kind=cal.named_in(named, report["interval"], _locale(locale)), locale=_locale(locale))


def day_label(day: date | str, calendar: cal.ReportCalendar) -> str:
    """A local date as the calendar names it for people (1 Farvardin 1405 in Persian digits, `21 March 2026`)."""
    return cal.display_label(date.fromisoformat(str(day)), "day", calendar)


def range_title(report: Mapping[str, Any], locale: str) -> str:
    """The report's `from` and `to`, named in its calendar and locale."""
    calendar = _calendar(report, locale)
    template = RANGE_TEXT[calendar.locale]
    return template.format(first=day_label(report["from"], calendar), last=day_label(report["to"], calendar))


def _png(draw: Any, *, width: float = 8.0, height: float = 4.5) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with _LOCK:
        figure, axes = plt.subplots(figsize=(width, height), dpi=100)
        try:
            draw(axes)
            figure.tight_layout()
            out = io.BytesIO()
            figure.savefig(out, format="png")
            return out.getvalue()
        finally:
            plt.close(figure)


def funnel(report: Mapping[str, Any], locale: str = "en") -> bytes:
    """Horizontal bars, one per stage, widest first, each with its count and its rate from the
    previous stage."""
    names = STAGE_NAMES.get(locale, STAGE_NAMES["en"])
    stages: Sequence[Mapping[str, Any]] = report["stages"]
    title = text(range_title(report, locale))

    def draw(axes: Any) -> None:
        labels = [text(names[s["stage"]]) for s in stages][::-1]
        counts = [s["count"] for s in stages][::-1]
        bars = axes.barh(labels, counts, color="#3b6fb6")
        for bar, stage in zip(bars, stages[::-1], strict=True):
            rate = stage["rate_from_previous"]
            note = f"{stage['count']:,}" + (f"  ({rate:.0%})" if rate is not None else "")
            axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + note, va="center", fontsize=9)
        axes.set_xlim(0, max([*counts, 1]) * 1.25)
        axes.set_title(title, fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)

    return _png(draw)


def series(
    title: str,
    history: Sequence[tuple[str, float]],
    forecast: Sequence[tuple[str, float, float, float]] = (),
) -> bytes:
    """A line of values by period label, and a forecast after it with its band (lower, upper)."""

    def draw(axes: Any) -> None:
        labels = [label for label, _ in history] + [label for label, *_ in forecast]
        xs = list(range(len(labels)))
        axes.plot(xs[: len(history)], [v for _, v in history], color="#3b6fb6", marker="o", markersize=3)
        if forecast:
            start = len(history)
            fx = xs[start:]
            axes.plot(fx, [v for _, v, _, _ in forecast], color="#d9822b", marker="o", markersize=3)
            axes.fill_between(fx, [lo for *_, lo, _ in forecast], [hi for *_, hi in forecast], color="#d9822b",
                              alpha=0.2)  # fmt: skip
        step = max(1, len(labels) // 12)
        axes.set_xticks(xs[::step], [text(label) for label in labels[::step]], rotation=45, ha="right", fontsize=8)
        axes.set_title(text(title), fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)

    return _png(draw, width=9.0)


def bars(title: str, rows: Sequence[tuple[str, float]]) -> bytes:
    """One bar per labelled value (stages, periods)."""

    def draw(axes: Any) -> None:
        axes.bar([text(label) for label, _ in rows], [value for _, value in rows], color="#3b6fb6")
        axes.set_title(text(title), fontsize=10)
        axes.tick_params(axis="x", labelrotation=45, labelsize=8)
        axes.spines[["top", "right"]].set_visible(False)

    return _png(draw)


def banded_bars(
    title: str,
    rows: Sequence[tuple[str, float, float, float]],
    *,
    ceiling: Sequence[float] = (),
    legend: tuple[str, str, str] = ("expected", "P10-P90", "if all won"),
) -> bytes:
    """One bar per labelled value with its band (lower, upper) as a range line across it; with
    `ceiling`, a pale bar behind each (what the period could reach)."""

    def draw(axes: Any) -> None:
        xs = list(range(len(rows)))
        if ceiling:
            axes.bar(xs, list(ceiling), color="#3b6fb6", alpha=0.15, width=0.8, label=text(legend[2]))
        axes.bar(xs, [value for _, value, _, _ in rows], color="#3b6fb6", width=0.55, label=text(legend[0]))
        lows = [low for *_, low, _ in rows]
        highs = [high for *_, high in rows]
        axes.vlines(xs, lows, highs, color="#d9822b", linewidth=2.5, label=text(legend[1]))
        axes.hlines(lows + highs, [x - 0.12 for x in xs] * 2, [x + 0.12 for x in xs] * 2, color="#d9822b",
                    linewidth=2.5)  # fmt: skip
        axes.set_xticks(xs, [text(label) for label, *_ in rows], rotation=45, ha="right", fontsize=8)
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=8, frameon=False)
        axes.set_title(text(title), fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)

    return _png(draw, width=9.0)


PIPELINE_TEXT = {
    "en": ("Pipeline {first} to {last} ({currency}): won revenue per period", ("expected", "P10-P90", "if all won")),
    "fa": ("فرصت‌های باز {first} تا {last} ({currency}): درآمد برنده در هر دوره", ("مورد انتظار", "P10-P90",
                                                                                 "اگر همه برنده شوند")),
}  # fmt: skip


def pipeline(report: Mapping[str, Any], locale: str = "en") -> bytes:
    """The pipeline report's periods: the expected won revenue as bars, the P10-P90 range across
    each, and what the period's deals are worth if all are won behind (amounts in major units)."""
    title, legend = PIPELINE_TEXT.get(locale, PIPELINE_TEXT["en"])
    periods: Sequence[Mapping[str, Any]] = report["periods"]
    rows = [(p["display_label"], float(p["expected"]), float(p["p10"]), float(p["p90"])) for p in periods]
    calendar = _calendar(report, locale)
    first, last = day_label(report["from"], calendar), day_label(report["to"], calendar)
    heading = title.format(first=first, last=last, currency=report["currency"])
    return banded_bars(heading, rows, ceiling=[float(p["amount"]) for p in periods], legend=legend)


SALES_FORECAST_TITLES = {
    ("revenue", "en"): "Revenue ({currency}): history and forecast ({model})",
    ("orders", "en"): "Orders: history and forecast ({model})",
    ("revenue", "fa"): "درآمد ({currency}): گذشته و پیش‌بینی ({model})",
    ("orders", "fa"): "سفارش‌ها: گذشته و پیش‌بینی ({model})",  # noqa: RUF001
}


def sales_forecast(report: Mapping[str, Any], locale: str = "en") -> bytes:
    """The sales forecast's total: its history as a line, the forecast after it with its band."""
    key = (report["metric"], locale if locale == "fa" else "en")
    title = SALES_FORECAST_TITLES[key].format(currency=report["currency"], model=report["model"])
    history = [(h["display_label"], float(h["value"])) for h in report["history"]]
    forecast = [(f["display_label"], float(f["value"]), float(f["lower"]), float(f["upper"]))
                for f in report["forecast"]]  # fmt: skip
    return series(title, history, forecast)


def team(report: Mapping[str, Any], locale: str = "en") -> bytes:
    """Leads assigned and qualified per member (the 15 with the most leads)."""
    members = sorted(report["members"], key=lambda m: -m["leads_assigned"])[:15]

    def draw(axes: Any) -> None:
        names = [text(m["name"]) for m in members]
        xs = list(range(len(members)))
        axes.bar([x - 0.2 for x in xs], [m["leads_assigned"] for m in members], width=0.4, color="#3b6fb6",
                 label=text("سرنخ" if locale == "fa" else "Assigned"))  # fmt: skip
        axes.bar([x + 0.2 for x in xs], [m["leads_qualified"] for m in members], width=0.4, color="#d9822b",
                 label=text("واجد شرایط" if locale == "fa" else "Qualified"))  # fmt: skip
        axes.set_xticks(xs, names, rotation=45, ha="right", fontsize=8)
        axes.legend(fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)

    return _png(draw)


def win_loss(report: Mapping[str, Any], locale: str = "en") -> bytes:
    """Won and lost per period."""
    periods = report["periods"]

    def draw(axes: Any) -> None:
        xs = list(range(len(periods)))
        axes.bar([x - 0.2 for x in xs], [p["won"] for p in periods], width=0.4, color="#3b8f4e",
                 label=text("برنده" if locale == "fa" else "Won"))  # fmt: skip
        axes.bar([x + 0.2 for x in xs], [p["lost"] for p in periods], width=0.4, color="#b63b3b",
                 label=text("باخته" if locale == "fa" else "Lost"))  # fmt: skip
        step = max(1, len(periods) // 12)
        labels = [text(p["display_label"]) for p in periods][::step]
        axes.set_xticks(xs[::step], labels, rotation=45, ha="right", fontsize=8)
        axes.legend(fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)

    return _png(draw)

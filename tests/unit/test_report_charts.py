"""The charts name dates and periods as the workspace's calendar and locale do
(app/services/reports/charts.py): a Persian range title in the Jalali calendar joined by «تا», the
win-loss axis by display labels; the calendar read from the report's own period names."""

from __future__ import annotations

from datetime import date
from typing import Any
from unittest import mock

import pytest

from app.domain.reports import periods as cal
from app.services.reports import charts

JALALI_FA = cal.ReportCalendar(kind="jalali", locale="fa", timezone="Asia/Tehran", first_weekday=5)
GREGORIAN_FA = cal.ReportCalendar(kind="gregorian", locale="fa")
GREGORIAN_EN = cal.ReportCalendar(kind="gregorian", locale="en", first_weekday=6)
JALALI_EN = cal.ReportCalendar(kind="jalali", locale="en", first_weekday=5)


def _report(
    first: date, last: date, interval: cal.Interval, calendar: cal.ReportCalendar, **row: Any
) -> dict[str, Any]:
    """A report's answer as the digests hand it to a chart: `from`, `to`, `interval`, periods."""
    periods = [
        {"label": p.label, "display_label": p.display_label, "start_date": p.start_date.isoformat(),
         "end_date": p.end_date.isoformat(), **row}
        for p in cal.cut(first, last, interval, calendar)
    ]  # fmt: skip
    return {"from": first.isoformat(), "to": last.isoformat(), "interval": interval, "periods": periods}


def _axes() -> mock.MagicMock:
    axes = mock.MagicMock()
    axes.barh.side_effect = lambda labels, counts, **_: [mock.MagicMock() for _ in counts]
    return axes


def _drawn(monkeypatch: pytest.MonkeyPatch) -> list[mock.MagicMock]:
    """Each chart drawn from now on draws on a mock axes, kept here, instead of a figure."""
    drawn: list[mock.MagicMock] = []

    def png(draw: Any, **_: Any) -> bytes:
        drawn.append(_axes())
        draw(drawn[-1])
        return b""

    monkeypatch.setattr(charts, "_png", png)
    return drawn


@pytest.mark.parametrize(
    ("calendar", "interval", "first", "last"),
    [
        (JALALI_FA, "month", date(2026, 3, 10), date(2026, 5, 31)),
        (JALALI_FA, "week", date(2026, 3, 10), date(2026, 3, 12)),  # one week, cut at both ends
        (JALALI_FA, "day", date(2026, 3, 20), date(2026, 3, 21)),
        (JALALI_FA, "quarter", date(2026, 3, 10), date(2026, 3, 10)),
        (JALALI_FA, "year", date(2026, 3, 20), date(2026, 3, 21)),
        (JALALI_EN, "month", date(2026, 3, 10), date(2026, 3, 11)),
        (GREGORIAN_FA, "month", date(2026, 3, 10), date(2026, 3, 11)),
        (GREGORIAN_FA, "year", date(2026, 3, 10), date(2026, 3, 11)),
        (GREGORIAN_EN, "week", date(2026, 3, 10), date(2026, 4, 11)),
        (GREGORIAN_EN, "quarter", date(2026, 3, 10), date(2026, 3, 11)),
    ],
)
def test_the_calendar_is_read_from_the_period_names(
    calendar: cal.ReportCalendar, interval: cal.Interval, first: date, last: date
) -> None:
    report = _report(first, last, interval, calendar)
    named = [(date.fromisoformat(p["start_date"]), p["display_label"]) for p in report["periods"]]
    assert cal.named_in(named, interval, calendar.locale) == calendar.kind


def test_the_funnel_title_is_the_range_in_the_workspace_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _drawn(monkeypatch)
    stages = [{"stage": s, "count": 10 - i, "rate_from_previous": None} for i, s in enumerate(
        ("lead", "mql", "sql", "opportunity", "won", "customer"))]  # fmt: skip
    persian = {**_report(date(2026, 3, 10), date(2026, 4, 20), "month", JALALI_FA), "stages": stages}
    charts.funnel(persian, "fa")
    assert charts.range_title(persian, "fa") == "۱۹ اسفند ۱۴۰۴ تا ۳۱ فروردین ۱۴۰۵"
    drawn[-1].set_title.assert_called_once_with(charts.text("۱۹ اسفند ۱۴۰۴ تا ۳۱ فروردین ۱۴۰۵"), fontsize=10)
    english = {**_report(date(2026, 3, 10), date(2026, 4, 20), "week", GREGORIAN_EN), "stages": stages}
    charts.funnel(english, "en")
    drawn[-1].set_title.assert_called_once_with("10 March 2026 to 20 April 2026", fontsize=10)


def test_the_pipeline_title_names_its_days_in_the_workspace_calendar() -> None:
    report = {**_report(date(2026, 3, 21), date(2026, 8, 31), "month", JALALI_FA, expected="1", p10="0", p90="2",
                        amount="3"), "currency": "IRR"}  # fmt: skip
    with mock.patch.object(charts, "banded_bars", return_value=b"") as banded:
        charts.pipeline(report, "fa")
    heading, rows = banded.call_args.args
    assert heading.startswith("فرصت‌های باز ۱ فروردین ۱۴۰۵ تا ۹ شهریور ۱۴۰۵ (IRR)")
    assert [label for label, *_ in rows] == ["فروردین ۱۴۰۵", "اردیبهشت ۱۴۰۵", "خرداد ۱۴۰۵", "تیر ۱۴۰۵",
                                              "مرداد ۱۴۰۵", "شهریور ۱۴۰۵"]  # fmt: skip


def test_the_win_loss_axis_shows_display_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _drawn(monkeypatch)
    report = _report(date(2026, 3, 1), date(2026, 4, 30), "month", JALALI_FA, won=1, lost=2)
    charts.win_loss(report, "fa")
    ticks, labels = drawn[-1].set_xticks.call_args.args
    assert ticks == [0, 1, 2]
    assert labels == [charts.text(p["display_label"]) for p in report["periods"]]
    assert labels == [charts.text("اسفند ۱۴۰۴"), charts.text("فروردین ۱۴۰۵"), charts.text("اردیبهشت ۱۴۰۵")]
    assert "1404-12" not in labels


def test_a_real_chart_is_drawn_with_persian_labels() -> None:
    stages = [{"stage": s, "count": 3, "rate_from_previous": 1.0} for s in ("lead", "mql", "sql", "opportunity",
                                                                           "won", "customer")]  # fmt: skip
    report = {**_report(date(2026, 3, 10), date(2026, 4, 20), "month", JALALI_FA, won=1, lost=2), "stages": stages}
    assert charts.funnel(report, "fa").startswith(b"\x89PNG")
    assert charts.win_loss(report, "fa").startswith(b"\x89PNG")

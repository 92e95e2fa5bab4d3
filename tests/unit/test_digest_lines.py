"""The lines a digest email shows for the pipeline, products, overview and sales forecast, in
English and in Persian (Persian digits, the periods' Persian names as the report gives them), and
when a failed digest is tried again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.domain.reports import schedules as rules
from app.services.reports import overview, pipeline, products, sales_forecast

PERIOD = {"start_date": "2026-12-22", "end_date": "2027-01-20"}


def test_pipeline_lines() -> None:
    figures: dict[str, Any] = {
        "currency": "IRR",
        "stages": [{"count": 2, "amount": "1000.00"}, {"count": 1, "amount": "250.50"}],
        "total": {"count": 3, "overdue": 1, "expected": "600.00", "p10": "0.00", "p90": "1250.50"},
        "periods": [{**PERIOD, "display_label": "دی ۱۴۰۵", "count": 3, "expected": "600.00"}],
        "undated": {"count": 0, "amount": "0.00"},
        "unconverted": [{"currency": "EUR", "count": 1, "amount": "40.00"}],
    }
    assert pipeline.digest_lines(figures, "en") == [
        ("Open opportunities", "3 (1250.50 IRR)"),
        ("Expected won revenue", "600.00 IRR"),
        ("P10 to P90", "0.00 to 1250.50 IRR"),
        ("دی ۱۴۰۵", "600.00 IRR (3 deals)"),
        ("Overdue (counted today)", "1"),
        ("Left out, no exchange rate", "1 (40.00 EUR)"),
    ]
    fa = dict(pipeline.digest_lines(figures, "fa"))
    assert fa["فرصت‌های باز"] == "۳ (۱۲۵۰.۵۰ IRR)" and fa["دی ۱۴۰۵"] == "۶۰۰.۰۰ IRR (۳ فرصت)"


def test_products_lines() -> None:
    figures: dict[str, Any] = {
        "currency": "USD",
        "periods": [{"units": 3, "revenue": "30.00"}, {"units": 1, "revenue": "5.50"}],
        "products": [
            {"sku": "MUG", "name": None, "category": "kitchen", "units": 3, "revenue": "30.00"},
            {"sku": None, "name": None, "category": None, "units": 1, "revenue": "5.50"},
        ],
        "categories": [],
        "unconverted_orders": 2,
    }
    assert products.digest_lines(figures, "en") == [
        ("Revenue", "35.50 USD"),
        ("Units sold", "4"),
        ("MUG", "3 units, 30.00 USD"),
        ("(no SKU)", "1 units, 5.50 USD"),
        ("Orders without an exchange rate yet", "2"),
    ]
    only_categories = {**figures, "products": [], "categories": [{"category": None, "units": 4, "revenue": "35.50"}]}
    assert products.digest_lines(only_categories, "fa")[2] == ("(بدون دسته)", "۴ عدد، ۳۵.۵۰ USD")


def test_overview_lines_leave_out_withheld_sections() -> None:
    figures: dict[str, Any] = {
        "leads": {"by_status": {"new": 2, "contacted": 1, "nurturing": 0},
                  "by_owner": [{"owner_id": None, "count": 2}, {"owner_id": "x", "count": 1}]},
        "sla": {"open_clocks": 1, "breached_today": 0},
        "tasks": None,
        "churn_alerts": {"open": 4},
        "revenue": {"currency": "USD", "month_to_date": "120.00", "previous_month_to_date": "100.00", "change": 0.2},
    }  # fmt: skip
    assert overview.digest_lines(figures, "en") == [
        ("Open leads", "3"),
        ("Unassigned open leads", "2"),
        ("First responses pending", "1"),
        ("First responses missed today", "0"),
        ("Open churn alerts", "4"),
        ("Revenue this month", "120.00 USD (+20.0%)"),
        ("Last month to the same day", "100.00 USD"),
    ]
    assert overview.digest_lines(figures, "fa")[0] == ("سرنخ‌های باز", "۳")


def test_sales_forecast_lines() -> None:
    figures: dict[str, Any] = {
        "metric": "orders",
        "currency": None,
        "model": "ets",
        "history": [{"display_label": "December 2026", "value": "12"}],
        "forecast": [{**PERIOD, "display_label": "January 2027", "value": "14", "lower": "9", "upper": "19"}],
    }
    assert sales_forecast.digest_lines(figures, "en") == [
        ("Last period, December 2026", "12 orders"),
        ("January 2027", "14 orders (9 to 19)"),
        ("Model", "ets"),
    ]
    short = {**figures, "history": [], "forecast": [], "model": "none"}
    assert sales_forecast.digest_lines(short, "fa") == [("پیش‌بینی", "هنوز تاریخچهٔ کافی نیست"), ("مدل", "none")]


def test_a_failed_digest_is_tried_later_and_later_then_the_schedule_pauses() -> None:
    assert [rules.retry_after(n) for n in range(1, 6)] == [
        timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40), timedelta(minutes=80), None]  # fmt: skip
    assert rules.retry_after(1, permanent=True) is None

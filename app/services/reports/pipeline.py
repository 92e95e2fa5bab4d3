"""The pipeline report: the open opportunities by stage and by expected close period (the periods
ahead, from `from`), weighted by each one's probability and by the workspace's own win rate per
stage, and a Monte Carlo forecast of won revenue per period (app/domain/reports/pipeline.py).

- Window: `from` defaults to today (the workspace's local date), `interval` to month, `to` to the
  end of the sixth period from the one holding `from` (today's month cut at today and the next five
  whole months). Placement is by max(expected close date, today): an overdue deal still open lands
  in the period holding today; periods before today hold none.
- Filters: the opportunities list's `account_id` and `type`, and the report filters: `owner_id` the
  deal's owner, `team_id` a deal owned by one of the team's members (now), `source`, `form_id`,
  `utm_campaign`, `campaign_id` the originating lead's (`lead_id`; a deal without one never matches).
- Win rates: calibrated from every live won or lost opportunity of the workspace (the filters do
  not narrow them: an owner's own history is too thin), their stages read from the event log.
- Amounts: the workspace's reporting currency. A deal in another currency is converted at the
  newest rate into the reporting currency effective on or before today, at most the customers
  settings' `exchange_rate_max_age_days` old (the rule orders follow); one without such a rate is
  left out of every figure and counted in `unconverted`, per currency with its own amount.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any, Literal
from uuid import UUID

from app.cpu import run_cpu
from app.domain.customers.orders import Rate, convert, pick_rate
from app.domain.money import formatter
from app.domain.reports import periods as cal
from app.domain.reports import pipeline as rules
from app.domain.reports import scope as ranges
from app.domain.reports.periods import Interval
from app.domain.reports.scope import ReportFilters, ReportScope
from app.services.context import Context
from app.services.customers import orders
from app.services.reports.filters import check, chosen_members
from app.services.reports.scope import calendar_of, period_fields

DEFAULT_INTERVAL: Interval = "month"
DEFAULT_PERIODS = 6  # `to` by default: the end of the sixth period from the one holding `from`
Basis = Literal["calibrated", "stage_probability"]


async def window(
    ctx: Context, first: date | None, last: date | None, interval: Interval, filters: ReportFilters | None = None
) -> ReportScope:
    """The periods ahead: `from` defaults to today (or to `to` when that is before today), `to`
    to the end of the DEFAULT_PERIODS-th period from the one holding `from`; the usual checks
    (`from` after `to`, too long a range, too many periods) as every report's."""
    calendar = await calendar_of(ctx)
    today = calendar.local_date(ctx.now)
    if first is None:
        first = today if last is None or last >= today else last
    if last is None:
        start = cal.period_start(first, interval, calendar)
        for _ in range(DEFAULT_PERIODS):
            start = cal.next_start(start, interval, calendar)
        last = start - timedelta(days=1)
    return ranges.resolve(first, last, interval, calendar, filters or ReportFilters(), today=today)


def _half_even(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / Decimal(denominator)).to_integral_value(rounding=ROUND_HALF_EVEN))


async def _converted(
    ctx: Context, deals: list[dict[str, Any]], today: date
) -> tuple[list[rules.OpenOpportunity], str, dict[str, dict[str, int]]]:
    """(the open deals in the reporting currency, that currency, {currency: {count, amount}} of
    those left out for want of a rate)."""
    locale = await orders.locale(ctx)
    reporting = locale.reporting
    foreign = sorted({d["currency"] for d in deals if d["currency"] != reporting and d["amount_minor"] is not None})
    rates: dict[str, list[Rate]] = defaultdict(list)
    if foreign:
        found = await ctx.exchange_rates.between(foreign, reporting, today - timedelta(days=locale.max_rate_age), today)
        for row in found:
            rates[row["currency"]].append(Rate(row["effective_on"], Decimal(row["rate"])))
    opened: list[rules.OpenOpportunity] = []
    missing: dict[str, dict[str, int]] = {}
    for deal in deals:
        amount, currency, n = deal["amount_minor"], deal["currency"], int(deal["deals"])
        if amount is not None and currency != reporting:
            rate = pick_rate(rates[currency], today, locale.max_rate_age)
            if rate is None:
                left = missing.setdefault(currency, {"count": 0, "amount": 0})
                left["count"] += n
                left["amount"] += amount * n
                continue
            amount = convert(amount, currency, rate.rate, reporting)
        one = rules.OpenOpportunity(deal["stage"], int(deal["probability"]), amount, deal["expected_close_date"])
        opened.extend([one] * n)
    return opened, reporting, missing


async def pipeline(
    ctx: Context,
    covered: ReportScope,
    *,
    seed: int = rules.SEED,
    basis: Basis = "calibrated",
    account_id: UUID | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    repo = ctx.pipeline_report
    filters = covered.filters
    await check(ctx, filters)
    owners = await chosen_members(ctx, filters.team_id, filters.owner_id)
    today = covered.calendar.local_date(ctx.now)
    deals = await repo.open_deals(owners=owners, filters=filters, account_id=account_id, kind=kind)
    opened, currency, missing = await _converted(ctx, deals, today)
    history = await repo.stage_history(rules.OPEN_STAGES)
    # calibrate() counts, per stage, the closed deals that were ever at it: the database counted
    # them, so each stage gets one stand-in per deal (same counts, same rates).
    closed: list[rules.ClosedOpportunity] = []
    for stage, (n, won) in history.items():
        closed += [rules.ClosedOpportunity(True, frozenset({stage}))] * won
        closed += [rules.ClosedOpportunity(False, frozenset({stage}))] * (n - won)
    rates = rules.calibrate(closed, rules.OPEN_STAGES, rules.STAGE_PROBABILITY)
    periods = [(p.start_date, p.end_date) for p in covered.periods]
    forecast = await run_cpu(partial(rules.simulate, opened, rates, periods, seed=seed, today=today, basis=basis))
    money = formatter(currency)

    def expected(value: float) -> str:
        return money(round(value))

    stages = []
    for stage, rate in rates.items():
        mine = [o for o in opened if o.stage == stage]
        amounts = [o.amount_minor or 0 for o in mine]
        stages.append({
            "stage": stage,
            "count": len(mine),
            "without_amount": sum(1 for o in mine if o.amount_minor is None),
            "amount": money(sum(amounts)),
            "weighted_by_stage": money(_half_even(sum(a * o.probability for a, o in zip(amounts, mine, strict=True)),
                                                  100)),
            "weighted_by_history": money(round(math.fsum(a * rate.rate for a in amounts))),
            "win_rate": round(rate.rate, 4),
            "win_rate_source": rate.source,
            "default_probability": round(rate.prior * 100),
            "closed": rate.closed,
            "won": rate.won,
            "observed_win_rate": round(rate.observed, 4) if rate.observed is not None else None,
        })  # fmt: skip
    rows = [
        {
            **period_fields(period),
            "count": p.count,
            "overdue": p.overdue,
            "amount": money(p.amount),
            "expected": expected(p.expected),
            "p10": money(p.p10),
            "p50": money(p.p50),
            "p90": money(p.p90),
        }
        for period, p in zip(covered.periods, forecast.periods, strict=True)
    ]
    total = forecast.total
    return {
        "from": covered.first,
        "to": covered.last,
        "interval": covered.interval,
        "today": today,
        "currency": currency,
        "basis": basis,
        "seed": forecast.seed,
        "draws": forecast.draws,
        "stages": stages,
        "periods": rows,
        "undated": {"count": forecast.undated.count, "amount": money(forecast.undated.amount),
                    "expected": expected(forecast.undated.expected)},
        "outside": {"count": forecast.outside.count, "amount": money(forecast.outside.amount),
                    "expected": expected(forecast.outside.expected)},
        "total": {"count": total.count, "overdue": total.overdue, "amount": money(total.amount),
                  "expected": expected(total.expected), "p10": money(total.p10), "p50": money(total.p50),
                  "p90": money(total.p90)},
        "unconverted": [{"currency": c, "count": v["count"], "amount": formatter(c)(v["amount"])}
                        for c, v in sorted(missing.items())],
    }  # fmt: skip


# -- as a scheduled digest (app/services/reports/digests.py) ---------------------------------------

TITLE = {"en": "Pipeline", "fa": "فرصت‌های باز"}
_WORDS = {
    "en": {"open": "Open opportunities", "expected": "Expected won revenue", "range": "P10 to P90",
           "deals": "{n} deals", "overdue": "Overdue (counted today)", "undated": "Without an expected close date",
           "unconverted": "Left out, no exchange rate", "to": "to"},
    "fa": {"open": "فرصت‌های باز", "expected": "درآمد برندهٔ مورد انتظار", "range": "P10 تا P90",
           "deals": "{n} فرصت", "overdue": "عقب‌افتاده (امروز شمرده شده)", "undated": "بدون تاریخ بستن",
           "unconverted": "کنار گذاشته، بی‌نرخ ارز", "to": "تا"},
}  # fmt: skip


async def digest(ctx: Context, params: Any, scope: ReportScope) -> dict[str, Any]:
    """The open pipeline at the occurrence, the periods ahead from today (`params.interval`,
    default month: six of them), as `GET /v1/reports/pipeline` answers it in JSON; the digest's
    window (the days before the occurrence) does not apply."""
    from app.schemas.reports.pipeline import PipelineReport

    covered = await window(ctx, None, None, params.interval or DEFAULT_INTERVAL, params.filters())
    kind = params.type.value if params.type is not None else None
    result = await pipeline(ctx, covered, seed=params.seed, basis=params.basis, account_id=params.account_id,
                            kind=kind)  # fmt: skip
    return PipelineReport.model_validate(result).model_dump(mode="json", by_alias=True)


def digest_span(figures: Mapping[str, Any], first: date, last: date) -> tuple[date, date]:
    """The days the digest names: the periods ahead it forecast."""
    return date.fromisoformat(figures["from"]), date.fromisoformat(figures["to"])


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """Open deals and their worth, the expected won revenue with its P10-P90 range, each period's
    expectation (up to 12), then overdue, undated and unconverted deals when there are any."""
    words = _WORDS.get(locale, _WORDS["en"])
    currency = figures["currency"]
    total = figures["total"]
    count = sum(s["count"] for s in figures["stages"])
    amount = sum((Decimal(s["amount"]) for s in figures["stages"]), Decimal(0))
    lines = [
        (words["open"], f"{count:,} ({amount} {currency})"),
        (words["expected"], f"{total['expected']} {currency}"),
        (words["range"], f"{total['p10']} {words['to']} {total['p90']} {currency}"),
    ]
    for period in figures["periods"][:12]:
        deals = words["deals"].format(n=period["count"])
        lines.append((period["display_label"], f"{period['expected']} {currency} ({deals})"))
    if total["overdue"]:
        lines.append((words["overdue"], str(total["overdue"])))
    if figures["undated"]["count"]:
        undated = figures["undated"]
        lines.append((words["undated"], f"{undated['count']} ({undated['amount']} {currency})"))
    for left in figures["unconverted"]:
        lines.append((words["unconverted"], f"{left['count']} ({left['amount']} {left['currency']})"))
    return [(label, cal.persian_digits(value)) for label, value in lines] if locale == "fa" else lines

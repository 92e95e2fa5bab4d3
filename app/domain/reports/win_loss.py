"""Win/loss, from the counts the database aggregated: opportunities won and lost (by the day they
closed) and leads disqualified (by the day they were), with their counts and amounts, by reason,
owner, source and period.

Amounts are in the workspace's reporting currency: an opportunity in another currency counts with
its amount converted at the rate of the day it closed (`other_currency_count` says how many are in
another currency); without such a rate it is counted but its amount is not added
(`unconverted_count`). One without an amount counts as 0. Win rate = won / (won + lost), null when
nothing closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OUTCOMES: tuple[str, ...] = ("won", "lost", "disqualified")
DIMENSIONS: tuple[str, ...] = ("reason", "owner", "source", "period")
Format = Callable[[int], str]  # minor units of the reporting currency → decimal string


@dataclass(frozen=True)
class Counted:
    """One aggregated row: the opportunities (or disqualified leads) of an outcome under a key of a
    dimension (a reason, an owner id, a source, a period index; None: none)."""

    outcome: str
    key: Any
    count: int
    amount_minor: int = 0  # in the reporting currency
    other_currency: int = 0  # in another currency (converted into amount_minor, or not: unconverted)
    unconverted: int = 0  # in another currency without a rate: counted, their amounts not in amount_minor


def merged(rows: Iterable[Counted]) -> list[Counted]:
    """One row per (outcome, key): the rows the database returned per currency and day, added up."""
    found: dict[tuple[str, Any], _Tally] = {}
    for row in rows:
        found.setdefault((row.outcome, row.key), _Tally()).add(row)
    return [Counted(outcome, key, t.count, t.amount_minor, t.other_currency, t.unconverted)
            for (outcome, key), t in found.items()]  # fmt: skip


def win_rate(won: int, lost: int) -> float | None:
    return round(won / (won + lost), 4) if won + lost else None


@dataclass
class _Tally:
    count: int = 0
    amount_minor: int = 0
    other_currency: int = 0
    unconverted: int = 0

    def add(self, row: Counted) -> None:
        self.count += row.count
        self.amount_minor += row.amount_minor
        self.other_currency += row.other_currency
        self.unconverted += row.unconverted


def _outcomes(rows: Iterable[Counted]) -> dict[str, _Tally]:
    found = {outcome: _Tally() for outcome in OUTCOMES}
    for row in rows:
        found[row.outcome].add(row)
    return found


def _figures(tallies: Mapping[str, _Tally], money: Format) -> dict[str, Any]:
    won, lost = tallies["won"], tallies["lost"]

    def deals(t: _Tally) -> dict[str, Any]:
        return {"count": t.count, "amount": money(t.amount_minor), "other_currency_count": t.other_currency,
                "unconverted_count": t.unconverted}  # fmt: skip

    return {
        "won": deals(won),
        "lost": deals(lost),
        "win_rate": win_rate(won.count, lost.count),
        "disqualified": {"count": tallies["disqualified"].count},
    }


def totals(period_rows: Iterable[Counted], money: Format) -> dict[str, Any]:
    """won, lost, win_rate and disqualified over the range (every row in it has a period)."""
    return _figures(_outcomes(period_rows), money)


def by_reason(rows: Iterable[Counted], money: Format) -> list[dict[str, Any]]:
    """Won reasons, then lost, then disqualification reasons, each the most frequent first; a
    disqualified lead has no amount (null)."""
    ordered = sorted(rows, key=lambda r: (OUTCOMES.index(r.outcome), -r.count, "" if r.key is None else str(r.key)))
    return [
        {
            "outcome": row.outcome,
            "reason": row.key,
            "count": row.count,
            "amount": money(row.amount_minor) if row.outcome != "disqualified" else None,
        }
        for row in ordered
    ]


def by_group(
    rows: Iterable[Counted], money: Format, key_name: str, names: Mapping[Any, str] | None = None
) -> list[dict[str, Any]]:
    """Per key (an owner, a source; None: none): the figures of `totals`, the groups with the most
    outcomes first. `names` adds a `name` (the owner's)."""
    grouped: dict[Any, list[Counted]] = {}
    for row in rows:
        grouped.setdefault(row.key, []).append(row)
    found = []
    for key, members in grouped.items():
        tallies = _outcomes(members)
        entry: dict[str, Any] = {key_name: None if key is None else str(key)}
        if names is not None:
            entry["name"] = names.get(key)
        entry.update(_figures(tallies, money))
        entry["_size"] = sum(t.count for t in tallies.values())
        found.append(entry)
    found.sort(key=lambda e: (-e["_size"], e[key_name] is None, e[key_name] or ""))
    for entry in found:
        del entry["_size"]
    return found


def periods(rows: Iterable[Counted], period_count: int, money: Format) -> list[dict[str, Any]]:
    """Per period index: won, lost (counts), their amounts, the win rate and disqualified."""
    tallies = [{outcome: _Tally() for outcome in OUTCOMES} for _ in range(period_count)]
    for row in rows:
        if row.key is not None:
            tallies[row.key][row.outcome].add(row)
    return [
        {
            "won": t["won"].count,
            "lost": t["lost"].count,
            "won_amount": money(t["won"].amount_minor),
            "lost_amount": money(t["lost"].amount_minor),
            "win_rate": win_rate(t["won"].count, t["lost"].count),
            "disqualified": t["disqualified"].count,
        }
        for t in tallies
    ]

"""Money: decimal strings in JSON, integer minor units in storage (docs/conventions.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

from app.domain.workspace.workspaces import currency_exponent

MAX_MINOR = 10**17  # fits a BIGINT with room to sum


def to_minor(amount: str | Decimal, currency: str) -> int:
    """The amount in the currency's minor units; ValueError when it is not a number, is negative,
    or has more decimals than the currency has (no silent rounding of money)."""
    if type(amount) is str:  # "12.34" as shops send it: integers only
        units = plain_units(amount.strip(), currency_exponent(currency))
        if units is not None and units >= 0:
            if units >= MAX_MINOR:
                raise ValueError("too large")
            return units
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise ValueError("not a decimal number") from exc
    if not value.is_finite() or value < 0:
        raise ValueError("must be a non-negative decimal number")
    exponent = currency_exponent(currency)
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} has {exponent} decimal places")
    if minor >= MAX_MINOR:
        raise ValueError("too large")
    return int(minor)


def plain_units(text: str, exponent: int) -> int | None:
    """The minor units of a plain decimal string ("12.34", "7", "-0.5": ASCII digits, at most
    `exponent` decimals) in integer arithmetic; None for any other form (left to Decimal)."""
    negative = text.startswith("-")
    whole, dot, fraction = (text[1:] if negative else text).partition(".")
    if not (whole.isascii() and whole.isdigit()):
        return None
    if dot and not (fraction.isascii() and fraction.isdigit() and len(fraction) <= exponent):
        return None
    units: int = int(whole) * 10**exponent + (int(fraction) * 10 ** (exponent - len(fraction)) if dot else 0)
    return -units if negative else units


def from_minor(minor: int, currency: str) -> str:
    """The decimal string of `minor` units (integer arithmetic: exact, and cheap on batch paths)."""
    return formatter(currency)(minor)


@lru_cache(maxsize=512)
def formatter(currency: str) -> Callable[[int], str]:
    """`from_minor` for one currency, as a function: batch paths format a dozen amounts per order,
    and the currency's exponent and template are looked up once."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return str
    scale: int = 10**exponent
    template = f"%d.%0{exponent}d"

    def format_minor(minor: int) -> str:
        if minor < 0:
            return "-" + template % divmod(-minor, scale)
        return template % divmod(minor, scale)

    return format_minor


@lru_cache(maxsize=512)
def parser(currency: str) -> Callable[[str | Decimal], int]:
    """`to_minor` for one currency, as a function: plain amounts ("129.90", "7") read by
    `plain_units` with the exponent looked up once; every other form, and every error, goes
    through `to_minor` itself."""
    exponent = currency_exponent(currency)

    def parse(amount: str | Decimal) -> int:
        if type(amount) is str:
            units = plain_units(amount, exponent)
            if units is not None and 0 <= units < MAX_MINOR:
                return units
        return to_minor(amount, currency)

    return parse


def estimate_text(value: float, exponent: int) -> str:
    """A computed estimate (a CLV, a mean, a percentile: floats from the models) as the decimal string
    the API shows money in, with the currency's `exponent` decimals; a non-finite value shows 0."""
    return f"{value:.{exponent}f}" if math.isfinite(value) else f"{0:.{exponent}f}"


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` with the currency's decimals, rounded half-even (a computed amount: a unit price
    from a subtotal, a quote line's total)."""
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_HALF_EVEN)

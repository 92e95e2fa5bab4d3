"""Workspace locale: phone region (ISO 3166-1 alpha-2), IANA time zone, ISO 4217 currency."""

from __future__ import annotations

import zoneinfo
from functools import cache, lru_cache

import iso4217
import pycountry

DEFAULT_TIMEZONE = "UTC"
DEFAULT_CURRENCY = "USD"


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def is_timezone(name: str) -> bool:
    return name in _timezones()


def is_currency(code: str) -> bool:
    return len(code) == 3 and code.isupper() and code in iso4217.Currency.__members__


@cache
def currency_exponent(code: str) -> int:
    """Digits after the decimal point in the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    exponent = iso4217.Currency[code].exponent
    return int(exponent) if exponent is not None else 0

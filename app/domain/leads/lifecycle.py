"""Lead statuses: new → contacted → nurturing by hand; qualified and disqualified only through
their own actions (which create the account, contact and opportunity, or record the reason)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from app.domain.errors import Conflict


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    NURTURING = "nurturing"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"


EDITABLE = frozenset({LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.NURTURING})


def is_open(lead: Mapping[str, Any]) -> bool:
    """An open lead (new, contacted, nurturing; not archived, not merged, not erased): the one lead
    per email and phone that duplicates are merged into. A closed lead is never merged into; nor is
    an erased one (a capture that found it just before its erasure committed runs again and is a
    new person)."""
    return (
        lead["status"] in EDITABLE
        and lead["archived_at"] is None
        and lead["merged_into_id"] is None
        and lead.get("erased_at") is None
    )


def check_status_change(current: LeadStatus, requested: LeadStatus) -> None:
    if requested == current:
        return
    if requested not in EDITABLE:
        action = "qualify" if requested is LeadStatus.QUALIFIED else "disqualify"
        raise Conflict(f"a lead becomes {requested.value} only through POST /v1/leads/{{id}}/{action}")
    if current not in EDITABLE:
        raise Conflict(f"the lead is {current.value}; reactivate it before changing its status")


class Source(StrEnum):
    WEB_FORM = "web_form"
    LANDING_PAGE = "landing_page"
    CHAT = "chat"
    PHONE = "phone"
    SOCIAL = "social"
    ADS = "ads"
    EVENT = "event"
    BUSINESS_CARD = "business_card"
    REFERRAL = "referral"
    IMPORT = "import"
    OTHER = "other"


ONLINE_SOURCES = frozenset({Source.WEB_FORM, Source.LANDING_PAGE, Source.CHAT, Source.SOCIAL, Source.ADS})

# The 5-minute rule's sources: website and ads leads.
SLA_SOURCES = (Source.WEB_FORM, Source.LANDING_PAGE, Source.CHAT, Source.SOCIAL, Source.ADS)


def default_channel(source: Source) -> str:
    return "online" if source in ONLINE_SOURCES else "offline"


class CompanySize(StrEnum):
    S1_10 = "1-10"
    S11_50 = "11-50"
    S51_200 = "51-200"
    S201_500 = "201-500"
    S501_1000 = "501-1000"
    S1001_5000 = "1001-5000"
    S5001_PLUS = "5001+"

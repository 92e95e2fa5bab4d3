"""Referrals and advocacy, pure: a lead a customer referred is a referral lead, its contact carries
the referrer when it is qualified (a contact's own referrer stands), and advocacy counts rewards
given, so redeeming points never lowers it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import numpy as np
import pytest

from app.domain.analytics import retention
from app.domain.leads import scoring
from app.domain.leads.qualification import contact_from_lead, fill_empty
from app.schemas.workspace.settings import ScoringSettings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RULES = scoring.rules_from_settings(ScoringSettings().model_dump(mode="json"))
SARA = UUID("01a21ccd-7080-7524-9a80-7fc53d31ae93")
ALI = UUID("01a21ccd-7080-7524-9a80-7fc53d31ae94")


def test_a_lead_a_customer_referred_is_a_referral_lead() -> None:
    plain = scoring.score(RULES, {"source": "web_form"}, [], NOW)
    for referral in ({"source": "referral"}, {"source": "web_form", "referred_by_contact_id": SARA},
                     {"source": "web_form", "referred_by_lead_id": ALI}):  # fmt: skip
        result = scoring.score(RULES, referral, [], NOW)
        assert result.fit - plain.fit == Decimal(25), referral
        assert "referred by someone we know" in {line.label for line in result.lines}


def test_qualification_carries_the_referrer_and_keeps_a_contacts_own() -> None:
    lead = {"first_name": "Reza", "email": "reza@example.com", "referred_by_contact_id": SARA}
    assert contact_from_lead(lead)["referred_by_contact_id"] == SARA
    # An existing contact only gets what it lacks: the referrer it names stands.
    assert fill_empty({"referred_by_contact_id": None}, contact_from_lead(lead))["referred_by_contact_id"] == SARA
    assert "referred_by_contact_id" not in fill_empty({"referred_by_contact_id": ALI}, contact_from_lead(lead))


def test_rewards_given_count_what_was_earned_and_redeemed() -> None:
    # 600 earned and kept: 0.6. The same 600 earned, 500 of them redeemed: 1.1, capped at 1.
    # Nothing earned: 0 (the factor applies: no rewards given).
    given = retention.rewards_given(np.array([600.0, 600, 0, 300]), np.array([0.0, 500, 0, 100]))
    assert given.tolist() == pytest.approx([0.6, 1.0, 0.0, 0.4])


def test_redeeming_points_does_not_lower_advocacy() -> None:
    def score(earned: float, redeemed: float) -> float:
        result = retention.advocacy(np.array([1.0]), np.array([1.0]), np.array([4.0]), np.array([earned]),
                                    np.array([redeemed]), np.array([3.0]))  # fmt: skip
        return float(result.score[0])

    hoarding = score(600, 0)
    assert score(600, 500) > hoarding  # redeeming is engagement, not a loss
    assert score(600, 600) >= score(600, 500)
    # The example: referred 1 who bought (1/3), made 1 (1/5), rating 4 ((4-1)/4), 600 points (0.6),
    # 3 purchase days (0.3): weights 0.4, 0.15, 0.2, 0.1, 0.15 over 1.0.
    expected = 100 * (0.4 / 3 + 0.15 / 5 + 0.2 * 0.75 + 0.1 * 0.6 + 0.15 * 0.3)
    assert hoarding == pytest.approx(expected)

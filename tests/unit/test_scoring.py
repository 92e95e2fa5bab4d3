"""Lead scoring rules, pure: bounded, explained to the cent, fading with time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ErrorList
from app.domain.leads import scoring
from app.domain.leads.scoring import Engagement, EngagementType, Stage, Temperature
from app.schemas.settings import ScoringSettings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEFAULTS = ScoringSettings().model_dump(mode="json")
RULES = scoring.rules_from_settings(DEFAULTS)
TYPES = [t.value for t in EngagementType]

engagements = st.lists(
    st.builds(
        Engagement,
        st.sampled_from(TYPES),
        st.integers(min_value=0, max_value=400 * 24).map(lambda h: NOW - timedelta(hours=h)),
    ),
    max_size=60,
)
leads = st.fixed_dictionaries(
    {
        "job_title": st.sampled_from([None, "CEO", "Sales manager", "Intern", "مدیرعامل"]),
        "company_size": st.sampled_from([None, "1-10", "51-200", "5001+"]),
        "company": st.sampled_from([None, "Acme"]),
        "phone": st.sampled_from([None, "+989121234567"]),
        "source": st.sampled_from(["web_form", "referral", "event", "other"]),
        "referred_by_lead_id": st.none(),
        "custom_fields": st.just({}),
        "tags": st.just([]),
    }
)


@settings(max_examples=300, deadline=None)
@given(leads, engagements)
def test_the_score_is_bounded_and_its_lines_sum_to_it_exactly(lead: dict, done: list[Engagement]) -> None:
    result = scoring.score(RULES, lead, done, NOW)
    assert Decimal(0) <= result.score <= Decimal(100)
    assert sum((line.points for line in result.lines), Decimal(0)) == result.score
    assert result.fit <= RULES.fit_cap and result.behavior <= RULES.behavior_cap
    assert result.score == min(max(result.fit + result.behavior, Decimal(0)), Decimal(100))


@settings(max_examples=200, deadline=None)
@given(leads, engagements, st.sampled_from([t for t in TYPES if scoring.DEFAULT_WEIGHTS[t] > 0]))
def test_positive_behaviour_never_lowers_the_score(lead: dict, done: list[Engagement], kind: str) -> None:
    before = scoring.score(RULES, lead, done, NOW)
    after = scoring.score(RULES, lead, [*done, Engagement(kind, NOW - timedelta(days=3))], NOW)
    assert after.score >= before.score
    assert after.behavior >= before.behavior


def test_behaviour_halves_at_the_half_life() -> None:
    lead = {"source": "other"}
    fresh = scoring.score(RULES, lead, [Engagement("demo_request", NOW)], NOW)
    later = scoring.score(RULES, lead, [Engagement("demo_request", NOW)], NOW + timedelta(days=RULES.half_life_days))
    assert fresh.behavior == Decimal("25.00") and later.behavior == Decimal("12.50")
    assert scoring.decay(Decimal(8), timedelta(days=60), 30) == 2.0


def test_caps_and_clamps_are_lines_of_their_own() -> None:
    lead = {
        "job_title": "Founder & CEO",
        "company_size": "5001+",
        "company": "Acme",
        "phone": "1",
        "source": "referral",
    }
    result = scoring.score(RULES, lead, [Engagement("demo_request", NOW)] * 4, NOW)
    parts = [line.part for line in result.lines]
    assert "cap" in parts and result.fit == Decimal(50) and result.behavior == Decimal(50)
    assert result.score == Decimal(100)
    negative = scoring.score(RULES, {"source": "other"}, [Engagement("unsubscribe", NOW)], NOW)
    assert negative.score == 0 and negative.lines[-1].part == "clamp" and negative.lines[-1].points == Decimal(15)


def test_recent_intent_makes_a_lead_hot_and_sales_ready_at_once() -> None:
    result = scoring.score(RULES, {"source": "other"}, [Engagement("demo_request", NOW - timedelta(days=1))], NOW)
    assert (result.temperature, result.stage) == (Temperature.HOT, Stage.SQL)
    assert result.reasons["temperature"] == "recent demo_request"
    stale = scoring.score(RULES, {"source": "other"}, [Engagement("demo_request", NOW - timedelta(days=40))], NOW)
    assert (stale.temperature, stale.stage) == (Temperature.COLD, Stage.IAL)


def test_thresholds_set_temperature_stage_and_bands() -> None:
    assert scoring.classify(RULES, Decimal("29.99"), [], NOW)[:2] == (Temperature.COLD, Stage.IAL)
    assert scoring.classify(RULES, Decimal(30), [], NOW)[:2] == (Temperature.WARM, Stage.IAL)
    assert scoring.classify(RULES, Decimal(45), [], NOW)[:2] == (Temperature.WARM, Stage.MQL)
    assert scoring.classify(RULES, Decimal(75), [], NOW)[:2] == (Temperature.HOT, Stage.SQL)
    assert [scoring.band(RULES, Decimal(x)) for x in (0, 31, 41, 61, 71)] == [0, 1, 2, 3, 4]


def test_referral_leads_score_high_on_fit() -> None:
    referral = scoring.score(RULES, {"source": "referral"}, [], NOW)
    plain = scoring.score(RULES, {"source": "web_form"}, [], NOW)
    assert referral.fit - plain.fit == Decimal(25)


def test_rules_test_custom_fields_tags_and_numbers() -> None:
    values = {
        **DEFAULTS,
        "fit_rules": [
            {"field": "custom.budget", "operator": "gte", "value": 1000, "points": 20, "label": "big budget"},
            {"field": "tags", "operator": "in", "value": ["VIP"], "points": 10},
            {"field": "country", "operator": "equals", "value": "IR", "points": 5},
        ],
    }
    rules = scoring.rules_from_settings(values)
    lead = {"custom_fields": {"budget": 5000}, "tags": ["vip"], "country": "ir"}
    assert [line.points for line in scoring.score(rules, lead, [], NOW).lines] == [20, 10, 5]
    assert scoring.score(rules, {"custom_fields": {"budget": "lots"}, "tags": []}, [], NOW).score == 0


def test_settings_errors_name_the_rule_and_field() -> None:
    values = {
        **DEFAULTS,
        "fit_rules": [
            {"field": "job_title", "operator": "in", "value": "CEO", "points": 5},
            {"field": "shoe_size", "operator": "gte", "value": 40, "points": 5},
            {"field": "custom.budget", "operator": "gte", "value": "many", "points": 5},
        ],
        "temperature_thresholds": {"warm": 70, "hot": 60},
    }
    errors = ErrorList()
    scoring.validate_settings(values, ["budget"], errors)
    assert {e.field for e in errors.errors} == {
        "fit_rules.0.value",
        "fit_rules.1.field",
        "fit_rules.2.value",
        "temperature_thresholds.hot",
    }

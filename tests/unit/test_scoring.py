"""Lead scoring rules, pure: bounded, explained to the cent, fading with time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ErrorList
from app.domain.leads import scoring
from app.domain.leads.scoring import Engagement, EngagementType, Stage, Temperature
from app.schemas.workspace.settings import ScoringSettings

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
    assert (stale.temperature, stale.stage) == (Temperature.COLD, None)
    assert stale.reasons["temperature"] == "1 engagement in 90 days, behaviour < 30.00"


LEGACY = scoring.rules_from_settings(
    {
        **DEFAULTS,
        "temperature_from": "score",
        "mql_requires_acceptance": False,
        "hot_intent": ["demo_request", "pricing_page_view", "meeting_booked"],
    }
)


def test_workspaces_that_keep_the_score_rule_take_temperature_and_stage_from_the_thresholds() -> None:
    def classify(total: str) -> tuple[Temperature, Stage | None]:
        found = scoring.classify(LEGACY, Decimal(total), Decimal(0), [], NOW)
        stage, _, _ = scoring.decide_stage(LEGACY, found.verdict, None)
        return found.temperature, stage

    assert classify("29.99") == (Temperature.COLD, None)
    assert classify("30") == (Temperature.WARM, None)
    assert classify("45") == (Temperature.WARM, Stage.MQL)
    assert classify("75") == (Temperature.HOT, Stage.SQL)
    pricing = scoring.score(LEGACY, {"source": "other"}, [Engagement("pricing_page_view", NOW)], NOW)
    assert pricing.temperature == Temperature.HOT  # its hot_intent still lists pricing_page_view
    assert [scoring.band(RULES, Decimal(x)) for x in (0, 31, 41, 61, 71)] == [0, 1, 2, 3, 4]


REFERRED_CEO = {"source": "referral", "job_title": "CEO"}


def test_a_referred_ceo_who_never_interacted_is_cold_with_no_stage() -> None:
    """The source: cold = gave contact details only and has no interaction. Fit ranks the lead
    (40 points) but never warms it, and a score alone does not make marketing's MQL."""
    result = scoring.score(RULES, REFERRED_CEO, [], NOW)
    assert result.score == Decimal(40) and result.fit == Decimal(40)
    assert (result.temperature, result.stage) == (Temperature.COLD, None)
    assert result.reasons["temperature"] == "no engagement in 90 days"
    assert result.mql_candidate is True  # the score reached MQL: marketing decides
    assert scoring.score(LEGACY, REFERRED_CEO, [], NOW).temperature == Temperature.WARM  # the score rule


def test_a_pricing_page_view_alone_is_not_hot_and_a_demo_or_quote_request_is() -> None:
    """The source: hot = ready to buy within days, asks for a price or a demo."""
    lead = {"source": "web_form"}
    pricing = scoring.score(RULES, lead, [Engagement("pricing_page_view", NOW)], NOW)
    assert pricing.temperature == Temperature.COLD  # one engagement, 10 points of behaviour
    twice = scoring.score(RULES, lead, [Engagement("pricing_page_view", NOW)] * 2, NOW)
    assert twice.temperature == Temperature.WARM and twice.reasons["temperature"] == "2 engagements in 90 days"
    for kind in ("demo_request", "quote_request", "meeting_booked"):
        signal = scoring.score(RULES, lead, [Engagement(kind, NOW - timedelta(days=2))], NOW)
        assert (signal.temperature, signal.stage) == (Temperature.HOT, Stage.SQL), kind
    expired = scoring.score(RULES, lead, [Engagement("quote_request", NOW - timedelta(days=15))], NOW)
    assert expired.temperature == Temperature.COLD  # the intent window (14 days) has passed


def test_warm_is_repeated_engagement_or_a_warm_behaviour_score_within_the_decay_window() -> None:
    lead = {"source": "web_form"}
    old = [Engagement("webinar_attended", NOW - timedelta(days=91)), Engagement("email_click", NOW)]
    assert scoring.score(RULES, lead, old, NOW).temperature == Temperature.COLD  # one of them left the window
    bounces = [Engagement("email_bounce", NOW), Engagement("unsubscribe", NOW), Engagement("email_open", NOW)]
    assert scoring.score(RULES, lead, bounces, NOW).temperature == Temperature.COLD  # no interest in those
    heavy = scoring.rules_from_settings({**DEFAULTS, "behavior_weights": {"webinar_attended": 35}})
    one = scoring.score(heavy, lead, [Engagement("webinar_attended", NOW)], NOW)
    assert one.temperature == Temperature.WARM and one.reasons["temperature"] == "behaviour ≥ 30.00"


def test_ial_is_a_lead_that_only_sought_free_information() -> None:
    lead = {"source": "web_form"}
    download = scoring.score(RULES, lead, [Engagement("content_download", NOW)], NOW)
    assert download.stage == Stage.IAL and download.reasons["stage"] == "only free information (content_download)"
    newsletter = [Engagement("newsletter_signup", NOW - timedelta(days=5)), Engagement("content_download", NOW)]
    both = scoring.score(RULES, lead, newsletter, NOW)
    assert (both.stage, both.temperature) == (Stage.IAL, Temperature.WARM)  # stage and temperature are apart
    more = scoring.score(RULES, lead, [*newsletter, Engagement("webinar_attended", NOW)], NOW)
    assert more.stage is None  # other engagement: no longer only free information
    faded = [Engagement("webinar_attended", NOW - timedelta(days=120)), Engagement("content_download", NOW)]
    assert scoring.score(RULES, lead, faded, NOW).stage == Stage.IAL  # outside the decay window
    assert scoring.score(RULES, lead, [], NOW).stage is None  # contact details only: no stage yet


def test_an_mql_waits_for_marketing_unless_the_workspace_lets_the_score_decide() -> None:
    lead = {"source": "referral", "job_title": "CEO", "company_size": "501-1000"}  # fit 50
    clicks = [Engagement("email_click", NOW)] * 2
    waiting = scoring.score(RULES, lead, clicks, NOW)
    assert (waiting.stage, waiting.mql_candidate, waiting.verdict) == (None, True, Stage.MQL)
    assert waiting.reasons["mql_candidate"].startswith("score ≥ 40.00")
    accepted = scoring.StageState(Stage.MQL, manual=True, verdict=Stage.MQL)
    kept = scoring.score(RULES, lead, clicks, NOW, accepted)
    assert (kept.stage, kept.mql_candidate) == (Stage.MQL, False)
    more = [*clicks, Engagement("webinar_attended", NOW), Engagement("webinar_attended", NOW)]
    assert scoring.score(RULES, lead, more, NOW, accepted).stage == Stage.SQL  # an MQL moves on by its score
    automatic = scoring.rules_from_settings({**DEFAULTS, "mql_requires_acceptance": False})
    moved = scoring.score(automatic, lead, clicks, NOW)
    assert (moved.stage, moved.mql_candidate) == (Stage.MQL, False)
    demo = scoring.score(RULES, {"source": "web_form"}, [Engagement("demo_request", NOW)], NOW)
    assert (demo.stage, demo.mql_candidate) == (Stage.SQL, False)  # a sales intent needs no acceptance


def test_automatic_changes_never_lower_a_stage_a_person_set_and_raise_it_only_on_a_new_signal() -> None:
    lead = {"source": "web_form"}
    rules = scoring.rules_from_settings({**DEFAULTS, "mql_requires_acceptance": False})
    # A person made a lead with no signal an SQL: nothing the rules say lowers it.
    promoted = scoring.StageState(Stage.SQL, manual=True, verdict=None)
    assert scoring.score(rules, lead, [], NOW, promoted).stage == Stage.SQL
    # A person lowered an SQL (demo requested) to MQL: the same demo does not raise it again...
    lowered = scoring.StageState(Stage.MQL, manual=True, verdict=Stage.SQL)
    demo = [Engagement("demo_request", NOW - timedelta(days=3))]
    assert scoring.score(rules, lead, demo, NOW, lowered).stage == Stage.MQL
    # ...nor does its verdict falling once the demo is old; a new signal after that does.
    faded = scoring.StageState(Stage.MQL, manual=True, verdict=None)
    assert scoring.score(rules, lead, [Engagement("demo_request", NOW - timedelta(days=30))], NOW, lowered).stage == (
        Stage.MQL
    )
    assert scoring.score(rules, lead, [Engagement("quote_request", NOW)], NOW, faded).stage == Stage.SQL
    # Left to the rules, a stage follows them down as well as up.
    automatic = scoring.StageState(Stage.SQL, manual=False, verdict=Stage.SQL)
    assert scoring.score(rules, lead, [], NOW, automatic).stage is None


def test_marketing_turning_a_candidate_down_holds_until_the_score_rises_again() -> None:
    lead = {"source": "referral", "job_title": "CEO"}  # fit 40: a candidate at once
    rejected = scoring.StageState(None, manual=True, mql_candidate=False, verdict=Stage.MQL)
    again = scoring.score(RULES, lead, [], NOW, rejected)
    assert (again.stage, again.mql_candidate) == (None, False)
    higher = [Engagement("webinar_attended", NOW)] * 3  # 40 + 30: the score now says SQL
    risen = scoring.score(RULES, lead, higher, NOW, rejected)
    assert (risen.stage, risen.mql_candidate) == (None, True)  # flagged again; still marketing's call


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

"""First-response SLA and routing rules, pure."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.leads import routing, sla
from app.domain.leads.lifecycle import SLA_SOURCES
from app.domain.leads.routing import Condition, Member, Routing, Rule, Target
from app.domain.leads.sla import SlaPolicy, SlaStatus
from app.domain.workspace.calendar import MONDAY_TO_FRIDAY, BusinessHours, default_week

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday
FIVE_MINUTES = SlaPolicy(300, None, None, None)


def test_the_sla_covers_every_source_but_import_unless_narrowed() -> None:
    assert sla.applies(FIVE_MINUTES, "web_form", "ial")
    assert not sla.applies(FIVE_MINUTES, "import", "ial")
    narrowed = SlaPolicy(300, frozenset({"web_form"}), frozenset({"sql"}), None)
    assert sla.applies(narrowed, "web_form", "sql")
    assert not sla.applies(narrowed, "chat", "sql")
    assert not sla.applies(narrowed, "web_form", "mql")


def test_the_5_minute_rule_covers_website_and_ads_leads_in_the_regions_working_hours() -> None:
    """The default policy: online sources only, on the region's week (Saturday-Wednesday in Iran)."""
    tehran = BusinessHours("Asia/Tehran", default_week("IR"), time(9), time(17))
    rule = SlaPolicy(300, frozenset(SLA_SOURCES), None, tehran)
    for offline in ("business_card", "event", "phone", "import", "referral", "other"):
        assert not sla.applies(rule, offline, "ial"), offline  # sla_status: not_applicable
    for online in ("web_form", "landing_page", "chat", "social", "ads"):
        assert sla.applies(rule, online, "ial"), online
    assert sla.applies(replace(rule, sources=frozenset({"web_form", "phone"})), "phone", "ial")  # named: covered
    thursday_8pm = datetime(2026, 12, 10, 20, 0, tzinfo=ZoneInfo("Asia/Tehran"))
    assert sla.due_at(rule, thursday_8pm) == datetime(2026, 12, 12, 9, 5, tzinfo=ZoneInfo("Asia/Tehran"))  # Saturday


def test_only_a_members_outbound_human_touch_is_a_response() -> None:
    member = uuid.uuid4()
    assert sla.is_response("call", "outbound", False, member)
    assert sla.is_response("whatsapp", "outbound", False, member)
    assert not sla.is_response("email", "outbound", True, member)  # auto-reply, sequence email
    assert not sla.is_response("email", "inbound", False, member)  # the lead wrote to us
    assert not sla.is_response("note", "outbound", False, member)
    assert not sla.is_response("call", "outbound", False, None)  # logged by a tool, not a member


def test_a_response_by_the_deadline_meets_it_and_a_late_one_breaches_it() -> None:
    due = sla.due_at(FIVE_MINUTES, NOW)
    assert due == NOW + timedelta(minutes=5)
    met = sla.judge(FIVE_MINUTES, SlaStatus.PENDING, NOW, due, NOW + timedelta(minutes=4))
    assert (met.status, met.seconds) == (SlaStatus.MET, 240)
    late = sla.judge(FIVE_MINUTES, SlaStatus.PENDING, NOW, due, NOW + timedelta(minutes=6))
    assert late.status == SlaStatus.BREACHED
    # A breach the worker recorded stays a breach; a response "before" capture counts at capture.
    assert sla.judge(FIVE_MINUTES, SlaStatus.BREACHED, NOW, due, NOW).status == SlaStatus.BREACHED
    early = sla.judge(FIVE_MINUTES, SlaStatus.PENDING, NOW, due, NOW - timedelta(hours=1))
    assert (early.responded_at, early.seconds, early.status) == (NOW, 0, SlaStatus.MET)


def test_response_time_is_working_time_with_business_hours() -> None:
    hours = BusinessHours("UTC", MONDAY_TO_FRIDAY, time(9), time(17))
    policy = SlaPolicy(300, None, None, hours)
    friday_late = datetime(2026, 11, 27, 16, 58, tzinfo=UTC)
    due = sla.due_at(policy, friday_late)
    assert due == datetime(2026, 11, 30, 9, 3, tzinfo=UTC)  # Monday
    answered = sla.judge(policy, SlaStatus.PENDING, friday_late, due, datetime(2026, 11, 30, 9, 1, tzinfo=UTC))
    assert (answered.status, answered.seconds) == (SlaStatus.MET, 180)


def test_buckets() -> None:
    assert [sla.bucket(s) for s in (0, 299, 300, 1799, 3599, 3600, 86399, 86400, None)] == [
        "under_5m",
        "under_5m",
        "5m_30m",
        "5m_30m",
        "30m_60m",
        "1h_24h",
        "1h_24h",
        "over_24h",
        "never",
    ]


def _member(open_leads: int = 0, **kw: object) -> Member:
    values: dict[str, object] = {"active": True, "available": True, "capacity": None, "hours": None}
    values.update(kw)
    return Member(uuid.uuid4(), open_leads=open_leads, **values)  # type: ignore[arg-type]


def test_rules_match_in_order_and_hot_leads_skip_them() -> None:
    iran, sales, fallback = Target(team_id=uuid.uuid4()), uuid.uuid4(), Target(member_id=uuid.uuid4())
    table = Routing(
        (
            Rule(Condition(countries=frozenset({"IR"}), sources=frozenset({"web_form"})), iran),
            Rule(Condition(tags_any=frozenset({"vip"}), score_min=50), Target(member_id=uuid.uuid4())),
            Rule(Condition(), fallback),
        ),
        hot_team_id=sales,
    )
    lead = {"country": "IR", "source": "web_form", "temperature": "cold", "score": 10}
    assert routing.route(table, lead) == routing.Decision(iran, "rule", 0)
    assert routing.route(table, {**lead, "country": "DE"}, ["vip"]).rule_index == 2  # type: ignore[union-attr]
    assert routing.route(table, {**lead, "country": "DE", "score": 60}, ["vip"]).rule_index == 1  # type: ignore[union-attr]
    assert routing.route(table, {**lead, "temperature": "hot"}) == routing.Decision(Target(team_id=sales), "hot_lead")
    assert routing.route(Routing((Rule(Condition(countries=frozenset({"IR"})), iran),)), {"country": "DE"}) is None


def test_custom_field_and_province_conditions() -> None:
    condition = Condition(provinces=frozenset({"tehran"}), custom_fields={"budget": 100})
    assert condition.holds({"province": "Tehran", "custom_fields": {"budget": 100}}, [])
    assert not condition.holds({"province": "Tehran", "custom_fields": {"budget": 50}}, [])
    assert not condition.holds({"province": "Isfahan", "custom_fields": {"budget": 100}}, [])


def test_round_robin_skips_whoever_cannot_take_a_lead() -> None:
    at_work = routing.WorkingHours("UTC", MONDAY_TO_FRIDAY, time(9), time(17))
    night_shift = routing.WorkingHours("UTC", MONDAY_TO_FRIDAY, time(0), time(6))
    team = [
        _member(active=False),
        _member(available=False),
        _member(open_leads=3, capacity=3),
        _member(hours=night_shift),
        _member(hours=at_work),
        _member(),
    ]
    members = {m.id: m for m in team}
    order = [m.id for m in team]
    assert routing.round_robin(order, 0, members, NOW) == (team[4].id, 5)
    assert routing.round_robin(order, 5, members, NOW) == (team[5].id, 0)
    assert routing.round_robin(order, 5, members, NOW, skip=team[5].id) == (team[4].id, 5)
    nobody = {m.id: Member(m.id, False, True, 0, None) for m in team}
    assert routing.round_robin(order, 2, nobody, NOW) == (None, 2)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=20), st.integers(min_value=0))
def test_round_robin_is_fair(size: int, rounds: int, start: int) -> None:
    team = [_member() for _ in range(size)]
    members, order = {m.id: m for m in team}, [m.id for m in team]
    position, counts = start % size, Counter[uuid.UUID]()
    for _ in range(size * rounds):
        chosen, position = routing.round_robin(order, position, members, NOW)
        assert chosen is not None
        counts[chosen] += 1
    assert set(counts.values()) == {rounds}

"""Per-feature settings sections (`/v1/settings/{section}`); a feature with settings adds its section here."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.domain.customers.opportunities import DEFAULT_LOST_REASONS, DEFAULT_WON_REASONS
from app.domain.leads import scoring
from app.domain.leads.lifecycle import SLA_SOURCES, Source
from app.domain.leads.qualification import DISQUALIFICATION_REASONS
from app.domain.leads.scoring import EngagementType, Operator, StageFilter, Temperature
from app.domain.leads.sla import Escalation
from app.domain.workspace.retention import DEFAULT_DAYS as RETENTION_DEFAULTS
from app.schemas.campaigns.settings import CampaignSettings, CampaignSettingsRead, CampaignSettingsUpdate
from app.schemas.common import RequestModel, ResourceRead, TimeZone
from app.schemas.outreach.settings import MessagingSettings, MessagingSettingsRead, MessagingSettingsUpdate
from app.schemas.weekdays import LocalTime, Weekday


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key_hours: int = Field(
        default=24, ge=1, le=168, description="How long a POST's result is replayed for its Idempotency-Key"
    )
    webhook_response_excerpt_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="How long webhook delivery attempts keep the receiver's response excerpt (cleared by the "
        "nightly retention job). 30: a receiver's reply is for debugging a delivery, done within days",
    )
    # Retention classes, enforced by the nightly `retention.enforce` job (app/services/workspace/retention.py).
    # Workspaces created before migration 0044 keep null (kept) for form submissions, message bodies and
    # privacy exports.
    form_submission_days: int | None = Field(
        default=RETENTION_DEFAULTS["form_submission_days"],
        ge=1,
        le=3650,
        description="How long form submissions keep their raw `fields` and the IP address and user agent in "
        "`meta`; then these are cleared nightly (the submission, its lead, form, time, spam flag and consent "
        "proof stay). 180: what a form maps is already on the lead, and the raw copy and the IP are only "
        "needed to look into spam, abuse or a disputed submission, which happens within months. null = kept "
        "(workspaces that existed before migration 0044 keep null)",
    )
    message_body_days: int | None = Field(
        default=RETENTION_DEFAULTS["message_body_days"],
        ge=1,
        le=3650,
        description="How long messages keep their rendered subject and bodies once they will not be sent again; "
        "then they are cleared nightly (recipient, status, history, template version and tracked links stay). "
        "365: long enough to answer what a person was sent and to compare a campaign with last year's; the "
        "template version still shows what went. null = kept (workspaces that existed before migration 0044 keep null)",
    )
    archived_lead_days: int | None = Field(
        default=RETENTION_DEFAULTS["archived_lead_days"],
        ge=1,
        le=3650,
        description="How long an archived lead that never converted (never qualified, no contact, account or "
        "opportunity) keeps its personal data; then it is anonymised nightly: name, email, phone, company, job "
        "title, city, external id, referrer and landing page, custom fields and the disqualification note are "
        "cleared and the events about it redacted, while the lead itself (status, source, stage, score, owner, "
        "tags, dates) stays for the reports. null = off, the default: anonymising cannot be undone, and how long "
        "a lost prospect may be kept depends on the workspace's sales cycle and legal basis",
    )
    privacy_export_days: int | None = Field(
        default=RETENTION_DEFAULTS["privacy_export_days"],
        ge=1,
        le=3650,
        description="How long a privacy export (everything kept about one person) stays downloadable; then it "
        "is deleted nightly. 7: a week is time enough to fetch it, and every further day is one more copy of a "
        "person's data at rest. null = kept (workspaces that existed before migration 0044 keep null)",
    )
    # Customer retention: what follows a churn alert.
    rescue_tasks: bool = Field(
        default=True,
        description="When a churn alert is raised, give the customer's owner a rescue task (workspaces created "
        "before 2026-12-06 keep false)",
    )
    rescue_task_due_days: int = Field(default=2, ge=0, le=90, description="The rescue task is due this many days later")
    rescue_window_days: int = Field(
        default=60,
        ge=1,
        le=730,
        description="An alerted customer who orders within this many days is rescued (customer.rescued); "
        "one who does not, churned (customer.churned)",
    )
    # Referrals: an automatic reward for the referrer when the person they referred first buys.
    referral_reward_points: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="Loyalty points credited to the referrer (an `earn` entry, reference `referral:<contact id of "
        "the referred person>`, recorded once) when a contact who names them as referrer makes a first purchase; "
        "null or 0: no automatic reward",
    )
    audit_log_days: int = Field(
        default=730,
        ge=1,
        le=3650,
        description="How long the audit log keeps its entries; older ones are purged nightly from the start of the "
        "chain, whose last purged entry stays the anchor verification starts from",
    )


class RetentionSettingsUpdate(RequestModel):
    idempotency_key_hours: int = Field(default=None, ge=1, le=168)  # type: ignore[assignment]
    webhook_response_excerpt_days: int = Field(default=None, ge=0, le=365)  # type: ignore[assignment]
    rescue_tasks: bool = Field(default=None)  # type: ignore[assignment]
    rescue_task_due_days: int = Field(default=None, ge=0, le=90)  # type: ignore[assignment]
    rescue_window_days: int = Field(default=None, ge=1, le=730)  # type: ignore[assignment]
    # Strict: a retention class removes data, so `true` or "30" is a mistake to answer, not a number of days.
    message_body_days: int | None = Field(default=None, ge=1, le=3650, strict=True)
    form_submission_days: int | None = Field(default=None, ge=1, le=3650, strict=True)
    archived_lead_days: int | None = Field(default=None, ge=1, le=3650, strict=True)
    privacy_export_days: int | None = Field(default=None, ge=1, le=3650, strict=True)
    referral_reward_points: int | None = Field(default=None, ge=0, le=1_000_000)
    # Strict too: the nightly purge deletes the log's entries older than this.
    audit_log_days: int = Field(default=None, ge=1, le=3650, strict=True)  # type: ignore[assignment]


class RetentionSettingsRead(RetentionSettings, ResourceRead):
    pass


TemperatureBasis = Literal["engagement", "score"]
Points = Field(ge=-100, le=100, allow_inf_nan=False)
Weight = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]


class FitRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        max_length=80,
        description="industry, job_title, company, company_size, country, province, city, source, channel, tags, "
        "email, phone, referral (true for a lead whose source is referral or that names the lead or customer who "
        "referred it), or custom.<key>",
    )
    operator: Operator
    value: Any = Field(description="A value, a list (in, contains_any), a number (gte, lte) or a boolean (exists)")
    points: float = Points
    label: str | None = Field(default=None, max_length=100, description="How the rule reads in a score's explanation")


class TemperatureThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warm: float = Field(default=30, ge=0, le=100)
    hot: float = Field(default=60, ge=0, le=100)


class StageThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mql: float = Field(default=40, ge=0, le=100)
    sql: float = Field(default=70, ge=0, le=100)


class ScoringSettings(BaseModel):
    """Score = fit (capped) + behaviour (capped, each engagement's points halving every half-life),
    clamped to 0-100."""

    model_config = ConfigDict(extra="forbid")

    fit_rules: list[FitRule] = Field(
        default_factory=lambda: [FitRule.model_validate(r) for r in scoring.DEFAULT_FIT_RULES], max_length=200
    )
    behavior_weights: dict[EngagementType, Weight] = Field(
        default_factory=lambda: {EngagementType(k): v for k, v in scoring.DEFAULT_WEIGHTS.items()},
        description="Points one engagement of each type is worth when it happens (negative allowed)",
    )
    half_life_days: float = Field(default=30, gt=0, le=3650, description="Behaviour points halve every this many days")
    fit_cap: float = Field(default=50, ge=0, le=100)
    behavior_cap: float = Field(default=50, ge=0, le=100)
    temperature_thresholds: TemperatureThresholds = Field(default_factory=TemperatureThresholds)
    stage_thresholds: StageThresholds = Field(default_factory=StageThresholds)
    temperature_from: TemperatureBasis = Field(
        default="engagement",
        description="`engagement`: temperature is behaviour only (hot: a buying signal from `hot_intent` within "
        "`intent_days`; warm: two or more engagements within the decay window `engagement_window_days`, or a "
        "behaviour score at the warm threshold; cold: otherwise); the fit score only ranks. `score`: temperature "
        "follows the total score's thresholds (workspaces created before 2026-12-06 keep this)",
    )
    hot_intent: list[EngagementType] = Field(
        default_factory=lambda: [
            EngagementType.DEMO_REQUEST,
            EngagementType.QUOTE_REQUEST,
            EngagementType.MEETING_BOOKED,
        ],
        description="Buying signals: engagements that make a lead hot at once while recent (intent_days)",
    )
    sales_intent: list[EngagementType] = Field(
        default_factory=lambda: [
            EngagementType.DEMO_REQUEST,
            EngagementType.QUOTE_REQUEST,
            EngagementType.MEETING_BOOKED,
        ],
        description="Engagements that make a lead sales-qualified (SQL) at once while recent",
    )
    intent_days: float = Field(default=14, gt=0, le=365)
    information_intent: list[EngagementType] = Field(
        default_factory=lambda: [EngagementType.CONTENT_DOWNLOAD, EngagementType.NEWSLETTER_SIGNUP],
        description="Engagements that only seek free information: a lead whose every engagement within the "
        "decay window is one of these is an IAL (information-acquisition lead)",
    )
    engagement_window_days: float = Field(
        default=90,
        gt=0,
        le=3650,
        description="The decay window: engagements older than this count for neither temperature nor the IAL "
        "stage (their faded points still count in the behaviour score). 90 days are three half-lives of the "
        "default 30: an engagement is worth an eighth of its points by then",
    )
    mql_requires_acceptance: bool = Field(
        default=True,
        description="true: a score at the MQL threshold only flags the lead `mql_candidate` (event "
        "lead.mql_candidate_flagged) until marketing sets `stage: mql`; false: the score moves the lead to MQL "
        "(workspaces created before 2026-12-06 keep false)",
    )


class ScoringSettingsUpdate(RequestModel):
    fit_rules: list[FitRule] = Field(default=None, max_length=200)  # type: ignore[assignment]
    behavior_weights: dict[EngagementType, Weight] = None  # type: ignore[assignment]
    half_life_days: float = Field(default=None, gt=0, le=3650)  # type: ignore[assignment]
    fit_cap: float = Field(default=None, ge=0, le=100)  # type: ignore[assignment]
    behavior_cap: float = Field(default=None, ge=0, le=100)  # type: ignore[assignment]
    temperature_thresholds: TemperatureThresholds = None  # type: ignore[assignment]
    stage_thresholds: StageThresholds = None  # type: ignore[assignment]
    hot_intent: list[EngagementType] = None  # type: ignore[assignment]
    sales_intent: list[EngagementType] = None  # type: ignore[assignment]
    intent_days: float = Field(default=None, gt=0, le=365)  # type: ignore[assignment]
    temperature_from: TemperatureBasis = None  # type: ignore[assignment]
    mql_requires_acceptance: bool = None  # type: ignore[assignment]
    information_intent: list[EngagementType] = None  # type: ignore[assignment]
    engagement_window_days: float = Field(default=None, gt=0, le=3650)  # type: ignore[assignment]


class ScoringSettingsRead(ScoringSettings, ResourceRead):
    pass


# section name -> (stored model, update model, read model)
SECTIONS: dict[str, tuple[type[BaseModel], type[BaseModel], type[ResourceRead]]] = {
    "retention": (RetentionSettings, RetentionSettingsUpdate, RetentionSettingsRead),
    "scoring": (ScoringSettings, ScoringSettingsUpdate, ScoringSettingsRead),
}


# -- first-response SLA ----------------------------------------------------------------------------


class BusinessHoursSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: TimeZone | None = Field(default=None, description="IANA time zone; null = the workspace's")
    days: list[Weekday] | None = Field(
        default=None,
        max_length=7,
        description="Working days; null = the usual week of the workspace's region (Saturday-Wednesday in Iran, "
        "Sunday-Thursday in much of the Arab world, Monday-Friday elsewhere)",
    )
    start: LocalTime = Field(default=time(9, 0), description="Local opening time, e.g. 09:00")
    end: LocalTime = Field(default=time(17, 0), description="Local closing time, after `start`")
    holidays: list[date] = Field(
        default_factory=list, max_length=1000, description="The workspace's own extra local dates with no working time"
    )
    region_holidays: bool = Field(
        default=True,
        description="Also no working time on the public holidays of the workspace's region (`default_region`, "
        "from the `holidays` package, which knows Iran's; a region it does not know has none); business hours "
        "stored before 2026-12-06 keep false",
    )
    removed_holidays: list[date] = Field(
        default_factory=list,
        max_length=1000,
        description="Region holidays that are working days here after all (local dates); days off = (region "
        "holidays + `holidays`) - `removed_holidays`",
    )

    @field_validator("removed_holidays")
    @classmethod
    def _not_also_added(cls, value: list[date], info: ValidationInfo) -> list[date]:
        both = sorted(set(value) & set(info.data.get("holidays") or ()))
        if both:
            raise ValueError(f"{both[0].isoformat()} is also in holidays: a day is either off or worked")
        return value

    @model_validator(mode="after")
    def _ends_after_start(self) -> BusinessHoursSettings:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.days is not None and not self.days:
            raise ValueError("give at least one working day, or null for the region's week")
        return self


class SlaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    target_seconds: int = Field(
        default=300, ge=1, le=30 * 86400, description="First-response target in working seconds (5 minutes)"
    )
    sources: list[Source] | None = Field(
        default_factory=lambda: [Source(s) for s in SLA_SOURCES],
        description="Sources the SLA applies to (the 5-minute rule: website and ads leads); leads from other "
        "sources have `sla_status: not_applicable`; null = every source but `import` (what workspaces created "
        "before 2026-12-06 keep)",
    )
    stages: list[StageFilter] | None = Field(
        default=None, description="Stages (at capture) it applies to, `none` for leads with no stage yet; null = all"
    )
    business_hours: BusinessHoursSettings | None = Field(
        default_factory=BusinessHoursSettings,
        description="The clock runs only in working time: by default the region's week, 09:00-17:00, without "
        "the region's public holidays; null = around the clock (what workspaces created before 2026-12-06 keep)",
    )
    escalation: Escalation = Field(
        default=Escalation.NONE,
        description="On breach: `reassign` to the next member of the lead's team, or `notify_manager` "
        "(event lead.sla_escalated naming the owner's manager)",
    )


class SlaSettingsUpdate(RequestModel):
    enabled: bool = None  # type: ignore[assignment]
    target_seconds: int = Field(default=None, ge=1, le=30 * 86400)  # type: ignore[assignment]
    sources: list[Source] | None = None
    stages: list[StageFilter] | None = None
    business_hours: BusinessHoursSettings | None = None
    escalation: Escalation = None  # type: ignore[assignment]


class SlaSettingsRead(SlaSettings, ResourceRead):
    pass


# -- routing ---------------------------------------------------------------------------------------
class RoutingCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    countries: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(default_factory=list, max_length=300)
    provinces: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=300)
    sources: list[Source] = Field(default_factory=list)
    temperatures: list[Temperature] = Field(default_factory=list)
    stages: list[StageFilter] = Field(default_factory=list, description="`none`: leads with no stage yet")
    score_min: float | None = Field(default=None, ge=0, le=100)
    score_max: float | None = Field(default=None, ge=0, le=100)
    tags_any: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=100)
    custom_fields: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=50)


class RoutingRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    when: RoutingCondition = Field(default_factory=RoutingCondition, description="Every given part must hold")
    member_id: UUID | None = Field(default=None, description="Assign to this member...")
    team_id: UUID | None = Field(default=None, description="...or round-robin within this team")

    @model_validator(mode="after")
    def _one_target(self) -> RoutingRule:
        if (self.member_id is None) == (self.team_id is None):
            raise ValueError("give exactly one of member_id and team_id")
        return self


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RoutingRule] = Field(
        default_factory=list, max_length=100, description="In order: the first rule a new lead matches decides"
    )
    hot_team_id: UUID | None = Field(default=None, description="Hot leads go straight to this (sales) team")


class RoutingSettingsUpdate(RequestModel):
    rules: list[RoutingRule] = Field(default=None, max_length=100)  # type: ignore[assignment]
    hot_team_id: UUID | None = None


class RoutingSettingsRead(RoutingSettings, ResourceRead):
    pass


# -- qualification and opportunities ---------------------------------------------------------
Reason = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class DisqualificationReasons(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasons: list[Reason] = Field(
        default_factory=lambda: list(DISQUALIFICATION_REASONS), min_length=1, max_length=100,
        description="What POST /v1/leads/{id}/disqualify accepts as `reason`",
    )  # fmt: skip


class DisqualificationReasonsUpdate(RequestModel):
    reasons: list[Reason] = Field(default=None, min_length=1, max_length=100)  # type: ignore[assignment]


class DisqualificationReasonsRead(DisqualificationReasons, ResourceRead):
    pass


class OpportunityReasons(BaseModel):
    model_config = ConfigDict(extra="forbid")

    won: list[Reason] = Field(default_factory=lambda: list(DEFAULT_WON_REASONS), min_length=1, max_length=100)
    lost: list[Reason] = Field(default_factory=lambda: list(DEFAULT_LOST_REASONS), min_length=1, max_length=100)


class OpportunityReasonsUpdate(RequestModel):
    won: list[Reason] = Field(default=None, min_length=1, max_length=100)  # type: ignore[assignment]
    lost: list[Reason] = Field(default=None, min_length=1, max_length=100)  # type: ignore[assignment]


class OpportunityReasonsRead(OpportunityReasons, ResourceRead):
    pass


OnDuplicate = Literal["merge", "reject"]


class DeduplicationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fuzzy_threshold: float = Field(
        default=80, ge=50, le=100, description="Least similarity (0-100) for a name/company match to be listed"
    )
    update_matched_lead: bool = Field(
        default=True,
        description="A submission matching an open lead (same email or phone) fills the lead's empty fields "
        "and adds its tags; false: it is only recorded on the lead. Risk: website forms are public, so anyone "
        "who knows (or guesses) a person's email or phone can write into the empty fields of that person's "
        "lead (a wrong company, a phone of their choosing, which later submissions then match on). Each "
        "filled field is shown on the lead's timeline (its `form_submit` engagement: `filled_fields`, "
        "`added_tags`, `submission_id`). Turn it off where only people your team trusts should shape a lead.",
    )
    link_existing_contacts: bool = Field(
        default=True,
        description="A submission from an existing contact is recorded on them as a returning customer "
        "instead of creating a lead",
    )
    on_duplicate: OnDuplicate = Field(
        default="merge",
        description="What POST /v1/leads, its batch and lead imports do with a lead whose email or phone matches "
        "an open lead exactly: `merge` it into that lead (200, event lead.merged with source `request`), or "
        "`reject` it (409 naming `existing_lead_id`); a request's `on_duplicate` query parameter overrides it "
        "(workspaces created before 2026-12-06 keep reject)",
    )
    auto_merge_threshold: float | None = Field(
        default=None,
        ge=50,
        le=100,
        allow_inf_nan=False,
        description="Fuzzy matches at or above this confidence (0-100) are merged automatically (undo within "
        "30 days: POST /v1/leads/{id}/unmerge); null = suggest only. The confidence is the similarity GET "
        "/v1/leads/{id}/duplicates lists (0.6 name + 0.4 company similarity; a name alone at most 70). The worker "
        "merges a new lead into the older open lead it matches best, filling only what that lead lacks, unless both "
        "have an email (or both a phone) and they differ",
    )


class DeduplicationSettingsUpdate(RequestModel):
    fuzzy_threshold: float = Field(default=None, ge=50, le=100)  # type: ignore[assignment]
    update_matched_lead: bool = None  # type: ignore[assignment]
    link_existing_contacts: bool = None  # type: ignore[assignment]
    on_duplicate: OnDuplicate = None  # type: ignore[assignment]
    auto_merge_threshold: float | None = Field(default=None, ge=50, le=100, allow_inf_nan=False)


class DeduplicationSettingsRead(DeduplicationSettings, ResourceRead):
    pass


SECTIONS["deduplication"] = (DeduplicationSettings, DeduplicationSettingsUpdate, DeduplicationSettingsRead)
SECTIONS["sla"] = (SlaSettings, SlaSettingsUpdate, SlaSettingsRead)
SECTIONS["disqualification-reasons"] = (
    DisqualificationReasons, DisqualificationReasonsUpdate, DisqualificationReasonsRead
)  # fmt: skip
SECTIONS["opportunity-reasons"] = (OpportunityReasons, OpportunityReasonsUpdate, OpportunityReasonsRead)
SECTIONS["routing"] = (RoutingSettings, RoutingSettingsUpdate, RoutingSettingsRead)


# -- the workspace's own occasions (sales forecasts) --------------------------------------------------

BUILT_IN_OCCASIONS = ("nowruz", "yalda", "black_friday", "exchange_rate")


class OccasionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$",
        description="Lower-case letters, digits and underscores; not nowruz, yalda, black_friday or exchange_rate",
    )  # fmt: skip
    calendar: Literal["gregorian", "jalali"] = Field(description="The calendar its month and day are in")
    month: int = Field(ge=1, le=12, strict=True)
    day: int = Field(
        ge=1, le=31, strict=True,
        description="Its first day; past the month's end in a year (30 Esfand, 29 February): the month's last day",
    )  # fmt: skip
    days: int = Field(default=1, ge=1, le=60, strict=True, description="How many days it lasts")

    @model_validator(mode="after")
    def _known(self) -> OccasionRule:
        if self.name in BUILT_IN_OCCASIONS:
            raise ValueError(f"name: {self.name} is a built-in input of the forecast")
        longest = (31 if self.month <= 6 else 30) if self.calendar == "jalali" else (
            29 if self.month == 2 else 30 if self.month in (4, 6, 9, 11) else 31)  # fmt: skip
        if self.day > longest:
            raise ValueError(f"day: month {self.month} of the {self.calendar} calendar has at most {longest} days")
        return self


class OccasionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occasions: list[OccasionRule] = Field(
        default_factory=list, max_length=20,
        description="The workspace's own yearly dates (a sale, an anniversary): inputs of the sales forecast's "
        "SARIMAX model beside the region's occasions",
    )  # fmt: skip

    @model_validator(mode="after")
    def _unique(self) -> OccasionSettings:
        names = [o.name for o in self.occasions]
        if len(set(names)) != len(names):
            raise ValueError("occasions: names must be unique")
        return self


class OccasionSettingsUpdate(RequestModel):
    occasions: list[OccasionRule] = Field(default=None, max_length=20)  # type: ignore[assignment]


class OccasionSettingsRead(OccasionSettings, ResourceRead):
    pass


SECTIONS["occasions"] = (OccasionSettings, OccasionSettingsUpdate, OccasionSettingsRead)


# -- customers (orders) ------------------------------------------------------------------------------


class CustomerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active_window_days: int = Field(
        default=365, ge=1, le=3650, description="A customer is active while their last order is this recent"
    )
    exchange_rate_max_age_days: int = Field(
        default=7,
        ge=0,
        le=31,
        description="An order without a rate for its own date is converted with the latest rate at most this "
        "many days older (no rates on weekends and holidays); older rates leave it unconverted",
    )


class CustomerSettingsUpdate(RequestModel):
    active_window_days: int = Field(default=None, ge=1, le=3650)  # type: ignore[assignment]
    exchange_rate_max_age_days: int = Field(default=None, ge=0, le=31)  # type: ignore[assignment]


class CustomerSettingsRead(CustomerSettings, ResourceRead):
    pass


SECTIONS["customers"] = (CustomerSettings, CustomerSettingsUpdate, CustomerSettingsRead)
SECTIONS["messaging"] = (MessagingSettings, MessagingSettingsUpdate, MessagingSettingsRead)
SECTIONS["campaigns"] = (CampaignSettings, CampaignSettingsUpdate, CampaignSettingsRead)


# -- analytics (CLV) ---------------------------------------------------------------------------------

Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class AnalyticsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_margin: Rate = Field(
        default=0.3, description="Margin rate applied to revenue from orders without a cost (0.3 = 30%)"
    )
    yearly_discount_rate: Rate = Field(default=0.1, description="d in the retention-based CLV m r / (1 + d - r)")
    monthly_discount_rate: float = Field(
        default=0.01, ge=0, le=0.5, allow_inf_nan=False, description="Discounts each month of the predictive CLV"
    )
    clv_horizon_months: int = Field(default=12, ge=1, le=120, description="Months the predictive CLV looks ahead")
    month_length_days: float = Field(
        default=30, ge=28, le=31, allow_inf_nan=False, description="Days in a month of the horizon (30.4375: calendar)"
    )
    min_repeat_buyers: int = Field(
        default=30, ge=2, le=1_000_000, description="Fewer repeat buyers than this: the simple model instead of BG/NBD"
    )
    yearly_retention_rate: float | None = Field(
        default=None,
        ge=0,
        le=0.95,
        allow_inf_nan=False,
        description="r for the simple and retention-based CLV; null: observed (share of the year before last's "
        "buyers who bought again in the last year)",
    )
    refresh_after_import_rows: int = Field(
        default=1000, ge=1, le=10_000_000, description="An orders CSV import of at least this many rows refreshes"
    )
    churn_medium_threshold: Rate = Field(default=0.4, description="A churn score from this on is `medium`")
    churn_high_threshold: Rate = Field(
        default=0.7, description="A churn score from this on is `high` (a customer at high risk gets a churn alert)"
    )
    # Simple CLV's relationship length, and churn alerts.
    default_relationship_years: float = Field(
        default=3,
        ge=1,
        le=20,
        allow_inf_nan=False,
        description="Expected years of a customer relationship when churn cannot be observed (nobody bought in "
        "the year before last) and `yearly_retention_rate` is null; otherwise 1 / the observed annual churn rate",
    )
    churn_overdue_tolerance: float | None = Field(
        default=1.5,
        ge=1,
        le=10,
        allow_inf_nan=False,
        description="A customer with a rhythm of their own is alerted once the days since their last purchase pass "
        "this many times their typical interval; null: being overdue alone raises no alert",
    )
    churn_alert_cooldown_days: int = Field(
        default=90, ge=0, le=730, description="No new churn alert for a customer alerted within this many days"
    )
    churn_first_snapshot_alert_cap: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description="On a workspace's first snapshot, at most this many alerts are announced (event and rescue "
        "task), highest CLV at risk first; the rest are listed unannounced",
    )

    @field_validator("churn_high_threshold")
    @classmethod
    def _high_above_medium(cls, value: float, info: ValidationInfo) -> float:
        medium = info.data.get("churn_medium_threshold")
        if medium is not None and value <= medium:
            raise ValueError("must be above churn_medium_threshold")
        return value


class AnalyticsSettingsUpdate(RequestModel):
    default_margin: Rate = Field(default=None)  # type: ignore[assignment]
    yearly_discount_rate: Rate = Field(default=None)  # type: ignore[assignment]
    monthly_discount_rate: float = Field(default=None, ge=0, le=0.5, allow_inf_nan=False)  # type: ignore[assignment]
    clv_horizon_months: int = Field(default=None, ge=1, le=120)  # type: ignore[assignment]
    month_length_days: float = Field(default=None, ge=28, le=31, allow_inf_nan=False)  # type: ignore[assignment]
    min_repeat_buyers: int = Field(default=None, ge=2, le=1_000_000)  # type: ignore[assignment]
    yearly_retention_rate: float | None = Field(default=None, ge=0, le=0.95, allow_inf_nan=False)
    refresh_after_import_rows: int = Field(default=None, ge=1, le=10_000_000)  # type: ignore[assignment]
    churn_medium_threshold: Rate = Field(default=None)  # type: ignore[assignment]
    churn_high_threshold: Rate = Field(default=None)  # type: ignore[assignment]
    default_relationship_years: float = Field(default=None, ge=1, le=20, allow_inf_nan=False)  # type: ignore[assignment]
    churn_overdue_tolerance: float | None = Field(default=None, ge=1, le=10, allow_inf_nan=False)
    churn_alert_cooldown_days: int = Field(default=None, ge=0, le=730)  # type: ignore[assignment]
    churn_first_snapshot_alert_cap: int = Field(default=None, ge=0, le=10_000)  # type: ignore[assignment]


class AnalyticsSettingsRead(AnalyticsSettings, ResourceRead):
    pass


SECTIONS["analytics"] = (AnalyticsSettings, AnalyticsSettingsUpdate, AnalyticsSettingsRead)


# -- interest categories (retention) -------------------------------------------------------------------

Category = Annotated[str, Field(min_length=1, max_length=200)]


class InterestCategories(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mappings: dict[Annotated[str, Field(min_length=1, max_length=200)], list[Category]] = Field(
        default_factory=dict,
        max_length=1000,
        description="A contact's declared interest (exact string) → the product categories it points to; "
        "categories the customer has not bought become recommendations",
    )

    @field_validator("mappings")
    @classmethod
    def _few_categories(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for interest, categories in value.items():
            if len(categories) > 50:
                raise ValueError(f"{interest!r}: at most 50 categories")
        return {interest: list(dict.fromkeys(c.strip() for c in categories)) for interest, categories in value.items()}


class InterestCategoriesUpdate(RequestModel):
    mappings: dict[Annotated[str, Field(min_length=1, max_length=200)], list[Category]] = Field(  # type: ignore[assignment]
        default=None, max_length=1000
    )


class InterestCategoriesRead(InterestCategories, ResourceRead):
    pass


SECTIONS["interest-categories"] = (InterestCategories, InterestCategoriesUpdate, InterestCategoriesRead)

"""Leads and their tags: capture (written behind), scores, identity matches and duplicate candidates,
a merge's history moves, and the lists' filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast, overload
from uuid import UUID

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Uuid,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy import column as named_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from app.db import tables
from app.db.conflicts import is_open_identity_conflict
from app.db.repositories.base import (
    Page,
    Row,
    SortKey,
    TenantRepository,
    aging_page,
    aware_datetime,
    datetime_key,
    next_version,
    where_between,
    where_equal,
)
from app.db.repositories.leads.rows import LeadRow
from app.domain.errors import Conflict
from app.domain.leads import retention
from app.domain.leads.filters import LeadFilters

t = tables.leads
tg = tables.lead_tags
# What a retention pass reads of an archived lead (app/domain/leads/retention.py decides with them).
_AGING_COLUMNS = (
    "status", "merged_into_id", *retention.CONVERSIONS, *retention.IDENTIFYING, "custom_fields", "search_text"
)  # fmt: skip
cf = tables.custom_fields
_OPEN_SQL = "status IN ('new', 'contacted', 'nurturing') AND archived_at IS NULL AND merged_into_id IS NULL"
# (kind, id): 0 open lead by email, 1 by phone, 2 contact by email, 3 by phone; at most one each.
_IDENTITY = (
    text(
        f"""
SELECT * FROM (SELECT 0 AS kind, id FROM leads
    WHERE workspace_id = :ws AND email_key = :email AND {_OPEN_SQL} LIMIT 1) AS a
UNION ALL SELECT * FROM (SELECT 1 AS kind, id FROM leads
    WHERE workspace_id = :ws AND phone_e164 = :phone AND {_OPEN_SQL} LIMIT 1) AS b
UNION ALL SELECT * FROM (SELECT 2 AS kind, id FROM contacts
    WHERE workspace_id = :ws AND email_key = :email AND archived_at IS NULL LIMIT 1) AS c
UNION ALL SELECT * FROM (SELECT 3 AS kind, id FROM contacts
    WHERE workspace_id = :ws AND phone_e164 = :phone AND archived_at IS NULL LIMIT 1) AS d
"""
    )
    .bindparams(bindparam("ws", type_=Uuid), bindparam("email", type_=String), bindparam("phone", type_=String))
    .columns(kind=Integer, id=Uuid)
)
# An open lead: the identity indexes' predicate (app/db/tables.py OPEN_LEAD). The statuses are
# literals, not parameters: a cached generic plan can prove a partial index's predicate only from
# constants.
OPEN_WHERE = (
    t.c.status.in_([literal_column(f"'{status}'") for status in ("new", "contacted", "nurturing")]),
    t.c.archived_at.is_(None),
    t.c.merged_into_id.is_(None),
)
# Duplicate candidates: other open leads sharing one of these keys with a lead, newest first.
BLOCKING_KEYS = ("email_key", "phone_e164", "name_key", "company_key")
_CANDIDATE_LIMIT = 200


# What the duplicate search compares (app/domain/leads/dedupe.py similarity): the worker's pass reads
# only these, of the new leads and of their candidates, not whole rows.
COMPARED = ("workspace_id", "id", "first_name", "last_name", "email_key", "phone_e164", "company")


def _candidates_of(source: Any, columns: Sequence[Any]) -> Any:
    """Open leads other than `source` (its columns by key) sharing one of its blocking keys (a NULL
    key matches none), newest first."""
    return (
        select(*columns)
        .where(
            t.c.workspace_id == source["workspace_id"],
            t.c.id != source["id"],
            *OPEN_WHERE,
            or_(*(t.c[key] == source[key] for key in BLOCKING_KEYS)),
        )
        .order_by(t.c.created_at.desc())
        # A literal: under a parameter a cached generic plan assumes a small limit and prefers
        # reading the workspace's leads newest first (no sort) over the key lookups, far slower
        # (benchmarks/README.md).
        .limit(literal_column(str(_CANDIDATE_LIMIT)))
    )


def _candidate_statements(columns: Sequence[Any]) -> tuple[Any, Any]:
    """(SQLite: one lead's keys bound as parameters; PostgreSQL: a whole batch, its leads joined by
    id, each with a lateral lookup), selecting `columns` of the candidates; built once."""
    one = _candidates_of(
        {"workspace_id": bindparam("ws", type_=Uuid), "id": bindparam("id", type_=Uuid)}
        | {key: bindparam(key, type_=String) for key in BLOCKING_KEYS},
        columns,
    )
    source = t.alias("source")
    lateral = _candidates_of(source.c, columns).lateral("candidate")
    ids = func.unnest(bindparam("ids", type_=postgresql.ARRAY(Uuid))).table_valued("id").render_derived("batch")
    many = (
        select(source.c.id.label("for_id"), lateral)
        .select_from(ids)
        .join(source, and_(source.c.workspace_id == bindparam("ws", type_=Uuid), source.c.id == ids.c.id))
        .join(lateral, true())
    )
    return one, many


_CANDIDATES = {
    True: _candidate_statements([t]),
    False: _candidate_statements([t.c[name] for name in COMPARED]),
}
# A lead's history that a merge moves to the lead it keeps.
HISTORY_TABLES = (
    ("engagements", tables.engagements),
    ("activities", tables.activities),
    ("tasks", tables.tasks),
    ("submissions", tables.form_submissions),
)
SORTABLE = {
    "created_at": datetime_key(t.c.created_at),
    "updated_at": datetime_key(t.c.updated_at),
    "score": SortKey(t.c.score, float, float),
    "last_activity_at": SortKey(
        t.c.last_activity_at, lambda v: v.isoformat(), aware_datetime, only=t.c.last_activity_at.is_not(None)
    ),
}
_NO_FILTERS = LeadFilters()  # the live leads, unfiltered: the list's first page in every client
# What the database fills in on INSERT, for rows written behind (add()).
SERVER_DEFAULTS = {
    "phone_valid": False,
    "search_text": "",
    "version": 1,
    "score": 0.0,
    "fit_score": 0.0,
    "behavior_score": 0.0,
    "temperature": "cold",
    "stage": None,
    "stage_manual": False,
    "mql_candidate": False,
    "stage_verdict": None,
    "sla_status": "not_applicable",
    "first_response_due_at": None,
    "first_responded_at": None,
    "first_response_seconds": None,
    "team_id": None,
    "assigned_at": None,
    "qualified_at": None,
    "account_id": None,
    "contact_id": None,
    "opportunity_id": None,
    "disqualified_at": None,
    "disqualification_reason": None,
    "disqualification_note": None,
    "referred_by_contact_id": None,
    "last_activity_at": None,
    "import_id": None,
}
SCORE_COLUMNS = (
    "score",
    "fit_score",
    "behavior_score",
    "scored_at",
    "temperature",
    "stage",
    "mql_candidate",
    "stage_verdict",
    "last_engaged_at",
)
# What a rescore works its stage out from (StageState): a score write applies only while these
# are still as the rescore read them, so a stage a person set in between is never overwritten.
# The score columns are not compared: two engagements scored at once both apply, in some order.
STAGE_COLUMNS = ("stage", "stage_manual", "mql_candidate", "stage_verdict")


def _as_read(stage: Any, manual: Any, candidate: Any, verdict: Any) -> list[Any]:
    """The stage columns as read (each argument a value or a column of the same name)."""
    return [
        t.c.stage.is_not_distinct_from(stage),
        t.c.stage_manual == manual,
        t.c.mql_candidate == candidate,
        t.c.stage_verdict.is_not_distinct_from(verdict),
    ]


_SET_SCORES = (  # SQLite: an executemany, its rowcount the sum over the rows
    t.update()
    .where(
        t.c.workspace_id == bindparam("_ws"),
        t.c.id == bindparam("_id"),
        *_as_read(*(bindparam(f"_read_{c}") for c in STAGE_COLUMNS)),
    )
    .values(version=t.c.version + 1, **{c: bindparam(f"_{c}") for c in SCORE_COLUMNS})
)
# PostgreSQL: one statement for the whole batch, its values unnested from one array per column,
# answering the ids it wrote (the others changed since they were read).
_SCORE_TYPES: dict[str, Any] = {
    "id": Uuid(),
    "score": Float(),
    "fit_score": Float(),
    "behavior_score": Float(),
    "scored_at": DateTime(timezone=True),
    "temperature": String(),
    "stage": String(),
    "mql_candidate": Boolean(),
    "stage_verdict": String(),
    "last_engaged_at": DateTime(timezone=True),
} | {f"read_{c}": Boolean() if c in ("stage_manual", "mql_candidate") else String() for c in STAGE_COLUMNS}
_BATCH = (
    func.unnest(*(bindparam(f"_{name}", type_=postgresql.ARRAY(type_)) for name, type_ in _SCORE_TYPES.items()))
    .table_valued(*(named_column(name, type_) for name, type_ in _SCORE_TYPES.items()))
    .render_derived("batch")
)
_SET_SCORES_BATCH = (
    t.update()
    .where(
        t.c.workspace_id == bindparam("_ws", type_=Uuid),
        t.c.id == _BATCH.c.id,
        *_as_read(*(_BATCH.c[f"read_{c}"] for c in STAGE_COLUMNS)),
    )
    .values(version=t.c.version + 1, **{c: _BATCH.c[c] for c in SCORE_COLUMNS})
    .returning(t.c.id)
)


# A written-behind lead before its values: every column, as the database would fill it in.
_NEW_ROW = dict.fromkeys(c.name for c in t.columns) | SERVER_DEFAULTS


class LeadRepository(TenantRepository[LeadRow]):
    table = t

    async def get(self, lead_id: UUID) -> LeadRow | None:
        return await self._get_by_id(lead_id)

    async def lock(self, lead_id: UUID) -> LeadRow | None:
        """The lead, locked until commit on PostgreSQL (SQLite's writers are serialised already)."""
        statement = select(t).where(self.scope, t.c.id == lead_id)
        if (await self._dialect()) == "postgresql":
            statement = statement.with_for_update()
        return await self._row(statement)

    async def exists(self, lead_id: UUID) -> bool:
        return await self._get_by_id(lead_id) is not None

    def add(self, values: Mapping[str, Any]) -> LeadRow:
        """A new lead without an external_id, written with its tags at commit (write-behind: one
        round trip for the whole use case). Returns the row as it will be stored."""
        if values.get("external_id") is not None:
            raise ValueError("a lead with an external_id may conflict: create() it")
        row = {**_NEW_ROW, **values, "workspace_id": self.workspace_id}
        self.uow.defer_insert(t, [row])
        self.uow.defer_insert(
            tg, [{"workspace_id": self.workspace_id, "lead_id": row["id"], "tag": g} for g in row["tags"]]
        )
        return cast("LeadRow", row)

    async def create(self, values: Mapping[str, Any]) -> LeadRow | None:
        """None when the external_id is taken already."""
        row = await self._insert_unless_exists(values)
        if row is not None:
            await self._add_tags(row["id"], row["tags"])
        return row

    async def update(self, lead_id: UUID, version: int, values: Mapping[str, Any]) -> LeadRow | None:
        """None when another writer changed the lead first; Conflict when the external_id is taken."""
        try:
            conn = await self.uow.connection()
            async with conn.begin_nested():
                row = await self._update_versioned(lead_id, version, values)
        except IntegrityError as error:
            if is_open_identity_conflict(error):
                raise Conflict(
                    "another open lead has this email or phone: merge them with POST /v1/leads/{id}/merge"
                ) from error
            raise Conflict("another lead has this external_id") from error
        if row is not None and "tags" in values:
            await self.uow.execute(delete(tg).where(tg.c.workspace_id == self.workspace_id, tg.c.lead_id == lead_id))
            await self._add_tags(lead_id, row["tags"])
        return row

    async def update_many_as_read(self, changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> bool:
        """`update` for many leads, each (the row as read, its new values) written against the
        version read, in one statement per set of columns, and their tags kept in step: whether
        every one was still as read (False: another writer came first; the caller undoes it all).
        No identity column may change here (its conflicts are answered one lead at a time)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, values in changes:
            groups.setdefault(tuple(sorted(values)), []).append(
                {"workspace_id": self.workspace_id, "id": row["id"], "version": row["version"], **values}
            )
        written = 0
        for rows in groups.values():
            written += await self.uow.update_rows_as_read(t, rows)
        retagged = [(row["id"], list(values["tags"])) for row, values in changes if "tags" in values]
        if retagged:
            ids = [lead_id for lead_id, _ in retagged]
            await self.uow.execute(delete(tg).where(tg.c.workspace_id == self.workspace_id, tg.c.lead_id.in_(ids)))
            rows = [{"lead_id": lead_id, "tag": tag} for lead_id, tags in retagged for tag in tags]
            await self.uow.insert_rows(tg, rows, {"workspace_id": self.workspace_id})
        return written == len(changes)

    async def _add_tags(self, lead_id: UUID, tags: Sequence[str]) -> None:
        if tags:
            await self.uow.execute(
                tg.insert(), [{"workspace_id": self.workspace_id, "lead_id": lead_id, "tag": tag} for tag in tags]
            )

    async def set_scores(self, lead_id: UUID, values: Mapping[str, Any], read: Mapping[str, Any]) -> LeadRow | None:
        """A new score (and temperature, stage) worked out from the lead as `read`: the
        representation changes, so the version does; `updated_at` stays the time of the last change
        someone made. None when the lead is gone or its stage columns changed since it was read."""
        statement = (
            t.update()
            .where(self.scope, t.c.id == lead_id, *_as_read(*(read[c] for c in STAGE_COLUMNS)))
            .values(version=next_version(t), **{k: values[k] for k in SCORE_COLUMNS if k in values})
            .returning(t)
        )
        return await self._row(statement)

    async def set_scores_many(self, updates: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> set[UUID]:
        """Many leads' new scores in one batched statement: (the lead as read, every score column).
        Each applies only while the lead's stage columns are as read; answers the ids of those that
        changed since (or are gone), not written."""
        if not updates:
            return set()
        if await self._dialect() == "postgresql":
            params: dict[str, Any] = {"_ws": self.workspace_id, "_id": [read["id"] for read, _ in updates]}
            params |= {f"_{c}": [values[c] for _, values in updates] for c in SCORE_COLUMNS}
            params |= {f"_read_{c}": [read[c] for read, _ in updates] for c in STAGE_COLUMNS}
            written = set((await self.uow.execute(_SET_SCORES_BATCH, params)).scalars())
            return {read["id"] for read, _ in updates} - written
        rows = [
            {"_ws": self.workspace_id, "_id": read["id"]}
            | {f"_{c}": values[c] for c in SCORE_COLUMNS}
            | {f"_read_{c}": read[c] for c in STAGE_COLUMNS}
            for read, values in updates
        ]
        if (await self.uow.execute(_SET_SCORES, rows)).rowcount == len(rows):
            return set()
        # Some missed (rare: SQLite's writers are serialised): the rows written carry this batch's
        # scoring time, which only this statement wrote.
        scored = {read["id"]: values["scored_at"] for read, values in updates}
        statement = select(t.c.id, t.c.scored_at).where(self.scope, t.c.id.in_(list(scored)))
        found = {lead_id: at for lead_id, at in (await self.uow.execute(statement)).all()}
        return {lead_id for lead_id, at in scored.items() if found.get(lead_id) != at}

    async def scoring_inputs(self, *, after: UUID | None, limit: int) -> list[LeadRow]:
        """A page of live leads by id, for rescoring everything."""
        statement = select(t).where(self.scope, t.c.archived_at.is_(None), t.c.merged_into_id.is_(None))
        if after is not None:
            statement = statement.where(t.c.id > after)
        return await self._rows(statement.order_by(t.c.id).limit(limit))

    async def by_email_keys(self, keys: Sequence[str]) -> dict[str, LeadRow]:
        """The newest live lead for each email key."""
        if not keys:
            return {}
        # Open and other leads' emails sit in two partial indexes (migration 0014): one query each.
        live = (self.scope, t.c.email_key.in_(list(keys)), t.c.archived_at.is_(None), t.c.merged_into_id.is_(None))
        rows: list[LeadRow] = []
        for state in (and_(*OPEN_WHERE), not_(and_(*OPEN_WHERE))):
            rows += await self._rows(select(t).where(*live, state))
        newest_last = sorted(rows, key=lambda r: r["created_at"])
        return {r["email_key"]: r for r in newest_last}  # type: ignore[misc]  # each has the key it matched

    async def open_counts(self, member_ids: Sequence[UUID]) -> dict[UUID, int]:
        """How many open leads (new, contacted, nurturing; not archived) each member owns."""
        if not member_ids:
            return {}
        statement = (
            select(t.c.owner_id, func.count())
            .where(
                self.scope,
                t.c.owner_id.in_(list(member_ids)),
                t.c.status.in_(("new", "contacted", "nurturing")),
                t.c.archived_at.is_(None),
            )
            .group_by(t.c.owner_id)
        )
        return {owner: int(count) for owner, count in (await self.uow.execute(statement)).all()}

    async def set_columns(self, lead_id: UUID, values: Mapping[str, Any]) -> LeadRow | None:
        """Routing and SLA bookkeeping (owner, team): a new version, `updated_at` as given."""
        statement = t.update().where(self.scope, t.c.id == lead_id)
        return await self._row(statement.values(version=next_version(t), **values).returning(t))

    async def archived_aging(
        self, *, start: datetime | None, end: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[Row]:
        """A page of the leads archived in [start, end), oldest archive first, with what tells
        whether they converted and still hold personal data: along the partial index of archived
        leads (workspace_id, archived_at, id)."""
        statement = aging_page(
            t, t.c.archived_at, *(t.c[name] for name in _AGING_COLUMNS), workspace_id=self.workspace_id,
            start=start, end=end, after=after, limit=limit, conditions=(t.c.archived_at.is_not(None),),
        )  # fmt: skip
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def anonymise(self, lead_ids: Sequence[UUID], before: datetime, values: Mapping[str, Any]) -> list[UUID]:
        """Write `values` (the personal columns emptied, the audit columns) on these leads, each a new
        version, where each is still archived before `before` and never converted (a lead reactivated
        or converted since it was read is left); the ids written."""
        if not lead_ids:
            return []
        statement = (
            t.update()
            .where(
                self.scope,
                t.c.id.in_(lead_ids),
                t.c.archived_at < before,
                t.c.status != "qualified",
                t.c.qualified_at.is_(None),
                t.c.contact_id.is_(None),
                t.c.account_id.is_(None),
                t.c.opportunity_id.is_(None),
            )
            .values(version=next_version(t), **values)
            .returning(t.c.id)
        )
        return list((await self.uow.execute(statement)).scalars())

    async def identity_match(self, email_key: str | None, phone_e164: str | None) -> tuple[LeadRow | None, UUID | None]:
        """The open lead with this email or phone (email first), else the id of a live contact
        with it: what decides at once whether a new lead is a duplicate or a returning customer.
        One prebuilt statement, four index lookups; on the capture path it runs outside the write
        transaction (see UnitOfWork.fetch_read)."""
        if not (email_key or phone_e164):
            return None, None
        params = {"ws": self.workspace_id, "email": email_key, "phone": phone_e164}
        found = dict(await self.uow.fetch_read(_IDENTITY, params))
        lead_id = found.get(0) or found.get(1)
        if lead_id is not None:
            return await self.get(lead_id), None
        return None, found.get(2) or found.get(3)

    async def duplicate_candidates(
        self, leads: Sequence[Mapping[str, Any]], *, whole: bool = True
    ) -> dict[UUID, list[Row]]:
        """For each of `leads`, up to 200 other open leads (newest first) sharing its email, phone,
        name key or company key: equality lookups on four indexes, never a scan of the workspace.
        Whole rows, or with `whole=False` only the COMPARED columns. PostgreSQL: one statement for
        the whole batch (a lateral lookup per lead); SQLite: one prebuilt statement per lead."""
        one, many = _CANDIDATES[whole]
        found: dict[UUID, list[Row]] = {lead["id"]: [] for lead in leads}
        keyed = [lead for lead in leads if any(lead.get(key) for key in BLOCKING_KEYS)]
        if not keyed:
            return found
        if await self._dialect() == "postgresql":
            params = {"ws": self.workspace_id, "ids": [lead["id"] for lead in keyed]}
            for row in (await self.uow.execute(many, params)).mappings():
                other = dict(row)
                found[other.pop("for_id")].append(other)
            return found
        for lead in keyed:
            params = {"ws": self.workspace_id, "id": lead["id"], **{key: lead.get(key) for key in BLOCKING_KEYS}}
            found[lead["id"]] = [dict(r) for r in (await self.uow.execute(one, params)).mappings()]
        return found

    async def move_history(self, from_ids: Sequence[UUID], to_id: UUID) -> dict[str, int]:
        """Engagements, activities, tasks and form submissions of `from_ids` now belong to `to_id`."""
        return {name: len(ids) for name, ids in (await self.move_history_of(from_ids, to_id)).items()}

    async def move_history_of(self, from_ids: Sequence[UUID], to_id: UUID) -> dict[str, list[UUID]]:
        """`move_history`, answering the ids of the rows moved (an automatic merge keeps them, to
        move exactly those back if it is undone)."""
        moved = {}
        for name, table in HISTORY_TABLES:
            statement = (
                table.update()
                .where(table.c.workspace_id == self.workspace_id, table.c.lead_id.in_(list(from_ids)))
                .values(lead_id=to_id)
                .returning(table.c.id)
            )
            moved[name] = [row[0] for row in (await self.uow.execute(statement)).all()]
        return moved

    async def move_back(self, moved: Mapping[str, Sequence[UUID]], from_id: UUID, to_id: UUID) -> dict[str, int]:
        """The rows `moved` (history table -> ids) that still belong to `from_id` go to `to_id`."""
        counts = {}
        for name, table in HISTORY_TABLES:
            ids = list(moved.get(name) or [])
            counts[name] = 0
            for start in range(0, len(ids), 1000):
                statement = (
                    table.update()
                    .where(
                        table.c.workspace_id == self.workspace_id,
                        table.c.lead_id == from_id,
                        table.c.id.in_(ids[start : start + 1000]),
                    )
                    .values(lead_id=to_id)
                )
                counts[name] += int((await self.uow.execute(statement)).rowcount or 0)
        return counts

    async def touch_activity(self, lead_id: UUID, at: datetime) -> None:
        """`last_activity_at` moves forward only (a new version, no `updated_at` change)."""
        statement = (
            t.update()
            .where(self.scope, t.c.id == lead_id, or_(t.c.last_activity_at.is_(None), t.c.last_activity_at < at))
            .values(version=next_version(t), last_activity_at=at)
        )
        await self.uow.execute(statement)

    async def record_first_response(self, lead_id: UUID, values: Mapping[str, Any]) -> LeadRow | None:
        """The first response's columns, only while none is recorded (None: another came first)."""
        statement = t.update().where(self.scope, t.c.id == lead_id, t.c.first_responded_at.is_(None))
        return await self._row(statement.values(version=next_version(t), **values).returning(t))

    @overload
    async def by_ids(self, lead_ids: Sequence[UUID], *, columns: None = None) -> dict[UUID, LeadRow]: ...
    @overload
    async def by_ids(self, lead_ids: Sequence[UUID], *, columns: Sequence[str]) -> dict[UUID, Row]: ...
    async def by_ids(
        self, lead_ids: Sequence[UUID], *, columns: Sequence[str] | None = None
    ) -> dict[UUID, LeadRow] | dict[UUID, Row]:
        """These leads (those that exist), whole or only `columns` (which must include `id`)."""
        if not lead_ids:
            return {}
        selected = [t] if columns is None else [t.c[name] for name in columns]
        statement = select(*selected).where(self.scope, t.c.id.in_(list(lead_ids)))
        return {r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()}

    async def by_external_ids(self, external_ids: Sequence[str]) -> dict[str, LeadRow]:
        if not external_ids:
            return {}
        statement = select(t).where(self.scope, t.c.external_id.in_(list(external_ids)))
        return {r["external_id"]: r for r in await self._rows(statement)}  # type: ignore[misc]  # as matched

    async def list(
        self,
        filters: LeadFilters,
        *,
        custom: Sequence[tuple[str, str, Any]] = (),
        sort: Any,
        cursor: str | None,
        limit: int,
    ) -> Page[LeadRow]:
        """A page of the leads matching `filters`, and each (custom field key, its type, value) of
        `custom` (the `cf.` filters, typed by the fields' definitions)."""
        f = filters
        if not custom and f == _NO_FILTERS:
            return await self._live_page(sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)
        shown = t.c.archived_at.is_not(None) if f.archived else t.c.archived_at.is_(None)  # archived or live
        statement = select(t).where(self.scope, shown)
        statement = where_equal(
            statement,
            {
                t.c.import_id: f.import_id,
                t.c.status: f.status,
                t.c.source: f.source,
                t.c.owner_id: f.owner_id,
                t.c.country: f.country,
                t.c.temperature: f.temperature,
                t.c.stage: None if f.stage == "none" else f.stage,
                t.c.mql_candidate: f.mql_candidate,
                t.c.sla_status: f.sla_status,
                t.c.team_id: f.team_id,
            },
        )
        if f.stage == "none":  # no stage yet
            statement = statement.where(t.c.stage.is_(None))
        if f.tag is not None:
            statement = statement.where(
                exists().where(tg.c.workspace_id == t.c.workspace_id, tg.c.lead_id == t.c.id, tg.c.tag == f.tag)
            )
        statement = where_between(
            statement,
            [
                (t.c.created_at, f.created_after, f.created_before),
                (t.c.updated_at, f.updated_after, f.updated_before),
                (t.c.last_engaged_at, f.engaged_after, f.engaged_before),
                (t.c.first_response_due_at, None, f.first_response_due_before),
                (t.c.last_activity_at, f.last_activity_after, f.last_activity_before),
            ],
        )
        statement = where_between(statement, [(t.c.score, f.score_min, f.score_max)], closed=True)
        search = f.search
        if search:
            statement = statement.where(t.c.search_text.contains(search, autoescape=True))
        for key, kind, value in custom:
            element = t.c.custom_fields[key]
            typed = {"number": element.as_float(), "boolean": element.as_boolean()}.get(kind, element.as_string())
            statement = statement.where(typed == value)
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)

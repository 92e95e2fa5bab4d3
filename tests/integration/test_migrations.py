"""Alembic is the only source of the schema: it builds the tables on both backends, agrees with
the models, and can be undone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app.config import Settings
from app.db.migrate import downgrade, head_revision, upgrade
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.tables import metadata
from app.db.unit_of_work import UnitOfWork
from app.ids import new_id, utcnow
from app.main import create_app
from app.services.workspace import workspaces
from app.worker.dispatcher import dispatch
from tests.conftest import ScratchDatabases, database_url


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_upgrade_matches_models_and_downgrade_removes_everything(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
            revision = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        assert diff == [], f"models and migrations disagree: {diff}"
        assert revision == head_revision()

        await upgrade(db)  # idempotent: a second start does nothing
        await downgrade(db)
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert names <= {"alembic_version"}
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_event_numbers_and_the_dispatch_queue_survive_migration_0027_both_ways(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """0027 moved events' sequence numbers to event_stamps and the undispatched ones to
    event_queue; going down and up again loses neither a number nor a waiting event."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            workspace_id = (await workspaces.create(uow, name="Moves", now=utcnow())).workspace["id"]
            await uow.commit()
        await dispatch(db, utcnow())  # whatever creating the workspace recorded
        stamped = [await _event(db, workspace_id, n) for n in range(2)]
        await dispatch(db, utcnow())
        waiting = await _event(db, workspace_id, 2)

        async def numbers() -> dict[uuid.UUID, int | None]:
            async with UnitOfWork(db, write=False) as uow:
                events = WorkspaceRepositories(uow, workspace_id).events
                return {e: (await events.get(e) or {}).get("sequence") for e in [*stamped, waiting]}

        before = await numbers()
        assert before[waiting] is None and None not in (before[e] for e in stamped)
        await downgrade(db, "0026")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, sequence, dispatched_at FROM events"))).all()
        old = {uuid.UUID(str(r[0])): (r[1], r[2] is not None) for r in rows}
        assert [old[e] for e in [*stamped, waiting]] == [(before[e], True) for e in stamped] + [(None, False)]
        await upgrade(db)
        assert await numbers() == before
        assert (await dispatch(db, utcnow())).events == 1  # the waiting one, still queued
        assert (await numbers())[waiting] == max(before[e] or 0 for e in stamped) + 1
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_audit_chain_stamps_and_the_stamping_queue_survive_migration_0047_both_ways(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """0047 moved audit entries' chain stamps to audit_stamps and the unstamped entries to
    audit_queue; going down and up again the chain still verifies and the waiting entry is chained
    next."""
    from app.services.audit import audit, chain
    from app.services.context import SERVICE_SCOPES, SYSTEM, Context

    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            workspace_id = (await workspaces.create(uow, name="Chained", now=utcnow())).workspace["id"]
            await uow.commit()

        async def entry(n: int) -> None:
            async with UnitOfWork(db) as uow:
                ctx = Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
                audit.record(ctx, resource="leads", action="update", resource_id=str(n), changes={"n": {"after": n}})
                await uow.commit()

        async def verified() -> dict[str, object]:
            async with UnitOfWork(db, write=False) as uow:
                return await audit.verify(Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES))

        for n in range(3):
            await entry(n)
        while await chain.stamp(db):
            pass
        await entry(3)  # waiting to be chained
        before = await verified()
        assert before["ok"] and before["checked"] >= 3
        await downgrade(db, "0046")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT seq, chain_hash FROM audit_log ORDER BY seq"))).all()
        stamped = [r for r in rows if r[0] is not None]
        assert [r[0] for r in stamped] == list(range(1, int(before["checked"]) + 1))  # type: ignore[call-overload]
        assert len(rows) - len(stamped) == 1 and stamped[-1][1] == before["last_chain_hash"]
        await upgrade(db)
        assert await verified() == before
        assert await chain.stamp(db) == 1  # the waiting one, still queued
        after = await verified()
        assert after["ok"] and after["checked"] == int(before["checked"]) + 1  # type: ignore[call-overload]
    finally:
        await db.dispose()


async def _event(db: Database, workspace_id: uuid.UUID, n: int) -> uuid.UUID:
    async with UnitOfWork(db) as uow:
        event_id = new_id()
        WorkspaceRepositories(uow, workspace_id).events.record(
            {"id": event_id, "type": "member.created", "occurred_at": utcnow(), "api_version": "2026-11-27",
             "actor": "test", "resource_id": str(n), "data": {"n": n}, "previous_attributes": None}
        )  # fmt: skip
        await uow.commit()
    return event_id


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_an_endpoint_older_than_0028_is_recorded_as_admin_created_and_keeps_every_event(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """0028 bounds what an endpoint is delivered by its creator's scopes; the endpoints that
    existed before it are recorded as created by `admin`, so they keep receiving everything."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Before", "0027")
        endpoint_id, now = new_id(), utcnow()
        async with db.engine.connect() as conn:
            await conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (workspace_id, id, url, description, event_types, enabled, "
                    "secret, version, created_at, updated_at, created_by, updated_by) VALUES (:w, :id, "
                    "'https://hooks.example.com/crm', '', '[]', true, 'whsec_x', 1, :now, :now, 'system', 'system')"
                ),
                {"w": _uuid(kind, workspace_id), "id": _uuid(kind, endpoint_id), "now": now},
            )
            await conn.commit()
        await upgrade(db)
        async with UnitOfWork(db, write=False) as uow:
            endpoint = await WorkspaceRepositories(uow, workspace_id).webhook_endpoints.get(endpoint_id)
        assert endpoint is not None and endpoint["scopes"] == ["admin"]

        await dispatch(db, utcnow())  # whatever creating the workspace recorded
        async with UnitOfWork(db) as uow:
            WorkspaceRepositories(uow, workspace_id).events.record(
                {"id": new_id(), "type": "lead.created", "occurred_at": utcnow(), "api_version": "2026-11-27",
                 "actor": "test", "resource_id": str(new_id()), "data": {"email": "a@b.io"},
                 "previous_attributes": None}
            )  # fmt: skip
            await uow.commit()
        assert (await dispatch(db, utcnow())).deliveries == 1
    finally:
        await db.dispose()


async def workspace_below(db: Database, name: str, revision: str) -> uuid.UUID:
    """A workspace made at head, then the database taken down to `revision`: rows a test writes
    next are written as that revision's code would have."""
    await upgrade(db)
    async with UnitOfWork(db) as uow:
        workspace_id: uuid.UUID = (await workspaces.create(uow, name=name, now=utcnow())).workspace["id"]
        await uow.commit()
    await downgrade(db, revision)
    return workspace_id


def _uuid(kind: str, value: uuid.UUID) -> object:
    """A UUID as a raw statement binds it: SQLAlchemy keeps them as 32 hex digits on SQLite."""
    return value if kind == "postgresql" else value.hex


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_stored_answer_with_a_new_key_older_than_0028_keeps_its_resource_and_loses_the_key(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """Before 0028 an Idempotency-Key kept a new key's whole answer, the key included; upgrading
    forgets the key at once (a replay then names the resource) and leaves other answers alone."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Keys", "0027")
        key_id, now = new_id(), utcnow()
        answers = {
            "with-key": (b'{"id": "%s", "key": "sk_plaintext"}' % str(key_id).encode(), f"/v1/api-keys/{key_id}"),
            "with-secret": (b'{"id": "e1", "secret": "whsec_plaintext"}', None),
            "plain": (b'{"id": "l1", "email": "a@b.io"}', "/v1/leads/l1"),
        }
        async with db.engine.connect() as conn:
            for name, (body, location) in answers.items():
                headers = json.dumps({"location": location} if location else {})
                await conn.execute(
                    text(
                        "INSERT INTO idempotency_keys (workspace_id, key, fingerprint, locked_at, expires_at, "
                        "completed_at, status_code, headers, body) VALUES (:w, :key, 'f', :now, :now, :now, 201, "
                        f"{'CAST(:headers AS jsonb)' if kind == 'postgresql' else ':headers'}, :body)"
                    ),
                    {"w": _uuid(kind, workspace_id), "key": name, "now": now, "headers": headers, "body": body},
                )
            await conn.commit()
        await upgrade(db)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT key, body, secret_resource FROM idempotency_keys"))).all()
        stored = {r[0]: (None if r[1] is None else bytes(r[1]), r[2]) for r in rows}
        assert stored == {
            "with-key": (None, f"/v1/api-keys/{key_id}"),
            "with-secret": (None, "/v1/webhook-endpoints/e1"),
            "plain": (answers["plain"][0], None),
        }
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_deliveries_and_attempts_survive_the_migrations_that_rebuild_their_parents(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """SQLite changes a table by copying, dropping and renaming it: with foreign keys on, dropping
    `webhook_endpoints` (0028) or `webhook_attempts` (0029) would cascade into the delivery log.
    Up to head and back down, every delivery and attempt is still there."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Log", "0027")
        ids = {name: new_id() for name in ("endpoint", "event", "delivery", "attempt")}
        w, now = _uuid(kind, workspace_id), utcnow()
        statements = [
            "INSERT INTO webhook_endpoints (workspace_id, id, url, description, event_types, enabled, secret, "
            "version, created_at, updated_at, created_by, updated_by) VALUES (:w, :endpoint, "
            "'https://hooks.example.com/crm', '', '[]', true, 'whsec_x', 1, :now, :now, 'system', 'system')",
            "INSERT INTO events (workspace_id, id, type, occurred_at, api_version, actor, data) "
            "VALUES (:w, :event, 'member.created', :now, '2026-11-27', 'system', '{}')",
            "INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_id, event_type, sequence, status, "
            "attempts, next_attempt_at, created_at, updated_at) VALUES (:w, :delivery, :endpoint, :event, "
            "'member.created', 1, 'succeeded', 1, :now, :now, :now)",
            "INSERT INTO webhook_attempts (workspace_id, id, delivery_id, attempted_at, status_code, duration_ms, "
            "response_excerpt) VALUES (:w, :attempt, :delivery, :now, 200, 12, 'ok')",
        ]
        async with db.engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement), {"w": w, "now": now, **{k: _uuid(kind, v) for k, v in ids.items()}})
            await conn.commit()

        async def counts() -> list[int]:
            async with db.engine.connect() as conn:
                return [
                    (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                    for table in ("webhook_endpoints", "webhook_deliveries", "webhook_attempts")
                ]

        await upgrade(db)
        assert await counts() == [1, 1, 1]
        await downgrade(db, "0027")
        assert await counts() == [1, 1, 1]
        await upgrade(db)
        if kind == "sqlite":  # the keys are enforced again once migrated
            async with db.engine.connect() as conn:
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_going_below_0028_revokes_keys_meant_to_expire_and_disables_narrow_endpoints(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """The code before 0028 knows neither expiry nor endpoint scopes: a rollback must not make an
    expiring key permanent, nor deliver a narrow key's endpoint every event."""
    from datetime import timedelta

    from app.db import tables

    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            created = await workspaces.create(uow, name="Rollback", now=utcnow())
            await uow.commit()
        workspace_id, now = created.workspace["id"], utcnow()
        narrow, admin = new_id(), new_id()
        async with db.engine.connect() as conn:
            keys = (
                await conn.execute(tables.api_keys.select().where(tables.api_keys.c.workspace_id == workspace_id))
            ).all()
            expired, expiring = keys[0].id, keys[1].id
            for key_id, expires in ((expired, now - timedelta(days=1)), (expiring, now + timedelta(days=1))):
                await conn.execute(
                    tables.api_keys.update().where(tables.api_keys.c.id == key_id).values(expires_at=expires)
                )
            for endpoint_id, scopes in ((narrow, ["leads:read", "webhooks:write"]), (admin, ["admin"])):
                await conn.execute(
                    tables.webhook_endpoints.insert().values(
                        workspace_id=workspace_id, id=endpoint_id, url="https://hooks.example.com/crm",
                        event_types=[], scopes=scopes, secret="whsec_x", version=1, created_at=now,
                        updated_at=now, created_by="system", updated_by="system",
                    )
                )  # fmt: skip
            await conn.commit()
        await downgrade(db, "0027")
        async with db.engine.connect() as conn:
            revoked = dict((await conn.execute(text("SELECT id, revoked_at FROM api_keys"))).all())
            enabled = dict((await conn.execute(text("SELECT id, enabled FROM webhook_endpoints"))).all())
        by_id = {str(k).replace("-", ""): v for k, v in revoked.items()}
        assert by_id[expired.hex] is not None and by_id[expiring.hex] is not None
        assert {str(k).replace("-", ""): bool(v) for k, v in enabled.items()} == {narrow.hex: False, admin.hex: True}
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_redaction_waiting_at_the_upgrade_keeps_its_reach(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """Redactions now erase only what their requester may read (`params.scopes`); one queued before
    0028 has no scopes and would erase nothing, so the upgrade gives it the reach it had."""
    from app.db import tables

    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Redact", "0027")
        now, waiting, done = utcnow(), new_id(), new_id()
        old_jobs = sa.table(
            "jobs", *(sa.column(c.name, c.type) for c in tables.jobs.columns if c.name != "fingerprint")
        )
        async with db.engine.connect() as conn:
            for job_id, status in ((waiting, "queued"), (done, "succeeded")):
                await conn.execute(
                    old_jobs.insert().values(
                        workspace_id=workspace_id, id=job_id, kind="events.redact", status=status,
                        params={"resource_id": "r1"}, version=1, created_at=now, updated_at=now,
                        created_by="system", updated_by="system",
                    )
                )  # fmt: skip
            await conn.commit()
        await upgrade(db)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(tables.jobs.select().where(tables.jobs.c.workspace_id == workspace_id))).all()
        params = {r.id: r.params for r in rows}
        assert params[waiting] == {"resource_id": "r1", "scopes": ["admin"]}
        assert params[done] == {"resource_id": "r1"}  # history is left as it was
    finally:
        await db.dispose()


async def _settings(db: Database, workspace_id: uuid.UUID, section: str) -> dict[str, object]:
    from app.schemas.workspace.settings import SECTIONS
    from app.services.context import SERVICE_SCOPES, SYSTEM, Context
    from app.services.workspace import settings as section_settings

    async with UnitOfWork(db) as uow:
        ctx = Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        return await section_settings.get(ctx, section, SECTIONS[section][0])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_workspaces_made_before_0030_keep_the_behaviour_of_the_defaults_they_had(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """0030 changes defaults for new workspaces only: one that never wrote a section reads the old
    values after the upgrade, one that wrote business hours keeps them without region holidays,
    and a workspace made afterwards reads the new defaults."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        untouched = await workspace_below(db, "Untouched", "0029")
        async with db.engine.connect() as conn:
            values = {"enabled": True, "target_seconds": 600, "sources": ["web_form"], "stages": None,
                      "business_hours": {"timezone": None, "days": None, "start": "08:00:00", "end": "16:00:00",
                                         "holidays": []}, "escalation": "none"}  # fmt: skip
            await conn.execute(
                text(
                    'INSERT INTO workspace_settings (workspace_id, section, "values", version, created_at, '
                    "updated_at, created_by, updated_by) VALUES (:w, 'sla', "
                    f"{'CAST(:v AS jsonb)' if kind == 'postgresql' else ':v'}, 3, :now, :now, 'system', 'system')"
                ),
                {"w": _uuid(kind, untouched), "v": json.dumps(values), "now": utcnow()},
            )
            await conn.commit()
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            fresh = (await workspaces.create(uow, name="Fresh", now=utcnow())).workspace["id"]
            await uow.commit()

        scoring = await _settings(db, untouched, "scoring")
        assert scoring["version"] == 1 and scoring["created_by"] == "system"
        assert scoring["values"]["temperature_from"] == "score"
        assert scoring["values"]["mql_requires_acceptance"] is False
        assert scoring["values"]["hot_intent"] == ["demo_request", "pricing_page_view", "meeting_booked"]
        assert (await _settings(db, untouched, "deduplication"))["values"]["on_duplicate"] == "reject"
        assert (await _settings(db, untouched, "retention"))["values"]["rescue_tasks"] is False
        assert (await _settings(db, untouched, "analytics"))["values"]["churn_overdue_tolerance"] is None
        sla = await _settings(db, untouched, "sla")
        assert sla["version"] == 3 and sla["values"]["sources"] == ["web_form"]
        assert sla["values"]["business_hours"]["region_holidays"] is False
        assert sla["values"]["business_hours"]["start"] == "08:00:00"

        new = {section: (await _settings(db, fresh, section))["values"] for section in PREVIOUS_DEFAULTS}
        assert new["scoring"]["temperature_from"] == "engagement"
        assert new["scoring"]["mql_requires_acceptance"] is True
        assert "pricing_page_view" not in new["scoring"]["hot_intent"]
        assert new["deduplication"]["on_duplicate"] == "merge"
        assert new["retention"]["rescue_tasks"] is True
        assert new["analytics"]["churn_overdue_tolerance"] == 1.5
        assert new["sla"]["sources"] == ["web_form", "landing_page", "chat", "social", "ads"]
        assert new["sla"]["business_hours"]["region_holidays"] is True

        await downgrade(db, "0029")  # the older code reads what is left
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text('SELECT section, "values" FROM workspace_settings'))).all()
        for section, raw in rows:
            stored = json.loads(raw) if isinstance(raw, str) else raw
            assert "temperature_from" not in stored and "on_duplicate" not in stored, section
            assert "region_holidays" not in (stored.get("business_hours") or {}), section
    finally:
        await db.dispose()


PREVIOUS_DEFAULTS = ("scoring", "deduplication", "retention", "sla", "analytics")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_leads_converted_before_0032_carry_their_referrer_to_their_contacts_once(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """Before 0032 qualifying a referred lead left its contact without the referrer; the upgrade
    carries it over as qualification now does (to a contact naming none, from its earliest
    converted lead, never to the referrer itself) and counts each carried contact once."""
    from app.db import tables

    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Referrals", "0030")
        now = utcnow()
        audit = {"workspace_id": workspace_id, "version": 1, "created_at": now, "updated_at": now,
                 "created_by": "system", "updated_by": "system"}  # fmt: skip
        people = {name: new_id() for name in ("sara", "ali", "reza", "mina", "nima", "self", "open")}

        def contact(name: str, **values: object) -> dict[str, object]:
            return {**audit, "id": people[name], "first_name": name, "tags": [], "interests": [],
                    "referred_by_contact_id": None, "referrals_count": 0, **values}  # fmt: skip

        def lead(contact_name: str | None, referrer: str, status: str = "qualified") -> dict[str, object]:
            return {**audit, "id": new_id(), "email": f"{contact_name or 'open'}@x.io", "source": "referral",
                    "channel": "offline", "tags": [], "custom_fields": {}, "status": status,
                    "contact_id": people[contact_name] if contact_name else None,
                    "referred_by_contact_id": people[referrer]}  # fmt: skip

        async with db.engine.connect() as conn:
            await conn.execute(tables.contacts.insert(), [
                contact("sara"), contact("ali", referrals_count=1), contact("reza"),
                contact("mina", referred_by_contact_id=people["ali"]), contact("nima"), contact("self"),
            ])  # fmt: skip
            await conn.execute(tables.leads.insert(), [
                lead("reza", "sara"),  # qualified without its referrer: carried over
                lead("mina", "sara"),  # mina names ali already: kept
                lead("nima", "sara"), lead("nima", "ali"),  # the earliest converted lead speaks
                lead("self", "self"),  # referred by the contact it became: never itself
                lead(None, "sara", status="nurturing"),  # not converted: not counted
            ])  # fmt: skip
            await conn.commit()
        await upgrade(db)
        async with db.engine.connect() as conn:
            rows = await conn.execute(sa.select(tables.contacts).where(tables.contacts.c.workspace_id == workspace_id))
            stored = {row.first_name: row for row in rows}
        named = {name: row.referred_by_contact_id for name, row in stored.items()}
        assert named == {"sara": None, "ali": None, "reza": people["sara"], "mina": people["ali"],
                         "nima": people["sara"], "self": None}  # fmt: skip
        assert (stored["sara"].referrals_count, stored["ali"].referrals_count) == (2, 1)
        assert (stored["reza"].version, stored["reza"].updated_by, stored["mina"].version) == (2, "system", 1)

        async with db.engine.connect() as conn:
            ws = tables.workspace_settings  # 0044 stored the section (its classes kept): one naming a reward instead
            await conn.execute(ws.delete().where(ws.c.workspace_id == workspace_id, ws.c.section == "retention"))
            await conn.execute(tables.workspace_settings.insert().values(
                workspace_id=workspace_id, section="retention", values={"referral_reward_points": 50}, version=1,
                created_at=now, updated_at=now, created_by="system", updated_by="system",
            ))  # fmt: skip
            await conn.commit()
        await downgrade(db, "0030")  # the older code reads what is left, and keeps the counts
        async with db.engine.connect() as conn:
            raw = (await conn.execute(text("SELECT \"values\" FROM workspace_settings WHERE section = 'retention'"))
                   ).scalar_one()  # fmt: skip
            count = (await conn.execute(sa.select(tables.contacts.c.referrals_count).where(
                tables.contacts.c.id == people["sara"]))).scalar_one()  # fmt: skip
        assert "referral_reward_points" not in (json.loads(raw) if isinstance(raw, str) else raw) and count == 2
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_churn_alerts_raised_before_0034_read_as_announced_high_risk_alerts_and_the_downgrade_keeps_them(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """An alert raised before 0034 was raised for high risk and announced; going back below 0034
    drops what the older code cannot read: unannounced alerts, the analytics settings it does not
    know, a snapshot's retention `fallback` source."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    jsonb = "CAST(:v AS jsonb)" if kind == "postgresql" else ":v"
    try:
        workspace_id = await workspace_below(db, "Alerts", "0030")
        contact_id, now, w = new_id(), utcnow(), _uuid(kind, workspace_id)
        alert = {"contact_id": _uuid(kind, contact_id), "snapshot_id": _uuid(kind, new_id()), "now": now, "w": w}
        columns = ("workspace_id, id, contact_id, snapshot_id, raised_on, window_ends_on, churn_score, "
                   "clv_at_risk_minor, currency, reasons, created_at")  # fmt: skip
        values = f":w, :id, :contact_id, :snapshot_id, '2026-09-01', '2026-10-31', 0.8, 1000, 'USD', {jsonb}, :now"
        async with db.engine.connect() as conn:
            await conn.execute(
                text(
                    "INSERT INTO contacts (workspace_id, id, tags, interests, created_at, updated_at, created_by, "
                    f"updated_by) VALUES (:w, :id, {jsonb}, {jsonb.replace(':v', ':i')}, :now, :now, 'system', "
                    "'system')"
                ),
                {"w": w, "id": _uuid(kind, contact_id), "v": "[]", "i": "[]", "now": now},
            )
            before = _uuid(kind, new_id())
            await conn.execute(text(f"INSERT INTO churn_alerts ({columns}) VALUES ({values})"),
                               {**alert, "id": before, "v": "[]"})  # fmt: skip
            await conn.commit()
        await upgrade(db)
        async with db.engine.connect() as conn:
            statement = text("SELECT reason, churn_level, announced FROM churn_alerts WHERE id = :id")
            row = (await conn.execute(statement, {"id": before})).one()
            assert (row.reason, row.churn_level, bool(row.announced)) == ("high_risk", "high", True)
            # What the newer code writes: an unannounced alert, its settings, a fallback retention.
            await conn.execute(
                text(f"INSERT INTO churn_alerts ({columns}, announced) VALUES ({values}, :announced)"),
                {**alert, "id": _uuid(kind, new_id()), "v": "[]", "announced": False},
            )
            analytics = {"default_margin": 0.25, "churn_overdue_tolerance": None, "churn_alert_cooldown_days": 30}
            await conn.execute(
                text(
                    'INSERT INTO workspace_settings (workspace_id, section, "values", version, created_at, '
                    f"updated_at, created_by, updated_by) VALUES (:w, 'analytics', {jsonb}, 2, :now, :now, "
                    "'system', 'system')"
                ),
                {"w": w, "v": json.dumps(analytics), "now": now},
            )
            retention = {"rate": 2 / 3, "source": "fallback", "customers_year_before_last": 0, "retained": 0}
            await conn.execute(
                text(
                    "INSERT INTO analytics_snapshots (workspace_id, id, status, as_of, currency, time_unit, "
                    f"retention, settings, created_at) VALUES (:w, :id, 'ready', '2026-09-01', 'USD', 'days', "
                    f"{jsonb}, {jsonb.replace(':v', ':s')}, :now)"
                ),
                {"w": w, "id": _uuid(kind, new_id()), "v": json.dumps(retention), "s": "{}", "now": now},
            )
            await conn.commit()

        await downgrade(db, "0030")
        async with db.engine.connect() as conn:
            kept = (await conn.execute(text("SELECT id FROM churn_alerts"))).scalars().all()
            stored = (
                await conn.execute(text("SELECT \"values\" FROM workspace_settings WHERE section = 'analytics'"))
            ).scalar_one()
            source = (await conn.execute(text("SELECT retention FROM analytics_snapshots"))).scalar_one()
        assert [str(k).replace("-", "") for k in kept] == [str(before).replace("-", "")]
        assert (json.loads(stored) if isinstance(stored, str) else stored) == {"default_margin": 0.25}
        assert (json.loads(source) if isinstance(source, str) else source)["source"] == "unavailable"
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_leads_whose_ial_came_only_from_the_default_have_no_stage_after_0031(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """Before 0031 every lead under the MQL threshold was an IAL. After it, only a lead whose
    engagements of the last 90 days are all content downloads keeps IAL; the others lose their
    stage, with a history row, and stage lists in settings that named `ial` name `none` beside it.
    Going down gives every lead without a stage `ial` again."""
    from datetime import timedelta

    from app.db import tables

    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Stages", "0030")
        now = utcnow()
        new_columns = {"stage_manual", "mql_candidate", "stage_verdict"}
        old_leads = sa.table(
            "leads", *(sa.column(c.name, c.type) for c in tables.leads.columns if c.name not in new_columns)
        )
        old_settings = sa.table(
            "workspace_settings", *(sa.column(c.name, c.type) for c in tables.workspace_settings.columns)
        )
        engagements = tables.engagements
        leads = {name: new_id() for name in ("silent", "reader", "browser", "long_ago", "qualified")}
        stages = {"qualified": "mql"}
        done = {
            "reader": [("content_download", 3), ("content_download", 40)],
            "browser": [("content_download", 3), ("page_view", 2)],
            "long_ago": [("content_download", 200)],
            "qualified": [("webinar_attended", 5)],
        }
        audit = {"version": 1, "created_at": now, "updated_at": now, "created_by": "system", "updated_by": "system"}
        async with db.engine.connect() as conn:
            for name, lead_id in leads.items():
                await conn.execute(
                    old_leads.insert().values(
                        workspace_id=workspace_id, id=lead_id, email=f"{name}@x.io", source="web_form",
                        channel="online", tags=[], status="new", custom_fields={}, score=12.5,
                        stage=stages.get(name, "ial"), **audit,
                    )
                )  # fmt: skip
                for kind_, days in done.get(name, []):
                    await conn.execute(
                        engagements.insert().values(
                            workspace_id=workspace_id, id=new_id(), lead_id=lead_id, type=kind_,
                            occurred_at=now - timedelta(days=days), properties={}, origin="api", created_at=now,
                        )
                    )  # fmt: skip
            rule = {"name": "early", "when": {"stages": ["ial", "mql"]}, "member_id": str(new_id()), "team_id": None}
            for section, values in (
                ("sla", {"stages": ["ial"], "target_seconds": 600}),
                ("routing", {"rules": [rule, {**rule, "when": {"stages": ["sql"]}}], "hot_team_id": None}),
            ):
                await conn.execute(
                    old_settings.insert().values(workspace_id=workspace_id, section=section, values=values, **audit)
                )
            await conn.commit()

        await upgrade(db)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(tables.leads.select().where(tables.leads.c.workspace_id == workspace_id))).all()
            history = (await conn.execute(tables.lead_state_changes.select())).all()
            stored = dict((await conn.execute(sa.select(old_settings.c.section, old_settings.c["values"]))).all())
        after = {r.id: (r.stage, r.stage_verdict, r.stage_manual, r.mql_candidate, r.version) for r in rows}
        assert after == {
            leads["silent"]: (None, None, False, False, 2),
            leads["reader"]: ("ial", "ial", False, False, 1),
            leads["browser"]: (None, None, False, False, 2),
            leads["long_ago"]: (None, None, False, False, 2),
            leads["qualified"]: ("mql", "mql", False, False, 1),
        }
        changed = {(r.lead_id, r.kind, r.from_value, r.to_value, r.cause, r.changed_by, r.score) for r in history}
        assert changed == {
            (leads[name], "stage", "ial", None, "stage rules changed: no qualifying signal", "system", 12.5)
            for name in ("silent", "browser", "long_ago")
        }
        values = {k: json.loads(v) if isinstance(v, str) else v for k, v in stored.items()}
        assert values["sla"]["stages"] == ["ial", "none"]
        assert [r["when"]["stages"] for r in values["routing"]["rules"]] == [["ial", "mql", "none"], ["sql"]]

        await downgrade(db, "0030")  # the older code reads what is left
        async with db.engine.connect() as conn:
            stages_now = dict((await conn.execute(text("SELECT id, stage FROM leads"))).all())
            count = (await conn.execute(text("SELECT count(*) FROM lead_state_changes"))).scalar_one()
            stored = dict((await conn.execute(sa.select(old_settings.c.section, old_settings.c["values"]))).all())
        assert sorted(stages_now.values()) == ["ial", "ial", "ial", "ial", "mql"]
        assert count == 0  # "ial -> no stage" is no change to the older code
        values = {k: json.loads(v) if isinstance(v, str) else v for k, v in stored.items()}
        assert values["sla"]["stages"] == ["ial"]
        assert [r["when"]["stages"] for r in values["routing"]["rules"]] == [["ial", "mql"], ["sql"]]
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_workspace_made_before_0030_still_refuses_an_exact_duplicate_through_the_api(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """New workspaces merge a lead whose email or phone an open lead has; one that existed before
    the upgrade keeps answering 409 (0030 stored `on_duplicate: reject` for it) unless a request
    asks to merge."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:  # made at head for its keys, then taken below 0030 (as workspace_below)
            before = await workspaces.create(uow, name="Before", now=utcnow())
            await uow.commit()
        await downgrade(db, "0029")
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            after = await workspaces.create(uow, name="After", now=utcnow())
            await uow.commit()
        app = create_app(Settings(database_url=db.settings.database_url), database=db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for made, expected in ((before, 409), (after, 200)):
                auth = {"Authorization": f"Bearer {made.secret_key}"}
                first = await client.post("/v1/leads", json={"email": "sara@acme.io"}, headers=auth)
                assert first.status_code == 201, first.text
                again = await client.post("/v1/leads", json={"email": "SARA@acme.io", "company": "Acme"}, headers=auth)
                assert again.status_code == expected, again.text
                if expected == 409:
                    assert again.json()["existing_lead_id"] == first.json()["id"]
                    asked = await client.post(
                        "/v1/leads", json={"email": "sara@acme.io"}, params={"on_duplicate": "merge"}, headers=auth
                    )
                    assert asked.status_code == 200 and asked.json()["id"] == first.json()["id"]
                else:
                    assert again.json()["id"] == first.json()["id"] and again.json()["company"] == "Acme"
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_workspaces_made_before_0044_keep_every_retention_class_off_through_the_api(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """0044 gives new workspaces retention classes that remove data (form submissions after 180
    days, message bodies after 365, privacy exports after 7); a workspace that existed before reads
    null (kept) for them, so nothing disappears on the first night after the upgrade. A value a
    workspace set stays, and a section it wrote keeps its version; one first written by the
    migration is the system's, version 1. Downgrading takes out the fields the older code forbids."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:  # made at head for their keys, then taken below 0044
            untouched = await workspaces.create(uow, name="Untouched", now=utcnow())
            chose = await workspaces.create(uow, name="Chose", now=utcnow())
            await uow.commit()
        await downgrade(db, "0043")
        async with db.engine.connect() as conn:  # as the code of 0043 wrote a section
            values = {"idempotency_key_hours": 48, "webhook_response_excerpt_days": 30, "message_body_days": 30,
                      "rescue_tasks": False, "rescue_task_due_days": 2, "rescue_window_days": 60,
                      "referral_reward_points": None}  # fmt: skip
            await conn.execute(
                text(
                    'INSERT INTO workspace_settings (workspace_id, section, "values", version, created_at, '
                    "updated_at, created_by, updated_by) VALUES (:w, 'retention', "
                    f"{'CAST(:v AS jsonb)' if kind == 'postgresql' else ':v'}, 4, :now, :now, 'system', 'system')"
                ),
                {"w": _uuid(kind, chose.workspace["id"]), "v": json.dumps(values), "now": utcnow()},
            )
            await conn.commit()
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            fresh = await workspaces.create(uow, name="Fresh", now=utcnow())
            await uow.commit()

        app = create_app(Settings(database_url=db.settings.database_url), database=db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def retention(made: workspaces.NewWorkspace) -> dict[str, object]:
                auth = {"Authorization": f"Bearer {made.secret_key}"}
                answer = await client.get("/v1/settings/retention", headers=auth)
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            classes = ("form_submission_days", "message_body_days", "archived_lead_days", "privacy_export_days")
            before = await retention(untouched)
            assert {name: before[name] for name in classes} == dict.fromkeys(classes)
            assert before["version"] == 1 and before["rescue_tasks"] is True  # a default 0030 did not keep
            kept = await retention(chose)
            assert {name: kept[name] for name in classes} == {
                "form_submission_days": None, "message_body_days": 30, "archived_lead_days": None,
                "privacy_export_days": None,
            }  # fmt: skip
            assert kept["version"] == 4 and kept["idempotency_key_hours"] == 48
            after = await retention(fresh)
            assert {name: after[name] for name in classes} == {
                "form_submission_days": 180, "message_body_days": 365, "archived_lead_days": None,
                "privacy_export_days": 7,
            }  # fmt: skip
            assert after["version"] == 0

        await downgrade(db, "0043")  # the older code reads what is left
        async with db.engine.connect() as conn:
            statement = text("""SELECT "values" FROM workspace_settings WHERE section = 'retention'""")
            rows = (await conn.execute(statement)).all()
        stored = [json.loads(raw) if isinstance(raw, str) else raw for (raw,) in rows]
        assert len(stored) == 2 and all(not {"form_submission_days", "privacy_export_days"} & set(v) for v in stored)
        assert {v.get("message_body_days", "absent") for v in stored} == {None, 30}
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_going_below_0042_takes_the_audit_retention_out_of_stored_settings(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """A retention write after 0042 stores the whole section, `audit_log_days` included; the older
    code forbids unknown fields, so the downgrade takes it out (every other value stays)."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            made = await workspaces.create(uow, name="Audited", now=utcnow())
            await uow.commit()
        ws = _uuid(kind, made.workspace["id"])
        values = {"idempotency_key_hours": 48, "webhook_response_excerpt_days": 30, "audit_log_days": 400}
        async with db.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM workspace_settings WHERE section = 'retention' AND workspace_id = :ws"),
                {"ws": ws},
            )
            await conn.execute(
                text(
                    'INSERT INTO workspace_settings (workspace_id, section, "values", version, created_at, '
                    "updated_at, created_by, updated_by) VALUES (:ws, 'retention', "
                    f"{'CAST(:v AS jsonb)' if kind == 'postgresql' else ':v'}, 3, :now, :now, 'test', 'test')"
                ),
                {"ws": ws, "v": json.dumps(values), "now": utcnow()},
            )
        await downgrade(db, "0041")
        async with db.engine.connect() as conn:
            statement = text("""SELECT "values" FROM workspace_settings WHERE section = 'retention'""")
            [(raw,)] = (await conn.execute(statement)).all()
        stored = json.loads(raw) if isinstance(raw, str) else raw
        assert stored == {"idempotency_key_hours": 48, "webhook_response_excerpt_days": 30}
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_events_stored_before_0046_name_their_people_for_an_erasure(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """0046 keeps an index of where each person's data lives, written with the data from then on;
    the events already stored that name a person other than their resource (a form submission's
    event, keyed to its form) get their entries from the migration, so an erasure finds them."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        workspace_id = await workspace_below(db, "Before", "0045")
        lead_id, form_id, event_id, own_id = new_id(), new_id(), new_id(), new_id()
        async with db.engine.connect() as conn:
            for row_id, resource, data in (
                (event_id, str(form_id), {"id": str(new_id()), "lead_id": str(lead_id), "fields": {"lead_id": "x"}}),
                (own_id, str(lead_id), {"id": str(lead_id), "lead_id": str(lead_id)}),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO events (workspace_id, id, type, occurred_at, api_version, actor, resource_id, "
                        "data) VALUES (:w, :id, 'form.submission_received', :now, '2026-11-27', 'test', :r, :d)"
                    ),
                    {"w": _uuid(kind, workspace_id), "id": _uuid(kind, row_id), "now": utcnow(), "r": resource,
                     "d": json.dumps(data)},
                )  # fmt: skip
            await conn.commit()
        await upgrade(db)
        async with UnitOfWork(db, write=False) as uow:
            refs = WorkspaceRepositories(uow, workspace_id).personal_refs
            assert await refs.find([str(lead_id)], "events") == [str(event_id)]
    finally:
        await db.dispose()

"""The layering the architecture guide asks for, checked on the source itself."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from app.db import tables
from app.db.repositories import base, idempotency, system
from app.db.repositories.audit import audit
from app.db.repositories.audit import queue as audit_queue
from app.db.repositories.events import (
    delivery_queue,
    event_queue,
    events,
    job_queue,
    jobs,
    timer_queue,
    timers,
    webhooks,
)
from app.db.repositories.leads import custom_fields, duplicates, forms, leads
from app.db.repositories.workspace import api_keys, members, settings, workspaces

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_database_layer_touches_sqlalchemy() -> None:
    offenders = [
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if "db" not in path.relative_to(APP).parts[:1]
        and any(name == "sqlalchemy" or name.startswith("sqlalchemy.") for name in _imports(path))
    ]
    assert offenders == [], f"queries are built only in app/db (repositories): {offenders}"


def test_domain_is_pure() -> None:
    forbidden = (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "pydantic",
        "httpx",
        "asyncpg",
        "aiosqlite",
        "app.db",
        "app.services",
        "app.routers",
        "app.schemas",
    )
    for path in (APP / "domain").rglob("*.py"):
        bad = [n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in forbidden)]
        assert bad == [], f"{path.name} imports {bad}"


def test_every_tenant_table_is_keyed_by_workspace_first() -> None:
    for table in tables.metadata.sorted_tables:
        if table.name == "workspaces":
            continue
        assert table in tables.TENANT_TABLES, f"{table.name} missing from TENANT_TABLES"
        assert next(iter(table.primary_key.columns)).name == "workspace_id", table.name


def test_repositories_are_scoped_except_the_named_system_one() -> None:
    for module in (
        api_keys, audit, custom_fields, duplicates, events, forms, idempotency, jobs, leads, members, settings,
        timers, webhooks, workspaces,
    ):  # fmt: skip
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                assert issubclass(cls, base.TenantRepository), cls
    # The named cross-workspace ones: creating tenants and resolving keys; the worker's four queues.
    assert not issubclass(system.SystemRepository, base.TenantRepository)
    for queue in (
        event_queue.EventQueue,
        delivery_queue.DeliveryQueue,
        timer_queue.TimerQueue,
        job_queue.JobQueue,
        audit_queue.AuditQueue,
    ):
        assert not issubclass(queue, base.TenantRepository), queue


def test_routers_never_build_queries_or_commit() -> None:
    for path in (APP / "routers").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert ".execute(" not in source, path
        assert "uow.commit" not in source or path.name == "route.py", path


# -- layers and bounded contexts ---------------------------------------------------------------------

CONTEXTS = (
    "workspace", "events", "leads", "customers", "analytics", "outreach", "journeys", "campaigns", "reports", "audit",
    "privacy",
)  # fmt: skip
# The router modules that may import the database layer, each with its reason. Every other router
# reaches the database through services (and the request's Context).
ROUTERS_USING_THE_DATABASE = {
    "route.py": "the route class opens each request's unit of work, commits it, and runs the request "
    "again after a lost update or a retryable conflict (app.db.unit_of_work, app.db.conflicts)",
}


def _imported(path: Path) -> set[str]:
    """Every module or name `path` imports, dotted: `from a.b import c` gives `a.b` and `a.b.c`
    (c may be a module: `from app.db.repositories import leads`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_services_never_import_routers_or_the_worker() -> None:
    offenders = [
        f"{path.relative_to(APP)} imports {name}"
        for path in (APP / "services").rglob("*.py")
        for name in sorted(_imported(path))
        if _under(name, "app.routers") or _under(name, "app.worker")
    ]
    assert offenders == [], f"use cases are called by routers and the worker, never the other way: {offenders}"


def test_routers_reach_the_database_only_where_a_request_opens_its_unit_of_work() -> None:
    using = {
        str(path.relative_to(APP / "routers")): sorted(n for n in _imported(path) if _under(n, "app.db"))
        for path in (APP / "routers").rglob("*.py")
    }
    using = {path: names for path, names in using.items() if names}
    assert set(using) == set(ROUTERS_USING_THE_DATABASE), f"routers go through services: {using}"


def test_a_context_reaches_another_contexts_repositories_only_through_its_services() -> None:
    offenders = []
    for layer in (APP / "services", APP / "routers" / "v1"):
        for context in CONTEXTS:
            for path in (layer / context).rglob("*.py"):
                others = [
                    name
                    for name in _imported(path)
                    for other in CONTEXTS
                    if other != context and _under(name, f"app.db.repositories.{other}")
                ]
                offenders += [f"{path.relative_to(APP)} imports {name}" for name in sorted(others)]
    assert offenders == [], f"another context's data is reached through its services: {offenders}"


def test_every_context_package_is_one_the_checks_know() -> None:
    for layer in ("services", "domain", "schemas", "routers/v1", "db/repositories"):
        packages = {p.name for p in (APP / layer).iterdir() if p.is_dir() and (p / "__init__.py").exists()}
        assert packages <= set(CONTEXTS), f"app/{layer} has a context the checks above do not know: {packages}"


def test_a_tenant_tables_foreign_keys_keep_to_its_workspace() -> None:
    """A row never points at another workspace's row: every foreign key between tenant tables
    carries workspace_id onto workspace_id."""
    tenant = {table.name for table in tables.TENANT_TABLES}
    offenders, checked = [], 0
    for table in tables.metadata.sorted_tables:
        for constraint in table.foreign_key_constraints:
            if table.name not in tenant or constraint.referred_table.name not in tenant:
                continue
            checked += 1
            pairs = {(e.parent.name, e.column.name) for e in constraint.elements}
            if ("workspace_id", "workspace_id") not in pairs:
                offenders.append(
                    f"{table.name}({', '.join(sorted(c for c, _ in pairs))}) -> {constraint.referred_table.name}"
                )
    assert checked > 0 and offenders == [], f"foreign keys between tenant tables include workspace_id: {offenders}"

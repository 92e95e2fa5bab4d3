"""The layering the architecture guide asks for, checked on the source itself."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from app.db import tables
from app.db.repositories import base, idempotency, system
from app.db.repositories.events import events, jobs, outbox, timers, webhooks
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
        api_keys, custom_fields, duplicates, events, forms, idempotency, jobs, leads, members, settings, timers,
        webhooks, workspaces,
    ):  # fmt: skip
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                assert issubclass(cls, base.TenantRepository), cls
    # The named cross-workspace ones: creating tenants and resolving keys; the worker's claims.
    assert not issubclass(system.SystemRepository, base.TenantRepository)
    assert not issubclass(outbox.OutboxRepository, base.TenantRepository)


def test_routers_never_build_queries_or_commit() -> None:
    for path in (APP / "routers").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert ".execute(" not in source, path
        assert "uow.commit" not in source or path.name == "route.py", path

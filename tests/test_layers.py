"""The layers of the code (README, "How the code is laid out"), beyond what import-linter
checks (pyproject.toml, ``[tool.importlinter]``; make check and make test run it):

- every module of ``licensing`` is either one the portal may import or one the contract
  forbids, so a new module is a decision, not a hole;
- no module of ``portal`` reads ``licensing``'s tables itself: no ``Model.objects`` of a
  licensing model, no database connection, no query expressions;
- every selector takes keyword arguments only, and the tenant wherever the data is a
  tenant's.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import tomllib
from pathlib import Path

import pytest

import licensing
import licensing.selectors

ROOT = Path(__file__).resolve().parent.parent
PORTAL_MAY_IMPORT = {
    "licensing.services",
    "licensing.selectors",
    "licensing.errors",
    "licensing.models",
}
# Selectors whose data belongs to no tenant: the account's own, the catalog every tenant
# shares, the tenant itself; and the API's sign-in, which finds an app by the tenant id its
# token names (``tenant_public_id``).
NOT_A_TENANTS = {
    "licensing.selectors.accounts",
    "licensing.selectors.products.catalog",
    "licensing.selectors.products.plan_links",
    "licensing.selectors.products.service_plans",
    "licensing.selectors.products.products_by_sku",
    "licensing.selectors.products.picked_products",
    "licensing.selectors.tenants.tenant",
    "licensing.selectors.credentials.live_app",
    # Not a read: whether PostgreSQL can write the users page as JSON for these fields.
    "licensing.selectors.users.can_write_users_json",
}
# The portal's own reads of tables that are not licensing's: django-axes' sign-in attempts,
# and Django's accounts (mozilla-django-oidc finds an account by its e-mail).
OTHER_ORM = {"portal/signin.py", "portal/oidc.py"}


def _contract(name: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["name"] == name)


def test_every_licensing_module_is_allowed_or_forbidden_to_the_portal():
    contract = _contract(
        "portal reaches licensing only through services, selectors, errors and models"
    )
    modules = {f"licensing.{m.name}" for m in pkgutil.iter_modules(licensing.__path__)}
    forbidden = set(contract["forbidden_modules"])
    assert not forbidden & PORTAL_MAY_IMPORT
    assert modules == forbidden | PORTAL_MAY_IMPORT, (
        "a module of licensing is neither allowed to the portal nor forbidden: decide, in "
        "pyproject.toml's import contract"
    )


def _portal_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "portal").rglob("*.py") if p.name != "settings.py")


def _orm_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    other_orm = str(path.relative_to(ROOT)) in OTHER_ORM
    models: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {a.asname or a.name for a in node.names}
            if node.module == "licensing.models":
                models |= names
            if node.module == "licensing" and "models" in names:
                found.append(f"line {node.lineno}: imports licensing.models as a module")
            if node.module == "django.db" and names & {"connection", "connections"}:
                found.append(f"line {node.lineno}: imports a database connection")
            if node.module == "django.shortcuts" and names & {
                "get_object_or_404",
                "get_list_or_404",
            }:
                found.append(f"line {node.lineno}: looks up a model itself")
            if node.module.startswith("django.db.models") and not other_orm:
                found.append(f"line {node.lineno}: builds queries ({node.module})")
    for node in ast.walk(tree):
        managers = {"objects", "_default_manager", "_base_manager"}
        if isinstance(node, ast.Attribute) and node.attr in managers:
            # Any manager: a licensing model's, or one reached another way (a model passed
            # in, ``type(x).objects``); only the modules of OTHER_ORM read other tables.
            named = isinstance(node.value, ast.Name) and node.value.id in models
            if named or not other_orm:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and node.attr == "raw":
            found.append(f"line {node.lineno}: .raw")
    return found


@pytest.mark.parametrize("path", _portal_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_portal_module_reads_licensing_tables_itself(path):
    assert _orm_uses(path) == [], "read through licensing.selectors instead"


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The check above, on a module that does all it forbids."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from django.db import connection\n"
        "from django.db.models import Q\n"
        "from django.shortcuts import get_object_or_404\n"
        "from licensing.models import Group as G\n"
        "G.objects.filter(Q(name='x'))\n"
        "G.objects.raw('SELECT 1')\n"
        "from licensing import models\n"
        "type(x).objects.all()\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_orm_uses(bad)) == 8
    finally:
        ROOT = saved


def _selectors():
    for info in pkgutil.iter_modules(licensing.selectors.__path__):
        module = importlib.import_module(f"licensing.selectors.{info.name}")
        if info.name.startswith("_"):
            continue  # what the selectors share, not a selector
        for name, fn in vars(module).items():
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and name[0] != "_":
                yield f"{module.__name__}.{name}", fn


@pytest.mark.parametrize(
    "name, fn", list(_selectors()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_selector_is_keyword_only_and_bound_to_a_tenant(name, fn):
    parameters = inspect.signature(fn).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name
    if name in NOT_A_TENANTS or name.rsplit(".", 1)[0] in NOT_A_TENANTS:
        return
    tenant = inspect.signature(fn).parameters.get("tenant")
    assert tenant is not None and tenant.default is inspect.Parameter.empty, (
        f"{name} reads a tenant's data: the tenant is a required keyword"
    )

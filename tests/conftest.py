from __future__ import annotations

import os

import pytest
from django.db import connection


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return "database: NOT PostgreSQL (set DATABASE_URL; run `make test`)"
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:  # the run fails below; the header says why
        return f"database: PostgreSQL unreachable ({exc})"
    return f"database: PostgreSQL {version}"


@pytest.fixture(autouse=True, scope="session")
def _require_postgresql(django_db_setup, django_db_blocker):
    """The suite runs on PostgreSQL, never silently on SQLite (README, "Conventions")."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.fail(
                "Tests need PostgreSQL: run `make test`, or set DATABASE_URL to a PostgreSQL "
                f"database (got {connection.vendor}).",
                pytrace=False,
            )


@pytest.fixture(autouse=True)
def _language_of_each_test_is_its_own():
    """A request in Dutch leaves Dutch active in the thread (LocaleMiddleware activates, and
    nothing deactivates): every test starts and ends in the default language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def tenant(db):
    from tests.factories import TenantFactory

    return TenantFactory(name="Contoso", initial_domain="contoso.onmicrosoft.com", country="NL")


@pytest.fixture
def actor(db):
    from tests.factories import AccountFactory

    return AccountFactory(username="admin@contoso.onmicrosoft.com")


@pytest.fixture
def staff(client):
    """The operator's support account, signed in to the Django admin (a superuser)."""
    from tests.factories import AccountFactory

    account = AccountFactory(username="support@operator.example", is_staff=True, is_superuser=True)
    client.force_login(account)
    return account


@pytest.fixture
def buy(tenant):
    """buy("ENTERPRISEPACK", 5): a subscription of N units for the tenant."""
    from tests.factories import SubscriptionFactory, product

    def _buy(sku: str, units: int, status: str = "Enabled", on=None):
        return SubscriptionFactory(
            tenant=on or tenant, product=product(sku), units=units, status=status
        )

    return _buy


@pytest.fixture
def users(tenant):
    """users(3): that many cloud users of the tenant."""
    from tests.factories import DirectoryUserFactory

    def _users(n: int, **kwargs):
        kwargs.setdefault("tenant", tenant)
        return DirectoryUserFactory.create_batch(n, **kwargs)

    return _users


@pytest.fixture
def as_role(client, tenant):
    """as_role("GlobalReader"): the test client signed in with that role in the tenant."""
    from tests.factories import AccountFactory, RoleAssignmentFactory

    def _as(role: str = "GlobalAdministrator", on=None):
        account = AccountFactory()
        RoleAssignmentFactory(account=account, tenant=on or tenant, role=role)
        client.force_login(account)
        return account

    return _as


@pytest.fixture
def htmx_headers():
    return {"HX-Request": "true"}


@pytest.fixture
def transactional_catalog(transactional_db):
    """The catalog for a test that commits (live server, real threads).

    A transactional test empties every table when it ends, the catalog the data migration
    loaded and its stamp row included; whichever runs next makes them again (idempotent). The
    stamp row first, so that loading the catalog gives it a value never used before.
    """
    from django.core.management import call_command

    from licensing.models import CatalogStamp

    CatalogStamp.objects.get_or_create(id=1)
    call_command("load_catalog", verbosity=0)

"""The database away mid-request (restarting, failing over): 503 with Retry-After in each
protocol's shape, never a 500 and never a half-applied change (portal/unavailable.py). The
real restart is in `make faults` (scripts/faults.py); here the driver's error is raised where
each kind of request first meets the database."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client

from licensing import services
from licensing.models import AuditEvent, TenantProduct, UserLicense
from tests.factories import product

pytestmark = pytest.mark.django_db

LOST = OperationalError("server closed the connection unexpectedly")


def _away(*args, **kwargs):
    raise LOST


def test_a_page_answers_503_with_retry_after_when_the_session_cannot_be_read(
    as_role, client, monkeypatch
):
    as_role()
    client.raise_request_exception = False
    monkeypatch.setattr(SessionStore, "load", _away)
    reply = client.get("/licenses/")
    assert reply.status_code == 503
    assert reply["Retry-After"] == "5"
    assert "temporarily unavailable" in reply.content.decode()


def test_a_change_that_loses_the_database_changes_nothing_and_answers_503(
    tenant, buy, users, as_role, client, monkeypatch
):
    """The service's transaction is lost at its write: nothing is applied, nothing audited."""
    buy("ENTERPRISEPACK", 5)
    (person,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("ENTERPRISEPACK"), users=[person], actor=None
    )
    UserLicense.objects.filter(user=person).update(state="Error", error="CountViolation")
    rows = list(UserLicense.objects.filter(user=person).values())
    seats = list(TenantProduct.objects.filter(tenant=tenant).values())
    as_role()
    before = AuditEvent.objects.count()
    client.raise_request_exception = False
    monkeypatch.setattr("licensing.reconcile.row_changes", _away)
    reply = client.post(f"/users/{person.public_id}/licenses/reprocess/")
    assert reply.status_code == 503
    assert reply["Retry-After"] == "5"
    assert list(UserLicense.objects.filter(user=person).values()) == rows
    assert list(TenantProduct.objects.filter(tenant=tenant).values()) == seats
    assert AuditEvent.objects.count() == before


def test_scim_answers_its_error_schema_with_503(tenant, monkeypatch):
    _token, secret = services.scim_token_issue(tenant=tenant, actor=None)
    monkeypatch.setattr(services, "scim_authenticate", _away)
    quiet = Client(raise_request_exception=False)
    reply = quiet.get(f"/scim/v2/{tenant.public_id}/Users", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert reply.status_code == 503
    assert reply["Retry-After"] == "5"
    assert reply.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert reply.json()["status"] == "503"


def test_any_other_failure_is_still_a_500(as_role, client, monkeypatch):
    as_role()
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(SessionStore, "load", broken)
    reply = client.get("/licenses/")
    assert reply.status_code == 500


def _wrapped(psycopg_error):
    error = OperationalError(str(psycopg_error))
    error.__cause__ = psycopg_error
    return error


def test_only_a_lost_connection_counts_as_the_database_away():
    """A statement timeout, a full disk or a lock not available is a fault to report (500, and
    e-mailed to ADMINS), not "try again in 5 seconds"."""
    import psycopg
    from django.db import InterfaceError

    from licensing.errors import database_unavailable

    assert database_unavailable(OperationalError("could not connect to server"))
    assert database_unavailable(InterfaceError("connection already closed"))
    assert database_unavailable(_wrapped(psycopg.errors.AdminShutdown()))
    assert database_unavailable(_wrapped(psycopg.errors.CannotConnectNow()))
    assert not database_unavailable(_wrapped(psycopg.errors.QueryCanceled()))
    assert not database_unavailable(_wrapped(psycopg.errors.DiskFull()))
    assert not database_unavailable(_wrapped(psycopg.errors.LockNotAvailable()))
    assert not database_unavailable(RuntimeError("a bug"))

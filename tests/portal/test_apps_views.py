from __future__ import annotations

import re

import pytest

from licensing.models import AppRegistration, AuditEvent

pytestmark = pytest.mark.django_db


def test_a_global_administrator_registers_an_app_and_sees_the_secret_once(as_role, client):
    as_role("GlobalAdministrator")
    reply = client.post("/apps/", {"name": "Nightly script", "permission": "read"}, follow=True)
    page = reply.content.decode()
    app = AppRegistration.objects.get()
    secret = re.search(r"Client secret</dt><dd><code>([^<]+)</code>", page).group(1)
    assert str(app.client_id) in page and app.permission == "Directory.Read.All"
    assert secret not in client.get("/apps/").content.decode()  # once
    assert app.secret_sha256 != secret and secret.startswith(app.secret_hint)
    client.post(f"/apps/{app.client_id}/revoke/")
    app.refresh_from_db()
    assert app.revoked_at is not None
    assert set(AuditEvent.objects.values_list("activity", flat=True)) >= {
        "Add application",
        "Remove service principal credentials",
    }


def test_an_app_without_a_name_is_refused(as_role, client):
    as_role("GlobalAdministrator")
    reply = client.post("/apps/", {"name": "  "})
    assert reply.status_code == 400 and not AppRegistration.objects.exists()


@pytest.mark.parametrize("role", ["LicenseAdministrator", "GlobalReader"])
def test_only_the_global_administrator_manages_apps(as_role, client, role, tenant):
    as_role(role)
    assert client.get("/apps/").status_code == 403
    assert client.post("/apps/", {"name": "x"}).status_code == 403
    assert not AppRegistration.objects.exists()


def test_another_tenants_app_cannot_be_revoked(as_role, client):
    from licensing import services
    from tests.factories import TenantFactory

    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    theirs, _ = services.app_register(tenant=other, name="Theirs", actor=None)
    as_role("GlobalAdministrator")
    assert client.post(f"/apps/{theirs.client_id}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_the_command_prints_the_three_lines(tenant):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_app_registration", tenant=tenant.initial_domain, name="CLI", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["Tenant ID", "Client ID", "Client secret"]
    assert lines[0] == f"Tenant ID: {tenant.public_id}"
    assert AppRegistration.objects.get().permission == "LicenseAssignment.ReadWrite.All"

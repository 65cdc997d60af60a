from __future__ import annotations

import re

import pytest

from licensing.models import AuditEvent, ScimToken
from licensing.services.apps import secret_digest
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_a_global_administrator_issues_rotates_and_revokes_the_token(as_role, client, tenant):
    as_role("GlobalAdministrator")
    page = client.post("/provisioning/", follow=True).content.decode()
    assert f"/scim/v2/{tenant.public_id}/" in page
    first = re.search(r"Secret token</dt><dd><code>([^<]+)</code>", page).group(1)
    token = ScimToken.objects.get()
    assert token.token_sha256 == secret_digest(first) and first.startswith(token.token_hint)
    assert first not in client.get("/provisioning/").content.decode()  # once
    client.post("/provisioning/", follow=True)  # rotate
    assert ScimToken.objects.filter(revoked_at=None).count() == 1
    assert ScimToken.objects.get(id=token.id).revoked_at is not None
    live = ScimToken.objects.get(revoked_at=None)
    client.post(f"/provisioning/{live.public_id}/revoke/")
    assert not ScimToken.objects.filter(revoked_at=None).exists()
    assert set(
        AuditEvent.objects.exclude(activity="Sign-in activity").values_list("activity", flat=True)
    ) == {
        "Add provisioning credentials",
        "Remove provisioning credentials",
    }


def test_another_tenants_token_cannot_be_revoked_from_here(as_role, client):
    as_role("GlobalAdministrator")
    other = ScimToken.objects.create(
        tenant=TenantFactory(), token_sha256="x" * 64, token_hint="abcd"
    )
    assert client.post(f"/provisioning/{other.public_id}/revoke/").status_code == 404
    assert ScimToken.objects.get(id=other.id).revoked_at is None


@pytest.mark.parametrize("role", ["LicenseAdministrator", "GlobalReader"])
def test_only_the_global_administrator_manages_provisioning(as_role, client, role):
    as_role(role)
    assert client.get("/provisioning/").status_code == 403
    assert client.post("/provisioning/").status_code == 403
    assert not ScimToken.objects.exists()

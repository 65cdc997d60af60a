"""Sign in, sign out, tenant switching, and the roles (README, "The portal")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, RoleAssignmentFactory, TenantFactory

pytestmark = pytest.mark.django_db


def test_sign_in_lands_on_licenses_overview(client, tenant):
    RoleAssignmentFactory(account=AccountFactory(username="megan@contoso.com"), tenant=tenant)
    response = client.post(
        reverse("login"),
        {"username": "megan@contoso.com", "password": "correct horse battery staple"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:overview")
    assert "Contoso" in response.content.decode()


def test_wrong_password_shows_an_error(client, tenant):
    AccountFactory(username="megan@contoso.com")
    response = client.post(reverse("login"), {"username": "megan@contoso.com", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_sign_out_is_a_post(client, as_role):
    as_role()
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("portal:overview")).status_code == 302


def test_account_with_roles_in_two_tenants_switches(client, as_role, tenant):
    account = as_role()
    fabrikam = TenantFactory(name="Fabrikam")
    RoleAssignmentFactory(account=account, tenant=fabrikam, role="GlobalReader")
    assert (
        "Fabrikam" in client.get(reverse("portal:overview")).content.decode()
    )  # offered in the switcher
    response = client.post(reverse("portal:switch_tenant"), {"tenant": fabrikam.public_id})
    assert response.status_code == 303
    page = client.get(reverse("portal:overview"))
    assert page.context["current_tenant"] == fabrikam
    assert page.context["current_role"].role == "GlobalReader"


def test_switching_to_a_tenant_without_a_role_is_404(client, as_role):
    as_role()
    assert (
        client.post(
            reverse("portal:switch_tenant"), {"tenant": TenantFactory().public_id}
        ).status_code
        == 404
    )


def test_account_without_a_role_is_forbidden_and_staff_goes_to_admin(client, tenant):
    client.force_login(AccountFactory())
    assert client.get(reverse("portal:overview")).status_code == 403
    client.force_login(AccountFactory(is_staff=True))
    assert client.get(reverse("portal:overview"))["Location"] == reverse("admin:index")


def test_groups_and_audit_lists_are_scoped_to_the_tenant(client, as_role, tenant):
    from licensing import services
    from tests.factories import GroupFactory

    other = TenantFactory()
    GroupFactory(tenant=other, name="Their group")
    services.group_create(tenant=tenant, name="Our group", actor=None)
    services.group_create(tenant=other, name="Their other group", actor=None)
    as_role("GlobalReader")
    groups = client.get(reverse("portal:groups")).content.decode()
    assert "Our group" in groups and "Their" not in groups
    audit = client.get(reverse("portal:audit"), {"activity": "Add group"}).content.decode()
    assert "Our group" in audit and "Their" not in audit

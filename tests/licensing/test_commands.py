"""load_demo: the quick start's demo tenants, idempotent, with the sign-in lines."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count

from licensing.consistency import consistency_problems
from licensing.models import (
    AuditEvent,
    DirectoryUser,
    Group,
    LicenseAssignment,
    RoleAssignment,
    Subscription,
    Tenant,
    UserLicense,
)
from licensing.seats import seat_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # demo data is for the quick start only
    out = io.StringIO()
    call_command("load_demo", port=8123, stdout=out)
    return out.getvalue()


def test_demo_prints_three_sign_in_lines_scripts_can_read(demo):
    lines = demo.splitlines()[-3:]
    assert lines == [
        "URL: http://127.0.0.1:8123/",
        "Username: support",
        "Password: contoso-demo-2026",
    ]


def test_demo_account_can_sign_in_to_the_admin_and_see_contosos_seats(demo, client):
    assert (
        client.post(
            "/accounts/login/", {"username": "support", "password": "contoso-demo-2026"}
        ).status_code
        == 302
    )
    contoso = Tenant.objects.get(name="Contoso")
    page = client.get(f"/admin/licensing/tenant/{contoso.id}/change/").content.decode()
    assert "Office 365 E3: 170 / 0 / " in page


def test_demo_contoso_has_users_groups_seats_and_errors_to_look_at(demo):
    contoso = Tenant.objects.get(initial_domain="contoso.onmicrosoft.com")
    assert str(contoso.country) == "NL"
    people = DirectoryUser.objects.filter(tenant=contoso)
    assert 280 <= people.count() <= 320
    assert people.filter(usage_location="").exists()
    assert people.filter(source="synced").exists()
    assert people.filter(soft_deleted_at__isnull=False).count() == 1
    assert Subscription.objects.filter(tenant=contoso, status="Warning").exists()
    assert Subscription.objects.filter(tenant=contoso).values("product").distinct().count() >= 5
    states = dict(
        UserLicense.objects.filter(tenant=contoso)
        .values_list("error")
        .annotate(n=Count("id"))
        .values_list("error", "n")
    )
    assert states.get("CountViolation", 0) > 0
    assert UserLicense.objects.filter(tenant=contoso, state="Suspended").exists()
    assert LicenseAssignment.objects.filter(tenant=contoso, group__isnull=False).count() >= 4
    assert Group.objects.filter(tenant=contoso).with_license_errors().exists()
    roles = set(RoleAssignment.objects.filter(tenant=contoso).values_list("role", flat=True))
    assert RoleAssignment.objects.filter(account__username="support").count() == 2
    assert roles == {"GlobalAdministrator", "LicenseAdministrator", "GlobalReader"}
    assert RoleAssignment.objects.filter(
        tenant__name="Fabrikam", role="GlobalAdministrator"
    ).exists()
    assert consistency_problems(contoso) == []
    assert all(c["assigned"] <= c["total"] for c in seat_counts(contoso).values())


def test_loading_the_demo_twice_changes_nothing(demo):
    def state():
        return (
            DirectoryUser.objects.count(),
            list(UserLicense.objects.order_by("id").values_list("id", "state", "error")),
            AuditEvent.objects.count(),
            RoleAssignment.objects.count(),
        )

    before = state()
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert state() == before


def test_printed_account_opens_licenses_all_products(demo, client):
    assert (
        client.post(
            "/accounts/login/", {"username": "support", "password": "contoso-demo-2026"}
        ).status_code
        == 302
    )
    assert client.get("/")["Location"] == "/licenses/"
    page = client.get("/licenses/products/").content.decode()
    assert "Office 365 E3" in page and "Contoso" in page


def test_demo_data_is_refused_outside_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo", stdout=io.StringIO())
    assert not Tenant.objects.exists()
    assert not get_user_model().objects.filter(username="support").exists()


def test_demo_never_resets_an_existing_password(settings):
    settings.DEBUG = True
    operator = get_user_model().objects.create_user("support", password="a private one 42")
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    operator.refresh_from_db()
    assert operator.check_password("a private one 42")
    assert not operator.check_password("contoso-demo-2026")
    assert not operator.is_superuser
    assert out.getvalue().splitlines()[-1] == (
        "Password: (the account's own; load_demo never changes it)"
    )

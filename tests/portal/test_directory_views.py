"""Deleted users, restore, permanent delete, the sync upload and expiring alerts."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from licensing import services
from licensing.models import DirectoryUser, UserLicense
from tests.factories import DirectoryUserFactory, SubscriptionFactory, TenantFactory, product
from tests.helpers import seats
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def leaver(tenant, buy, actor):
    buy("AAD_PREMIUM", 5)
    user = DirectoryUserFactory(tenant=tenant, display_name="Lee Leaver", source="synced")
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    services.user_soft_delete(tenant=tenant, user=user, actor=actor)
    return user


def test_deleted_users_lists_date_and_days_left(client, as_role, leaver):
    as_role("GlobalReader")
    page = client.get(reverse("portal:deleted_users")).content.decode()
    assert "Lee Leaver" in page and "Days left" in page
    assert client.get(reverse("portal:deleted_users")).context["rows"][0]["days_left"] == 29
    assert "Restore user" not in page


def test_restore_makes_licenses_active_again(client, as_role, leaver):
    as_role()
    response = client.post(reverse("portal:user_restore", args=[leaver.public_id]))
    assert response.status_code == 303
    assert UserLicense.objects.get(user=leaver).state == "Active"


def test_restore_when_seats_ran_out_says_so(client, as_role, tenant, leaver, users, actor):
    subscription = tenant.subscriptions.get()
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(4), actor=actor
    )
    services.subscription_update(tenant=tenant, subscription=subscription, units=4, actor=actor)
    as_role()
    response = client.post(reverse("portal:user_restore", args=[leaver.public_id]), follow=True)
    assert "no seat left" in response.content.decode()
    assert UserLicense.objects.get(user=leaver).error == "CountViolation"
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 4


def test_delete_permanently_frees_the_seat(client, as_role, tenant, leaver):
    as_role()
    client.post(reverse("portal:user_delete", args=[leaver.public_id]))
    assert not DirectoryUser.objects.filter(id=leaver.id).exists()
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 0


def test_restore_and_delete_are_for_global_administrators_of_this_tenant(client, as_role, leaver):
    as_role("LicenseAdministrator")
    for name in ("portal:user_restore", "portal:user_delete"):
        assert client.post(reverse(name, args=[leaver.public_id])).status_code == 403
        assert client.get(reverse(name, args=[leaver.public_id])).status_code == 405
    as_role(on=TenantFactory())
    assert client.post(reverse("portal:user_restore", args=[leaver.public_id])).status_code == 404
    assert DirectoryUser.objects.get(id=leaver.id).is_soft_deleted


def test_an_active_user_cannot_be_restored_or_deleted_here(client, as_role, tenant):
    active = DirectoryUserFactory(tenant=tenant)
    as_role()
    assert client.post(reverse("portal:user_delete", args=[active.public_id])).status_code == 404


def _upload(client, content: bytes, action="preview"):
    return client.post(
        reverse("portal:sync_upload"),
        {"action": action, "export": SimpleUploadedFile("export.csv", content, "text/csv")},
    )


def test_upload_shows_the_dry_run_then_imports(client, as_role, tenant):
    DirectoryUserFactory(tenant=tenant, user_principal_name="gone@contoso.com", source="synced")
    as_role()
    data = b"userPrincipalName,displayName,usageLocation,accountEnabled\nnew@contoso.com,New Person,NL,true\n"
    before = snapshot()
    preview = _upload(client, data).content.decode()
    assert "create new@contoso.com" in preview and "soft-delete gone@contoso.com" in preview
    assert snapshot() == before
    response = client.post(
        reverse("portal:sync_upload"),
        {"action": "import", "sha256": hashlib.sha256(data).hexdigest()},
    )
    assert response.status_code == 303
    assert DirectoryUser.objects.get(user_principal_name="new@contoso.com").source == "synced"
    assert DirectoryUser.objects.get(user_principal_name="gone@contoso.com").is_soft_deleted


def test_upload_of_a_bad_file_lists_the_problems_and_changes_nothing(client, as_role, tenant):
    as_role()
    before = snapshot()
    page = _upload(
        client, b"userPrincipalName,displayName,usageLocation,accountEnabled\nbad,X,ZZ,true\n"
    ).content.decode()
    assert (
        "line 2" in page and "not a valid user principal name" in page and "nothing changed" in page
    )
    assert (
        client.post(reverse("portal:sync_upload"), {"action": "import"})
        .content.decode()
        .count("expired")
        == 1
    )
    assert snapshot() == before


def test_upload_is_for_global_administrators(client, as_role):
    as_role("LicenseAdministrator")
    assert client.get(reverse("portal:sync_upload")).status_code == 403


def test_overview_alerts_products_expiring_within_30_days(client, as_role, tenant):
    today = datetime.date.today()
    SubscriptionFactory(
        tenant=tenant,
        product=product("EMS"),
        units=7,
        status="Warning",
        next_lifecycle_date=today + datetime.timedelta(days=20),
    )
    SubscriptionFactory(
        tenant=tenant,
        product=product("AAD_PREMIUM"),
        units=9,
        next_lifecycle_date=today + datetime.timedelta(days=10),
    )
    SubscriptionFactory(
        tenant=tenant,
        product=product("POWER_BI_PRO"),
        units=3,
        next_lifecycle_date=today + datetime.timedelta(days=90),
    )
    as_role()
    page = client.get(reverse("portal:overview")).content.decode()
    assert "9 licenses expire on" in page and "7 licenses expired, usable until" in page
    assert "Power BI Pro" not in page.split("Expiring soon")[1].split("</section>")[0]

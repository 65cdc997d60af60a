"""The Django admin for support staff: every model registered, changes through the services
(audited with the staff user), catalog and audit trail read-only, seat counts shown."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from licensing.models import AuditEvent, Group, LicenseAssignment, Subscription, UserLicense
from tests.factories import (
    AccountFactory,
    AuditEventFactory,
    DirectoryUserFactory,
    GroupFactory,
    GroupMembershipFactory,
    SubscriptionFactory,
    product,
)

pytestmark = pytest.mark.django_db


def test_every_licensing_model_is_registered():
    missing = [
        m.__name__
        for m in apps.get_app_config("licensing").get_models()
        if m not in admin.site._registry
    ]
    assert missing == []


@pytest.mark.parametrize(
    "model", [m for m in apps.get_app_config("licensing").get_models()], ids=lambda m: m.__name__
)
def test_every_changelist_opens_and_searches(client, staff, tenant, model):
    SubscriptionFactory(tenant=tenant)
    GroupMembershipFactory(group=GroupFactory(tenant=tenant))
    AuditEventFactory(tenant=tenant)
    url = reverse(f"admin:licensing_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "contoso"}).status_code == 200


def test_admin_is_for_staff_only(client, tenant):
    client.force_login(AccountFactory(is_staff=False))
    response = client.get(reverse("admin:licensing_tenant_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_assignment_added_in_admin_goes_through_the_service_and_is_audited(
    client, staff, tenant, buy
):
    buy("AAD_PREMIUM", 2)
    user = DirectoryUserFactory(tenant=tenant)
    response = client.post(
        reverse("admin:licensing_licenseassignment_add"),
        {"tenant": tenant.id, "user": user.id, "product": product("AAD_PREMIUM").id},
    )
    assert response.status_code == 302
    assert UserLicense.objects.get(user=user).state == "Active"
    event = AuditEvent.objects.get(activity="Change user license")
    assert (event.actor, event.actor_name) == (staff, staff.username)


def test_refused_admin_change_shows_the_reason_and_saves_nothing(client, staff, tenant, buy):
    buy("AAD_PREMIUM", 0)
    user = DirectoryUserFactory(tenant=tenant)
    response = client.post(
        reverse("admin:licensing_licenseassignment_add"),
        {"tenant": tenant.id, "user": user.id, "product": product("AAD_PREMIUM").id},
        follow=True,
    )
    assert "Not enough licenses" in response.content.decode()
    assert not LicenseAssignment.objects.exists()


def test_subscription_change_in_admin_is_audited_and_keeps_history(client, staff, tenant):
    subscription = SubscriptionFactory(tenant=tenant, units=5)
    response = client.post(
        reverse("admin:licensing_subscription_change", args=[subscription.id]),
        {"units": 12, "status": "Warning", "next_lifecycle_date": "2027-02-01"},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.units, subscription.status) == (12, "Warning")
    assert AuditEvent.objects.get(activity="Change subscription").actor == staff
    assert not admin.site._registry[Subscription].has_delete_permission(None)


def test_deleting_a_licensed_group_in_admin_is_refused(client, staff, tenant, buy):
    from licensing import services

    buy("AAD_PREMIUM", 2)
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=staff
    )
    response = client.post(
        reverse("admin:licensing_group_delete", args=[group.id]), {"post": "yes"}, follow=True
    )
    assert "still has licenses" in response.content.decode()
    assert Group.objects.filter(id=group.id).exists()


def test_tenant_page_shows_seat_counts(client, staff, tenant, buy, users):
    from licensing import services

    buy("AAD_PREMIUM", 7)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(3), actor=staff
    )
    page = client.get(reverse("admin:licensing_tenant_change", args=[tenant.id])).content.decode()
    assert "Microsoft Entra ID P1: 7 / 0 / 3 / 4" in page
    seats_page = client.get(reverse("admin:licensing_tenantproduct_changelist")).content.decode()
    assert "Microsoft Entra ID P1" in seats_page


def test_seats_changelist_query_count_does_not_grow_with_tenants(
    client, staff, django_assert_max_num_queries, buy
):
    from tests.factories import TenantFactory

    for _ in range(15):
        other = TenantFactory()
        buy("AAD_PREMIUM", 3, on=other)
        buy("POWER_BI_PRO", 3, on=other)
        from licensing.locking import lock_seats

        lock_seats(other, [product("AAD_PREMIUM").id, product("POWER_BI_PRO").id])
    # Session, user, count, page rows, and the filter choices: fixed whatever the row count.
    with django_assert_max_num_queries(10):
        assert client.get(reverse("admin:licensing_tenantproduct_changelist")).status_code == 200


def test_catalog_and_audit_trail_are_read_only(rf, staff):
    request = rf.get("/")
    request.user = staff
    for model in ("Product", "ServicePlan", "AuditEvent", "UserLicense"):
        model_admin = admin.site._registry[apps.get_model("licensing", model)]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)


def test_membership_added_and_removed_in_admin_goes_through_services(client, staff, tenant, buy):
    from licensing.models import GroupMembership

    buy("AAD_PREMIUM", 2)
    group = GroupFactory(tenant=tenant)
    from licensing import services

    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=staff
    )
    user = DirectoryUserFactory(tenant=tenant)
    client.post(
        reverse("admin:licensing_groupmembership_add"), {"group": group.id, "user": user.id}
    )
    assert UserLicense.objects.get(user=user).via_group == group
    membership = GroupMembership.objects.get(user=user)
    client.post(
        reverse("admin:licensing_groupmembership_delete", args=[membership.id]), {"post": "yes"}
    )
    assert not UserLicense.objects.filter(user=user).exists()
    assert list(
        AuditEvent.objects.filter(actor=staff, target_type="User").values_list(
            "activity", flat=True
        )
    ) == [
        "Remove member from group",
        "Add member to group",
    ]


def test_user_soft_delete_action_suspends_licenses(client, staff, tenant, buy):
    from licensing import services

    buy("AAD_PREMIUM", 2)
    user = DirectoryUserFactory(tenant=tenant)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=staff
    )
    client.post(
        reverse("admin:licensing_directoryuser_changelist"),
        {"action": "soft_delete", "_selected_action": [user.id]},
    )
    assert UserLicense.objects.get(user=user).state == "Suspended"

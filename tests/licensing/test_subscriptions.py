"""Subscription lifecycle (docs/rules.md §1)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.errors import InvalidInput
from licensing.models import AuditEvent, UserLicense
from tests.factories import product
from tests.helpers import assert_consistent, seats

pytestmark = pytest.mark.django_db


def test_warning_units_still_count_and_work(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2, status="Warning")
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(2), actor=actor
    )
    assert set(UserLicense.objects.values_list("state", flat=True)) == {"Active"}
    assert seats(tenant, "AAD_PREMIUM")["expiring"] == 2


def test_total_below_assigned_shows_over_assigned_and_removes_nothing(tenant, buy, users, actor):
    subscription = buy("AAD_PREMIUM", 3)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(3), actor=actor
    )
    services.subscription_update(tenant=tenant, subscription=subscription, units=1, actor=actor)
    counts = seats(tenant, "AAD_PREMIUM")
    assert (counts["total"], counts["assigned"], counts["available"], counts["over_assigned"]) == (
        1,
        3,
        -2,
        True,
    )
    assert UserLicense.objects.filter(state="Active").count() == 3
    assert_consistent(tenant)


def test_suspending_the_subscription_keeps_licenses_and_blocks_new_assignments(
    tenant, buy, users, actor
):
    from licensing.errors import ProductNotAssignable

    subscription = buy("AAD_PREMIUM", 3)
    holder, newcomer = users(2)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[holder], actor=actor
    )
    services.subscription_update(
        tenant=tenant, subscription=subscription, status="Suspended", actor=actor
    )
    assert UserLicense.objects.get(user=holder).state == "Active"
    with pytest.raises(ProductNotAssignable):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=[newcomer], actor=actor
        )


def test_subscription_change_is_audited_with_before_and_after(tenant, buy, actor):
    subscription = buy("AAD_PREMIUM", 3)
    services.subscription_update(
        tenant=tenant, subscription=subscription, units=7, status="Warning", actor=actor
    )
    event = AuditEvent.objects.get(activity="Change subscription")
    assert event.details["before"] == {"units": 3, "status": "Enabled"}
    assert event.details["after"] == {"units": 7, "status": "Warning"}


@pytest.mark.parametrize("units", [-1, "7", 2.5, True])
def test_bad_units_are_refused(tenant, buy, actor, units):
    subscription = buy("AAD_PREMIUM", 3)
    with pytest.raises(InvalidInput):
        services.subscription_update(
            tenant=tenant, subscription=subscription, units=units, actor=actor
        )
    subscription.refresh_from_db()
    assert subscription.units == 3

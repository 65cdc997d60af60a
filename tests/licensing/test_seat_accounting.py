"""Seat accounting (docs/rules.md §1)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.errors import ProductNotAssignable
from tests.factories import GroupFactory, product
from tests.helpers import assert_consistent, seats

pytestmark = pytest.mark.django_db


def test_total_counts_enabled_and_warning_units_and_expiring_counts_warning(tenant, buy):
    buy("AAD_PREMIUM", 10)
    buy("AAD_PREMIUM", 5, status="Warning")
    buy("AAD_PREMIUM", 7, status="Suspended")
    buy("AAD_PREMIUM", 3, status="LockedOut")
    counts = seats(tenant, "AAD_PREMIUM")
    assert (counts["total"], counts["expiring"], counts["assigned"], counts["available"]) == (
        15,
        5,
        0,
        15,
    )


def test_available_is_total_minus_assigned_including_expiring_units(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    buy("AAD_PREMIUM", 1, status="Warning")
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(3), actor=actor
    )
    assert seats(tenant, "AAD_PREMIUM") == {
        "total": 3,
        "expiring": 1,
        "assigned": 3,
        "available": 0,
        "over_assigned": False,
    }


def test_user_with_direct_and_two_group_paths_uses_one_seat(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    (user,) = users(1)
    p1 = product("AAD_PREMIUM")
    services.product_assign_to_users(tenant=tenant, product=p1, users=[user], actor=actor)
    for name in ("Sales", "Marketing"):
        group = GroupFactory(tenant=tenant, name=name)
        services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
        services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=actor)
    assert user.licenses.count() == 3
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert_consistent(tenant)


@pytest.mark.parametrize("status", ["Suspended", "LockedOut"])
def test_product_of_suspended_or_locked_out_subscription_cannot_be_assigned(
    tenant, buy, users, actor, status
):
    buy("AAD_PREMIUM", 10, status=status)
    with pytest.raises(ProductNotAssignable, match="suspended"):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=users(1), actor=actor
        )
    assert tenant.assignments.count() == 0


def test_company_product_is_never_assignable(tenant, buy, users, actor):
    buy("AAD_FREE", 1)
    with pytest.raises(ProductNotAssignable, match="whole organization"):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_FREE"), users=users(1), actor=actor
        )

"""The group counters the pages read (docs/rules.md §1) follow every change of the rows.

Each step below is followed by the group's figures counted from the rows, by hand, and by the
consistency check's count; the counters must say the same.
"""

from __future__ import annotations

import pytest

from licensing import services
from licensing.consistency import group_counter_problems
from licensing.models import Group, LicenseAssignment, LicenseState, UserLicense
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)

pytestmark = pytest.mark.django_db


def figures(group: Group) -> dict:
    """The counters next to what the rows say."""
    kept = Group.objects.get(id=group.id)
    in_error = UserLicense.objects.filter(via_group=group, state=LicenseState.ERROR)
    per_intent = {
        a.product.sku_part_number: a.error_counter
        for a in LicenseAssignment.objects.filter(group=group).select_related("product")
    }
    counted_per_intent = {
        sku: in_error.filter(product__sku_part_number=sku).count() for sku in per_intent
    }
    return {
        "members": (kept.member_counter, kept.memberships.count()),
        "errors": (kept.error_counter, in_error.values("user").distinct().count()),
        "per_intent": (per_intent, counted_per_intent),
    }


def check(group: Group, members: int, errors: int) -> None:
    f = figures(group)
    assert f["members"] == (members, members)
    assert f["errors"] == (errors, errors)
    assert f["per_intent"][0] == f["per_intent"][1]
    assert group_counter_problems(group.tenant) == []


def test_counters_follow_joins_leaves_errors_deletes_and_intents(actor):
    tenant = TenantFactory(country="NL")
    people = DirectoryUserFactory.create_batch(6, tenant=tenant, usage_location="NL")
    group = GroupFactory(tenant=tenant)
    other = GroupFactory(tenant=tenant)
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=2)
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=3)

    services.group_add_members(tenant=tenant, group=group, users=people[:5], actor=actor)
    services.group_add_members(tenant=tenant, group=other, users=people[3:], actor=actor)
    check(group, members=5, errors=0)
    check(other, members=3, errors=0)

    # Two P1 seats for five members: three in Error.
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    check(group, members=5, errors=3)
    # E3 too (3 seats): the same three short of P1 take none, the counters stay per user.
    services.group_assign_products(
        tenant=tenant, group=group, products={product("ENTERPRISEPACK"): []}, actor=actor
    )
    f = figures(group)
    assert f["per_intent"][0] == f["per_intent"][1]
    assert group_counter_problems(tenant) == []

    # A member holding a seat leaves: their seat goes to the first waiting member.
    holder = (
        UserLicense.objects.filter(
            via_group=group, state=LicenseState.ACTIVE, product=product("AAD_PREMIUM")
        )
        .first()
        .user
    )
    services.group_remove_members(tenant=tenant, group=group, users=[holder], actor=actor)
    check(group, members=4, errors=2)

    # A member in Error is deleted for good: their memberships and rows go by cascade.
    waiting = UserLicense.objects.filter(via_group=group, state=LicenseState.ERROR).first().user
    services.user_soft_delete(tenant=tenant, user=waiting, actor=actor)
    assert group_counter_problems(tenant) == []
    services.user_delete_permanently(
        tenant=tenant, user=type(waiting).objects.get(id=waiting.id), actor=actor
    )
    in_other = other.memberships.count()
    check(other, members=in_other, errors=0)
    assert group_counter_problems(tenant) == []

    # More seats: the members in Error get theirs when the group is processed again.
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=10)
    services.reprocess_group(tenant=tenant, group=group, actor=actor)
    check(group, members=group.memberships.count(), errors=0)

    # Newcomers find E3's three seats taken: in Error as they join.
    newcomers = DirectoryUserFactory.create_batch(2, tenant=tenant, usage_location="NL")
    services.group_add_members(tenant=tenant, group=group, users=newcomers, actor=actor)
    check(group, members=group.memberships.count(), errors=2)
    # The group's intents go: their rows in Error go with them.
    services.group_remove_products(
        tenant=tenant,
        group=group,
        products=[product("AAD_PREMIUM"), product("ENTERPRISEPACK")],
        actor=actor,
    )
    check(group, members=group.memberships.count(), errors=0)

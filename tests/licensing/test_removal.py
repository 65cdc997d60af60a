"""Removal (docs/rules.md §6)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.errors import InheritedLicense
from licensing.models import AuditEvent, LicenseAssignment
from tests.factories import GroupFactory, product
from tests.helpers import assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db


def test_inherited_license_cannot_be_removed_from_the_user(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    (user,) = users(1)
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    with pytest.raises(InheritedLicense) as refused:
        services.product_remove_from_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
        )
    assert str(refused.value) == (
        "User license is inherited from group membership and cannot be removed directly from the user"
    )
    assert refused.value.groups == [group]
    assert paths_of(user) == {("AAD_PREMIUM", "Sales", "Active", "")}


def test_removing_a_direct_license_frees_the_seat(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    services.product_remove_from_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    assert paths_of(user) == set()
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 0
    assert AuditEvent.objects.filter(activity="Change user license").count() == 2


def test_removing_the_direct_path_keeps_the_inherited_one_and_the_seat(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    (user,) = users(1)
    p1 = product("AAD_PREMIUM")
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=actor)
    services.product_assign_to_users(tenant=tenant, product=p1, users=[user], actor=actor)
    services.product_remove_from_users(tenant=tenant, product=p1, users=[user], actor=actor)
    assert paths_of(user) == {("AAD_PREMIUM", "Sales", "Active", "")}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1


def test_removing_a_groups_license_removes_the_path_from_every_member_and_others_keep_their_seat(
    tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 5)
    p1 = product("AAD_PREMIUM")
    group = GroupFactory(tenant=tenant, name="Sales")
    both, only_group = users(2)
    services.group_add_members(tenant=tenant, group=group, users=[both, only_group], actor=actor)
    services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=actor)
    services.product_assign_to_users(tenant=tenant, product=p1, users=[both], actor=actor)
    services.group_remove_products(tenant=tenant, group=group, products=[p1], actor=actor)
    assert paths_of(both) == {("AAD_PREMIUM", None, "Active", "")}
    assert paths_of(only_group) == set()
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert not LicenseAssignment.objects.filter(group=group).exists()
    assert_consistent(tenant)

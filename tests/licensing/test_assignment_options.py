"""Assignment options (docs/rules.md §3)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.catalog_store import current_catalog
from licensing.errors import InvalidInput, PlanConflict
from licensing.models import LicenseAssignment, UserLicense
from licensing.services.base import validate_disabled_plans
from tests.factories import GroupFactory, ProductServicePlanFactory, plan, plan_id, product

pytestmark = pytest.mark.django_db


def test_options_refuse_an_enabled_plan_whose_prerequisite_is_off_and_name_it(db):
    with pytest.raises(PlanConflict) as refused:
        validate_disabled_plans(product("ENTERPRISEPACK"), [plan_id("SHAREPOINTENTERPRISE")])
    assert "Office for the web requires SharePoint Online (Plan 2)" in str(refused.value)
    assert validate_disabled_plans(
        product("ENTERPRISEPACK"), [plan_id("SHAREPOINTENTERPRISE"), plan_id("SHAREPOINTWAC")]
    ) == sorted([plan_id("SHAREPOINTENTERPRISE"), plan_id("SHAREPOINTWAC")])


def test_options_refuse_two_mutually_exclusive_plans_of_one_product(db):
    both = ProductServicePlanFactory(service_plan=plan("EXCHANGE_S_STANDARD")).product
    ProductServicePlanFactory(product=both, service_plan=plan("EXCHANGE_S_ENTERPRISE"))
    with pytest.raises(PlanConflict, match="cannot both be on"):
        validate_disabled_plans(both, [])
    assert validate_disabled_plans(both, [plan_id("EXCHANGE_S_ENTERPRISE")])


def test_options_refuse_a_plan_that_is_not_in_the_product(db):
    with pytest.raises(InvalidInput, match="not a service plan of"):
        validate_disabled_plans(product("AAD_PREMIUM"), [plan_id("TEAMS1")])


def test_each_assignment_carries_its_disabled_plans(tenant, buy, users, actor):
    buy("ENTERPRISEPACK", 5)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant,
        product=product("ENTERPRISEPACK"),
        users=[user],
        disabled_plans=[plan_id("YAMMER_ENTERPRISE")],
        actor=actor,
    )
    assert LicenseAssignment.objects.get().disabled_plans == [plan_id("YAMMER_ENTERPRISE")]
    assert UserLicense.objects.get().disabled_plans == [plan_id("YAMMER_ENTERPRISE")]


def test_changing_options_of_a_group_assignment_reaches_every_member(tenant, buy, users, actor):
    buy("ENTERPRISEPACK", 5)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=users(3), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("ENTERPRISEPACK"): []}, actor=actor
    )
    assignment = LicenseAssignment.objects.get(group=group)
    services.assignment_set_disabled_plans(
        tenant=tenant, assignment=assignment, disabled_plans=[plan_id("TEAMS1")], actor=actor
    )
    assert (
        list(UserLicense.objects.values_list("disabled_plans", flat=True))
        == [[plan_id("TEAMS1")]] * 3
    )


def test_enabled_services_are_the_union_over_active_paths(tenant, buy, users, actor):
    from tests.helpers import enabled_plan_ids

    buy("ENTERPRISEPACK", 5)
    (user,) = users(1)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    e3 = product("ENTERPRISEPACK")
    services.product_assign_to_users(
        tenant=tenant,
        product=e3,
        users=[user],
        disabled_plans=[plan_id("TEAMS1"), plan_id("YAMMER_ENTERPRISE")],
        actor=actor,
    )
    services.group_assign_products(
        tenant=tenant, group=group, products={e3: [plan_id("YAMMER_ENTERPRISE")]}, actor=actor
    )
    enabled = enabled_plan_ids(user, e3, current_catalog())
    assert plan_id("TEAMS1") in enabled
    assert plan_id("YAMMER_ENTERPRISE") not in enabled


def test_plan_added_to_a_product_later_is_enabled_in_existing_assignments(
    tenant, buy, users, actor
):
    from tests.helpers import enabled_plan_ids

    buy("AAD_PREMIUM", 5)
    (user,) = users(1)
    p1 = product("AAD_PREMIUM")
    services.product_assign_to_users(tenant=tenant, product=p1, users=[user], actor=actor)
    new_plan = ProductServicePlanFactory(product=p1, position=99).service_plan
    assert str(new_plan.service_plan_id) in enabled_plan_ids(user, p1, current_catalog())

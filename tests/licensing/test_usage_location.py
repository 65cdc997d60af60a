"""Usage location (docs/rules.md §2)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.models import DirectoryUser, UserLicense
from tests.factories import GroupFactory, plan_id, product
from tests.helpers import assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db


def test_user_without_usage_location_takes_the_tenant_country(tenant, buy, users, actor):
    tenant.country = "CN"
    tenant.save()
    buy("STANDARDPACK", 5)
    (user,) = users(1, usage_location="")
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    # Viva Engage is not offered in CN: the license is active with that one plan off.
    assert paths_of(user) == {
        ("STANDARDPACK", None, "ActiveWithError", "ProhibitedInUsageLocationViolation")
    }


def test_own_usage_location_wins_over_tenant_country(tenant, buy, users, actor):
    tenant.country = "CN"
    tenant.save()
    buy("STANDARDPACK", 5)
    (user,) = users(1, usage_location="NL")
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    assert paths_of(user) == {("STANDARDPACK", None, "Active", "")}


def test_product_whose_every_enabled_plan_is_not_offered_is_an_error_without_a_seat(
    tenant, buy, users, actor
):
    buy("STANDARDPACK", 5)
    (user,) = users(1, usage_location="NL")
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    e1 = product("STANDARDPACK")
    only_yammer = [
        str(p.service_plan_id)
        for p in e1.service_plans.exclude(service_plan_name="YAMMER_ENTERPRISE")
    ]
    services.group_assign_products(
        tenant=tenant, group=group, products={e1: only_yammer}, actor=actor
    )
    assert paths_of(user) == {("STANDARDPACK", group.name, "Active", "")}
    services.user_set_usage_location(tenant=tenant, user=user, usage_location="CN", actor=actor)
    assert paths_of(user) == {
        ("STANDARDPACK", group.name, "Error", "ProhibitedInUsageLocationViolation")
    }
    assert seats(tenant, "STANDARDPACK")["assigned"] == 0
    assert_consistent(tenant)


def test_changing_usage_location_re_evaluates_licenses(tenant, buy, users, actor):
    buy("STANDARDPACK", 5)
    (user,) = users(1, usage_location="NL")
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    services.user_set_usage_location(tenant=tenant, user=user, usage_location="CN", actor=actor)
    assert paths_of(user) == {
        ("STANDARDPACK", None, "ActiveWithError", "ProhibitedInUsageLocationViolation")
    }
    services.user_set_usage_location(tenant=tenant, user=user, usage_location="de", actor=actor)
    assert paths_of(user) == {("STANDARDPACK", None, "Active", "")}
    assert DirectoryUser.objects.get(id=user.id).usage_location == "DE"


def test_assigning_never_overwrites_a_users_own_usage_location(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    a, b = users(2)
    a.usage_location = "BE"
    a.save()
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[a, b], actor=actor
    )
    assert DirectoryUser.objects.get(id=a.id).usage_location == "BE"
    assert DirectoryUser.objects.get(id=b.id).usage_location == ""


def test_disabled_prohibited_plan_makes_no_error(tenant, buy, users, actor):
    buy("STANDARDPACK", 5)
    (user,) = users(1, usage_location="CN")
    services.product_assign_to_users(
        tenant=tenant,
        product=product("STANDARDPACK"),
        users=[user],
        disabled_plans=[plan_id("YAMMER_ENTERPRISE")],
        actor=actor,
    )
    assert UserLicense.objects.get(user=user).state == "Active"

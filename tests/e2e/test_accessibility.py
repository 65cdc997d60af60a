"""axe-core on every page of the portal: no serious or critical violations."""

from __future__ import annotations

import pytest

from licensing import services
from tests.e2e.conftest import assert_accessible
from tests.factories import DirectoryUserFactory, GroupFactory, SubscriptionFactory, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_every_page_has_no_serious_accessibility_violations(page, signed_in, tenant):
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=1)
    p1 = product("AAD_PREMIUM")
    people = DirectoryUserFactory.create_batch(3, tenant=tenant)
    group = GroupFactory(tenant=tenant, name="Sales", description="Account managers")
    services.group_add_members(tenant=tenant, group=group, users=people, actor=None)
    services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=None)
    person = people[0]
    services.user_soft_delete(tenant=tenant, user=people[2], actor=None)

    page.goto("/accounts/login/")
    assert_accessible(page)
    signed_in()
    for url in [
        "/licenses/",
        "/licenses/products/",
        f"/licenses/products/{p1.sku_id}/",
        f"/licenses/products/{p1.sku_id}/groups/",
        f"/licenses/products/{p1.sku_id}/plans/",
        f"/licenses/assign/?product={p1.sku_id}&user={person.public_id}",
        "/users/",
        f"/users/{person.public_id}/",
        f"/users/{person.public_id}/licenses/",
        "/groups/",
        f"/groups/{group.public_id}/",
        f"/groups/{group.public_id}/?q=a",
        f"/groups/{group.public_id}/licenses/",
        "/audit/",
        "/users/deleted/",
        "/users/sync/",
    ]:
        page.goto(url)
        assert page.title(), url
        assert_accessible(page)

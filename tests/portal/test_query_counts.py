"""Every list and detail page has a fixed query count whatever the number of rows (README, "Conventions").

Each page is measured on a small tenant and again after adding many users, groups, licenses
and audit events; the count must be the same and equal the pinned number.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import services
from tests.factories import DirectoryUserFactory, GroupFactory, product

pytestmark = pytest.mark.django_db

# Every page starts with: session, account, the account's roles (3).
PAGES = {
    # + seats (totals and assigned), tenant products, groups with errors, expiring subscriptions
    "overview": (lambda w: reverse("portal:overview"), 7),
    # + the product with its seats, groups with counts
    "product_groups": (lambda w: reverse("portal:product_groups", args=[w["p1"].sku_id]), 5),
    # + the product with its seats, plans
    "product_plans": (lambda w: reverse("portal:product_plans", args=[w["p1"].sku_id]), 5),
    # + count, page
    "deleted_users": (lambda w: reverse("portal:deleted_users"), 5),
    # + the user
    "user_profile": (lambda w: reverse("portal:user", args=[w["user"].public_id]), 4),
    # + count, page
    "groups": (lambda w: reverse("portal:groups"), 5),
    # + group, page (not counted), licensed?
    "group_members": (lambda w: reverse("portal:group", args=[w["group"].public_id]), 6),
    # + the user, their direct products, their inherited products, tenant products
    "assignments_dialog": (
        lambda w: reverse("portal:user_assignments", args=[w["user"].public_id]),
        7,
    ),
    # + page (not counted), activities
    "audit": (lambda w: reverse("portal:audit"), 5),
    # + catalog stamp (the catalog itself was read before), tenant products, groups, their
    # members, seat holders, the groups' member counts, users without a usage location, picker
    # users, picker groups, seats
    "assign": (
        lambda w: (
            reverse("portal:assign") + f"?product={w['p1'].sku_id}&group={w['group'].public_id}"
        ),
        13,
    ),
}


def _grow(tenant, world, n):
    people = DirectoryUserFactory.create_batch(n, tenant=tenant)
    services.group_add_members(tenant=tenant, group=world["group"], users=people, actor=None)
    services.product_assign_to_users(
        tenant=tenant, product=world["p1"], users=people[: n // 2], actor=None
    )
    for i in range(3):
        services.group_create(tenant=tenant, name=f"More {n}-{i}", actor=None)
    for person in people[-(n // 3) :]:
        services.user_soft_delete(tenant=tenant, user=person, actor=None)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_query_count_is_fixed(client, as_role, tenant, buy, name):
    buy("AAD_PREMIUM", 200)
    world = {"p1": product("AAD_PREMIUM"), "group": GroupFactory(tenant=tenant, name="Sales")}
    services.group_assign_products(
        tenant=tenant, group=world["group"], products={world["p1"]: []}, actor=None
    )
    _grow(tenant, world, 3)
    world["user"] = DirectoryUserFactory(tenant=tenant)
    as_role()
    url, pinned = PAGES[name]

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url(world))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    small = count()
    _grow(tenant, world, 60)
    assert (small, count()) == (pinned, pinned)

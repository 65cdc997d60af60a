"""The seat lock and the seat counts used by every page."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.locking import lock_seats
from licensing.models import TenantProduct
from licensing.seats import seat_counts
from tests.factories import TenantFactory, product

pytestmark = pytest.mark.django_db


def test_lock_seats_creates_each_guard_row_once(tenant):
    ids = [product("AAD_PREMIUM").id, product("EMS").id]
    assert lock_seats(tenant, ids) == set(ids)
    assert lock_seats(tenant, reversed(ids)) == set(ids)
    assert TenantProduct.objects.filter(tenant=tenant).count() == 2
    assert lock_seats(tenant, []) == set()


def test_seat_counts_are_per_tenant(tenant, buy, users, actor):
    other = TenantFactory()
    buy("AAD_PREMIUM", 4)
    buy("AAD_PREMIUM", 9, on=other)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(2), actor=actor
    )
    p1 = product("AAD_PREMIUM").id
    assert (seat_counts(tenant)[p1]["assigned"], seat_counts(other)[p1]["assigned"]) == (2, 0)
    assert seat_counts(other)[p1]["total"] == 9


def test_seat_counts_for_some_products_only(tenant, buy):
    buy("AAD_PREMIUM", 4)
    buy("EMS", 4)
    assert list(seat_counts(tenant, [product("EMS").id])) == [product("EMS").id]


def test_seat_counts_take_one_query_whatever_the_number_of_products(
    tenant, buy, django_assert_num_queries
):
    for sku in ("AAD_PREMIUM", "EMS", "POWER_BI_PRO", "STANDARDPACK", "ENTERPRISEPACK"):
        buy(sku, 3)
    # The subscriptions' aggregate and the Assigned counters, in one UNION.
    with django_assert_num_queries(1):
        seat_counts(tenant)

"""The reconciler itself: a fixed point, locked to the products the caller holds, and the
retry of a service that needed more seat locks than it took."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.locking import NeedsMoreLocks, lock_seats
from licensing.models import UserLicense
from licensing.reconcile import compute, reconcile
from licensing.seats import products_touching, recount_assigned
from licensing.services.base import service
from tests.factories import GroupFactory, product
from tests.helpers import paths_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def licensed(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    buy("POWER_BI_PRO", 5)
    group = GroupFactory(tenant=tenant, name="Analysts")
    people = users(3)
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={product("AAD_PREMIUM"): [], product("POWER_BI_PRO"): []},
        actor=actor,
    )
    return group, people


def test_reconciling_again_changes_nothing(tenant, licensed):
    _, people = licensed
    result = reconcile(tenant=tenant, user_ids=[p.id for p in people], locked_products=None)
    assert (result.created, result.updated, result.deleted) == (0, 0, 0)


def test_compute_reads_only(tenant, licensed, django_assert_max_num_queries):
    _, people = licensed
    before = list(UserLicense.objects.values_list("id", "state"))
    compute(tenant, [p.id for p in people])
    assert list(UserLicense.objects.values_list("id", "state")) == before


def test_writing_to_a_product_that_is_not_locked_is_refused(tenant, licensed):
    _, people = licensed
    UserLicense.objects.update(state="Error", error="Other")
    with pytest.raises(NeedsMoreLocks) as needed:
        reconcile(
            tenant=tenant, user_ids=[people[0].id], locked_products={product("AAD_PREMIUM").id}
        )
    assert needed.value.product_ids == {product("POWER_BI_PRO").id}


def test_a_service_that_needs_more_locks_is_retried_with_them(tenant, licensed):
    _, people = licensed
    UserLicense.objects.update(state="Error", error="Other")
    # The rows were broken behind the services' back: so are the Assigned counters.
    recount_assigned(tenant, [product("AAD_PREMIUM").id, product("POWER_BI_PRO").id])
    attempts = []

    @service
    def too_narrow():
        attempts.append(lock_seats(tenant, [product("AAD_PREMIUM").id]))
        reconcile(tenant=tenant, user_ids=[p.id for p in people], locked_products=attempts[-1])

    too_narrow()
    assert len(attempts) == 2
    assert attempts[1] == {product("AAD_PREMIUM").id, product("POWER_BI_PRO").id}
    assert UserLicense.objects.filter(state="Active").count() == 4


def test_products_touching_includes_bundles_that_wait_on_them(tenant, licensed):
    _, people = licensed
    outsider = people[0]
    found = products_touching(tenant, products=[product("AAD_PREMIUM").id])
    # A member waiting for a P1 seat takes a Power BI seat in the same step.
    assert found == {product("AAD_PREMIUM").id, product("POWER_BI_PRO").id}
    assert products_touching(tenant, users=[outsider.id]) == found


def test_bundle_waits_for_every_product_and_takes_all_seats_at_once(tenant, licensed, users, actor):
    _, people = licensed
    waiting = people[2]
    assert paths_of(waiting) == {
        ("AAD_PREMIUM", "Analysts", "Error", "CountViolation"),
        ("POWER_BI_PRO", "Analysts", "Error", "CountViolation"),
    }
    subscription = tenant.subscriptions.get(product=product("AAD_PREMIUM"))
    services.subscription_update(tenant=tenant, subscription=subscription, units=3, actor=actor)
    assert paths_of(waiting) == {
        ("AAD_PREMIUM", "Analysts", "Active", ""),
        ("POWER_BI_PRO", "Analysts", "Active", ""),
    }


def test_seat_is_shared_by_paths_so_losing_one_path_keeps_it(tenant, licensed, actor):
    group, people = licensed
    first = people[0]
    services.product_assign_to_users(
        tenant=tenant, product=product("POWER_BI_PRO"), users=[first], actor=actor
    )
    services.group_remove_members(tenant=tenant, group=group, users=[first], actor=actor)
    assert paths_of(first) == {("POWER_BI_PRO", None, "Active", "")}
    # The P1 seat the member held went to the member who was waiting.
    assert ("AAD_PREMIUM", "Analysts", "Active", "") in paths_of(people[2])

"""Where SQL restates a rule of licensing/rules.py for speed, these tests pin the two together:
seat Total (three queries), the effective usage location (the set-based path), and the plans a
user sees (the blades)."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection

from licensing import fastpath, rules
from licensing.catalog_store import current_catalog
from licensing.models import Subscription, TenantProduct
from licensing.reconcile import seat_totals
from licensing.seats import annotate_seat_counts, seat_counts
from licensing.selectors.products import products_with_seats
from tests.factories import DirectoryUserFactory, SubscriptionFactory, product

pytestmark = pytest.mark.django_db

STATUSES = ["Enabled", "Warning", "Suspended", "LockedOut"]


@pytest.mark.parametrize("statuses", list(itertools.combinations_with_replacement(STATUSES, 3)))
def test_every_sql_seat_total_is_the_rule(tenant, statuses):
    p1 = product("AAD_PREMIUM")
    for i, status in enumerate(statuses):
        SubscriptionFactory(tenant=tenant, product=p1, units=3 + i * 10, status=status)
    want = rules.seat_total(
        Subscription.objects.filter(tenant=tenant).values_list("status", "units")
    )
    TenantProduct.objects.get_or_create(tenant=tenant, product=p1)
    assert seat_counts(tenant).get(p1.id, {"total": 0})["total"] == want
    assert products_with_seats(tenant=tenant, sku_id=p1.sku_id)[0]["total"] == want
    assert seat_totals(tenant, {p1.id})[0].get(p1.id, 0) == want
    (row,) = annotate_seat_counts(TenantProduct.objects.filter(tenant=tenant, product=p1))
    assert row.total == want


def test_the_set_based_effective_location_is_the_rule(tenant):
    people = [DirectoryUserFactory(tenant=tenant, usage_location=code) for code in ("", "BE", "CN")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.id, {fastpath.EFFECTIVE_LOCATION_SQL} FROM licensing_directoryuser u "
            "WHERE u.tenant_id = %(tenant)s",
            {"country": str(tenant.country), "tenant": tenant.id},
        )
        found = dict(cursor.fetchall())
    for person in people:
        assert found[person.id] == rules.effective_location(person.usage_location, tenant.country)


def test_the_display_catalog_gives_the_plans_the_deciding_catalog_gives(tenant):
    """The Licensed users blade reads plans from its own query (Catalog.for_display)."""
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=1)
    e3 = product("ENTERPRISEPACK")
    shown = rules.Catalog.for_display(
        {e3.id: products_with_seats(tenant=tenant, sku_id=e3.sku_id)[0]["plans"]}
    )
    full = current_catalog()
    assert shown.product_plans[e3.id] == full.product_plans[e3.id]
    for plan in full.product_plans[e3.id]:
        assert shown.not_offered_in[plan] == full.not_offered_in[plan]
        for country in ("NL", "CN", "IR"):
            assert rules.usable_plans([plan], country, shown) == rules.usable_plans(
                [plan], country, full
            )


@pytest.mark.parametrize(
    "statuses",
    [(), *itertools.chain(*(itertools.combinations(STATUSES, n) for n in (1, 2, 3)))],
)
def test_a_product_is_assignable_exactly_while_its_seats_count(tenant, statuses):
    """Products of a Suspended or LockedOut subscription cannot be assigned (rules §1): the
    check before an assignment (licensing/services/assignments.py) reads the statuses whose
    units count towards Total, as ``rules.seat_total`` does (``COUNTING_STATUSES``)."""
    from licensing.errors import ProductNotAssignable
    from licensing.services.assignments import check_assignable, refuse_unassignable

    e3 = product("ENTERPRISEPACK")
    for status in statuses:
        SubscriptionFactory(tenant=tenant, product=e3, units=1, status=status)
    counts = rules.seat_total((status, 1) for status in statuses) > 0
    for check in (
        lambda: check_assignable(tenant, e3),
        lambda: refuse_unassignable(e3, set(statuses)),
    ):
        try:
            check()
        except ProductNotAssignable:
            assert not counts, statuses
        else:
            assert counts, statuses


def test_the_options_dialog_refuses_exactly_what_the_rules_judge(tenant):
    """``validate_disabled_plans`` (the options dialog, before anything is read) restates the
    conflict and prerequisite rules within one product: for every product of the catalog and
    every set of its services turned off (all of them for small products, 200 drawn for big
    ones), it refuses exactly when ``first_conflict`` or ``missing_prerequisite`` finds a
    problem among the enabled services. A product carries its own prerequisites where it has
    them (Azure's license options refuse Office for the web without the product's own
    SharePoint); a service whose prerequisites are all in other products counts them as met
    (another license may bring them, judged when it is assigned)."""
    import random

    from licensing.errors import PlanConflict
    from licensing.models import Product
    from licensing.services.base import validate_disabled_plans

    catalog = current_catalog()
    everything = set(catalog.names)
    draw = random.Random(20261203)
    for item in Product.objects.all():
        plans = list(catalog.product_plans.get(item.id, ()))
        if len(plans) <= 8:
            offs = [
                [p for i, p in enumerate(plans) if mask >> i & 1] for mask in range(2 ** len(plans))
            ]
        else:
            offs = [draw.sample(plans, draw.randint(0, len(plans))) for _ in range(200)]
        for off in offs:
            enabled = [p for p in plans if p not in off]
            outside = everything - set(plans)
            judged = bool(
                rules.first_conflict(enabled, [(p, None) for p in enabled], catalog)
            ) or any(
                rules.missing_prerequisite(
                    [p],
                    set(enabled)
                    | (set() if catalog.depends_on.get(p, set()) & set(plans) else outside),
                    catalog,
                )
                for p in enabled
            )
            try:
                validate_disabled_plans(item, off, catalog)
                refused = False
            except PlanConflict:
                refused = True
            assert refused == judged, (item.sku_part_number, off)

"""The catalog ships with Microsoft's published identifiers and loads idempotently."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from licensing.models import Product, ProductServicePlan, ServicePlan

pytestmark = pytest.mark.django_db


def test_catalog_has_the_products_and_plans_the_rules_need():
    assert Product.objects.count() >= 8
    assert ServicePlan.objects.count() >= 15
    assert (
        Product.objects.get(sku_part_number="AAD_PREMIUM").sku_id.hex
        == "078d2b04f1bd4111bbd4b4b1b354cef4"
    )
    assert (
        str(Product.objects.get(sku_part_number="AAD_PREMIUM_P2").sku_id)
        == "84a661c4-e949-4bd2-a560-ed7766fcaf2b"
    )
    assert Product.objects.get(sku_part_number="AAD_FREE").applies_to == "Company"
    assert ServicePlan.objects.filter(depends_on__isnull=False).exists()
    exchange1 = ServicePlan.objects.get(service_plan_name="EXCHANGE_S_STANDARD")
    assert list(exchange1.exclusive_with.values_list("service_plan_name", flat=True)) == [
        "EXCHANGE_S_ENTERPRISE"
    ]
    assert ServicePlan.objects.exclude(not_offered_in="").exists()


def test_loading_the_catalog_twice_changes_nothing():
    def state():
        return (
            list(Product.objects.order_by("id").values_list("id", "sku_id", "display_name")),
            list(
                ProductServicePlan.objects.order_by("id").values_list(
                    "id", "product_id", "service_plan_id", "position"
                )
            ),
            list(
                ServicePlan.depends_on.through.objects.order_by("id").values_list("id", flat=True)
            ),
        )

    before = state()
    call_command("load_catalog")
    call_command("load_catalog")
    assert state() == before


def test_product_plans_keep_their_published_order():
    p2 = Product.objects.get(sku_part_number="AAD_PREMIUM_P2")
    names = list(
        p2.plan_links.order_by("position").values_list("service_plan__service_plan_name", flat=True)
    )
    assert names == [
        "AAD_PREMIUM",
        "AAD_PREMIUM_P2",
        "ADALLOM_S_DISCOVERY",
        "EXCHANGE_S_FOUNDATION",
        "MFA_PREMIUM",
    ]


@pytest.fixture
def stamped():
    """The stamp row (flushing the database between transactional tests removes it), with a
    fresh value: PostgreSQL's statement trigger fires even for an update of no row."""
    from licensing.models import CatalogStamp

    CatalogStamp.objects.get_or_create(id=1)
    Product.objects.filter(id=-1).update(display_name="")


def test_a_process_keeps_the_catalog_until_any_write_to_it(stamped, django_assert_num_queries):
    """current_catalog reads one stamp row while nothing changed; any write to the catalog's
    tables, by any means (here a queryset update and raw SQL, which send no signals), makes
    the next load read the catalog again."""
    from django.db import connection

    from licensing.catalog_store import current_catalog

    first = current_catalog()
    with django_assert_num_queries(1):
        assert current_catalog() is first
    teams = ServicePlan.objects.get(service_plan_name="TEAMS1")
    ServicePlan.objects.filter(id=teams.id).update(not_offered_in="CN")
    second = current_catalog()
    assert second is not first
    assert second.not_offered_in[str(teams.service_plan_id)] == frozenset({"CN"})
    exchange1 = ServicePlan.objects.get(service_plan_name="EXCHANGE_S_STANDARD")
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM licensing_serviceplan_exclusive_with WHERE from_serviceplan_id = %s",
            [exchange1.id],
        )
    assert str(exchange1.service_plan_id) not in current_catalog().exclusive_with


@pytest.mark.django_db(transaction=True)
def test_a_catalog_change_that_rolled_back_is_forgotten():
    """A stamp is never handed out twice, so a catalog read inside a transaction that rolled
    back is never taken for the catalog after it."""
    from django.db import transaction

    from licensing.catalog_store import current_catalog
    from licensing.models import CatalogStamp

    call_command("load_catalog", verbosity=0)
    CatalogStamp.objects.get_or_create(id=1)
    before = current_catalog()
    assert current_catalog() is before  # kept: the stamp row is there

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        ServicePlan.objects.filter(service_plan_name="TEAMS1").update(display_name="Gone soon")
        assert "Gone soon" in current_catalog().names.values()
        raise Undo
    after = current_catalog()
    assert "Gone soon" not in after.names.values()
    assert after.names == before.names

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

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from licensing.catalog import load_catalog
from licensing.models import Product, ProductServicePlan, ServicePlan
from licensing.services.catalog import (
    catalog_facts,
    catalog_products_changed,
    changed_products,
)


class Command(BaseCommand):
    help = "Create or update the products and service plans of licensing/catalog/catalog.json."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            before = catalog_facts()
            counts = load_catalog(
                service_plan_model=ServicePlan,
                product_model=Product,
                link_model=ProductServicePlan,
            )
            # Users of a product whose plans changed are decided again (docs/rules.md §9).
            decided = catalog_products_changed(
                products=changed_products(before, catalog_facts()), actor=None
            )
        self.stdout.write(
            f"Catalog: {counts['products']} products, {counts['service_plans']} service plans."
            + (f" {decided} users decided again." if decided else "")
        )

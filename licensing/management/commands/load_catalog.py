from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from licensing.catalog import load_catalog
from licensing.models import Product, ProductServicePlan, ServicePlan


class Command(BaseCommand):
    help = "Create or update the products and service plans of licensing/catalog/catalog.json."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            counts = load_catalog(
                service_plan_model=ServicePlan,
                product_model=Product,
                link_model=ProductServicePlan,
            )
        self.stdout.write(
            f"Catalog: {counts['products']} products, {counts['service_plans']} service plans."
        )

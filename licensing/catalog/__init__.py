"""The product catalog shipped with the portal, and its idempotent loader.

The loader takes the model classes as arguments so that the data migration can call it with
historical models and the ``load_catalog`` command with the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("catalog.json")


def read_catalog() -> dict[str, Any]:
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


def load_catalog(*, service_plan_model, product_model, link_model) -> dict[str, int]:
    """Create or update every plan and product of catalog.json; running it twice changes nothing."""
    data = read_catalog()
    plans = {}
    for row in data["service_plans"]:
        plan, _ = service_plan_model.objects.update_or_create(
            service_plan_id=row["service_plan_id"],
            defaults={
                "service_plan_name": row["service_plan_name"],
                "display_name": row["display_name"],
                "not_offered_in": ",".join(row.get("not_offered_in", [])),
            },
        )
        plans[row["service_plan_name"]] = plan
    for row in data["service_plans"]:
        plan = plans[row["service_plan_name"]]
        plan.depends_on.set([plans[name] for name in row.get("depends_on", [])])
        for name in row.get("exclusive_with", []):
            plan.exclusive_with.add(plans[name])
    for row in data["products"]:
        product, _ = product_model.objects.update_or_create(
            sku_id=row["sku_id"],
            defaults={
                "sku_part_number": row["sku_part_number"],
                "display_name": row["display_name"],
                "applies_to": row["applies_to"],
            },
        )
        wanted = [plans[name] for name in row["service_plans"]]
        link_model.objects.filter(product=product).exclude(service_plan__in=wanted).delete()
        for position, plan in enumerate(wanted):
            link_model.objects.update_or_create(
                product=product, service_plan=plan, defaults={"position": position}
            )
    return {"service_plans": len(plans), "products": len(data["products"])}

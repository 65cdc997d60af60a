"""Catalog changes that move licenses (docs/rules.md §9)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from licensing import audit
from licensing.locking import hold_seats
from licensing.models import (
    DirectoryUser,
    Product,
    ProductServicePlan,
    ServicePlan,
    Tenant,
)
from licensing.reconcile import reconcile
from licensing.seats import products_touching
from licensing.services.base import service


def catalog_facts() -> dict:
    """What the rules read of the catalog, to tell which products a load changed."""
    plans = {
        plan.id: (
            str(plan.not_offered_in),
            tuple(sorted(plan.depends_on.values_list("id", flat=True))),
            tuple(sorted(plan.exclusive_with.values_list("id", flat=True))),
        )
        for plan in ServicePlan.objects.prefetch_related("depends_on", "exclusive_with")
    }
    facts: dict[int, list] = {}
    for product_id, plan_id in ProductServicePlan.objects.order_by(
        "product_id", "position"
    ).values_list("product_id", "service_plan_id"):
        facts.setdefault(product_id, []).append((plan_id, plans[plan_id]))
    return facts


def changed_products(before: dict, after: dict) -> set[int]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


@service
def catalog_products_changed(*, products: Iterable[int], actor) -> int:
    """Decide again every user with a path to these products, in every tenant: a plan added to
    a product (enabled in every assignment), or a plan's countries, prerequisites or exclusions
    changed. Returns how many users were decided."""
    products = set(products)
    if not products:
        return 0
    decided = 0
    for tenant in Tenant.objects.filter(assignments__product_id__in=products).distinct():
        users = DirectoryUser.objects.filter(tenant=tenant).filter(
            Q(direct_assignments__product_id__in=products)
            | Q(memberships__group__assignments__product_id__in=products)
        )
        user_ids = sorted(set(users.values_list("id", flat=True)))
        locked = hold_seats(tenant, products_touching(tenant, users=user_ids, products=products))
        reconcile(tenant=tenant, user_ids=user_ids, locked_products=locked)
        audit.event(
            tenant=tenant,
            actor=actor,
            activity=audit.UPDATE_CATALOG,
            target=tenant,
            target_type="Tenant",
            details={
                "products": sorted(
                    Product.objects.filter(id__in=products).values_list(
                        "sku_part_number", flat=True
                    )
                ),
                "users": len(user_ids),
            },
        )
        decided += len(user_ids)
    return decided

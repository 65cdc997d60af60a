from __future__ import annotations

from licensing.consistency import consistency_problems
from licensing.models import UserLicense
from licensing.rules import effective_location, visible_plans
from licensing.seats import seat_counts

# The task backend of a deployment with a worker: tasks wait in the database.
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def paths_of(user) -> set[tuple]:
    """{(sku, group name or None, state, error)} for a user's license rows."""
    return {
        (
            row.product.sku_part_number,
            row.via_group.name if row.via_group else None,
            row.state,
            row.error,
        )
        for row in UserLicense.objects.filter(user=user).select_related("product", "via_group")
    }


def seats(tenant, sku: str) -> dict:
    from tests.factories import product

    return seat_counts(tenant).get(
        product(sku).id, {"total": 0, "expiring": 0, "assigned": 0, "available": 0}
    )


def assert_consistent(tenant) -> None:
    problems = consistency_problems(tenant)
    assert not problems, problems


def enabled_plan_ids(user, product, catalog) -> list[str]:
    """The plans a user has on for a product, as the blades compute them."""
    rows = UserLicense.objects.filter(user=user, product=product)
    return visible_plans(
        rows, effective_location(user.usage_location, user.tenant.country), catalog
    )

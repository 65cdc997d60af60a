"""Seat accounting (SPEC §3.1) and the seat lock that keeps Assigned ≤ Total (SPEC §3.11)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from licensing.models import (
    COUNTING_STATUSES,
    GroupMembership,
    LicenseAssignment,
    Subscription,
    SubscriptionStatus,
    Tenant,
    TenantProduct,
    UserLicense,
)

# Products a retried operation found it needed beyond what it locked the first time
# (see licensing.services.base.service).
extra_locks: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "extra_locks", default=frozenset()
)


def lock_seats(tenant: Tenant, product_ids: Iterable[int]) -> set[int]:
    """Lock the rows that guard this tenant's seats for these products; return the locked set.

    Always in product order, so that two operations on overlapping products cannot deadlock.
    """
    ids = sorted(set(product_ids) | extra_locks.get())
    if not ids:
        return set()
    TenantProduct.objects.bulk_create(
        [TenantProduct(tenant=tenant, product_id=p) for p in ids], ignore_conflicts=True
    )
    # The race this prevents: two transactions each count the last free seat as available
    # and both take it. Whoever holds these rows counts and writes; the other one waits.
    list(
        TenantProduct.objects.select_for_update()
        .filter(tenant=tenant, product_id__in=ids)
        .order_by("product_id")
        .values_list("id", flat=True)
    )
    return set(ids)


def products_touching(
    tenant: Tenant,
    *,
    users: QuerySet | Iterable[int] = (),
    groups: Iterable[int] = (),
    products: Iterable[int] = (),
) -> set[int]:
    """Products whose seats a change to these users or groups may take or free.

    The users' own products (direct, inherited, and rows they hold now), the groups'
    products, and one hop further: products of groups that hold any of those, because a
    member waiting for a seat there takes seats in all of that group's products at once.
    """
    found = set(products)
    found |= set(
        LicenseAssignment.objects.filter(tenant=tenant, group_id__in=list(groups)).values_list(
            "product_id", flat=True
        )
    )
    if not isinstance(users, QuerySet):
        users = list(users)
    if isinstance(users, QuerySet) or users:
        found |= set(
            LicenseAssignment.objects.filter(
                Q(user_id__in=users)
                | Q(
                    group_id__in=GroupMembership.objects.filter(user_id__in=users).values(
                        "group_id"
                    )
                )
            ).values_list("product_id", flat=True)
        )
        found |= set(
            UserLicense.objects.filter(tenant=tenant, user_id__in=users)
            .values_list("product_id", flat=True)
            .distinct()
        )
    found |= set(
        LicenseAssignment.objects.filter(
            tenant=tenant,
            group_id__in=LicenseAssignment.objects.filter(
                tenant=tenant, group__isnull=False, product_id__in=found
            ).values("group_id"),
        ).values_list("product_id", flat=True)
    )
    return found


def seat_counts(tenant: Tenant, product_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Per product id: total, expiring, assigned, available (SPEC §3.1). Two queries.

    Total counts units of Enabled and Warning subscriptions; Expiring soon the Warning units;
    Assigned counts distinct users holding the product through at least one path in a
    seat-holding state, so a user licensed directly and through two groups uses one seat.
    """
    subs = Subscription.objects.filter(tenant=tenant, status__in=COUNTING_STATUSES)
    held = UserLicense.objects.filter(tenant=tenant).holding_seats()
    if product_ids is not None:
        product_ids = list(product_ids)
        subs = subs.filter(product_id__in=product_ids)
        held = held.filter(product_id__in=product_ids)
    rows: dict[int, dict] = {}
    for row in subs.values("product_id").annotate(
        total=Sum("units"), expiring=Sum("units", filter=Q(status=SubscriptionStatus.WARNING))
    ):
        rows[row["product_id"]] = {
            "total": row["total"] or 0,
            "expiring": row["expiring"] or 0,
            "assigned": 0,
        }
    for row in held.values("product_id").annotate(n=Count("user_id", distinct=True)):
        rows.setdefault(row["product_id"], {"total": 0, "expiring": 0, "assigned": 0})
        rows[row["product_id"]]["assigned"] = row["n"]
    for row in rows.values():
        row["available"] = row["total"] - row["assigned"]
        row["over_assigned"] = row["assigned"] > row["total"]
    return rows


def annotate_seat_counts(tenant_products: QuerySet) -> QuerySet:
    """``seat_counts`` as annotations on TenantProduct rows (``total``, ``assigned``): the same
    rule for a list of many tenants at once, in one query (the admin's seat list)."""
    total = Subscription.objects.filter(
        tenant=OuterRef("tenant"), product=OuterRef("product"), status__in=COUNTING_STATUSES
    )
    held = UserLicense.objects.filter(tenant=OuterRef("tenant"), product=OuterRef("product"))
    return tenant_products.annotate(
        total=_scalar(total.values("tenant").annotate(n=Sum("units")).values("n")),
        assigned=_scalar(
            held.holding_seats()
            .values("tenant")
            .annotate(n=Count("user", distinct=True))
            .values("n")
        ),
    )


def _scalar(subquery: QuerySet) -> Coalesce:
    return Coalesce(Subquery(subquery, output_field=IntegerField()), 0)

"""Seat accounting (docs/rules.md §1): Total, Assigned counters, Available. The lock that
keeps Assigned ≤ Total is ``licensing.locking``."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from licensing.locking import ensure_seat_rows
from licensing.models import (
    COUNTING_STATUSES,
    Group,
    GroupMembership,
    LicenseAssignment,
    LicenseState,
    ProcessingState,
    Subscription,
    SubscriptionStatus,
    Tenant,
    TenantProduct,
    UserLicense,
)


def adjust_assigned(tenant: Tenant, deltas: dict[int, int]) -> None:
    """Add to the Assigned counters (the caller holds these products' seat locks, so their
    rows exist: ``lock_seats`` made them)."""
    for product_id, delta in sorted(deltas.items()):
        if delta:
            TenantProduct.objects.filter(tenant=tenant, product_id=product_id).update(
                assigned=F("assigned") + delta
            )


def delete_with_paths(tenant: Tenant, doomed, product_ids: Iterable[int]) -> None:
    """Delete intent or a user (a model instance or a queryset) together with the UserLicense
    rows Django cascades from it, and set the Assigned counters of ``product_ids`` (every
    product those rows may have held) from the rows left. The caller holds their locks."""
    doomed.delete()
    recount_assigned(tenant, product_ids)
    recount_tenant_errors(tenant)


def recount_assigned(tenant: Tenant, product_ids: Iterable[int]) -> None:
    """Set the Assigned counters from the rows: after Django cascaded a deletion of rows (an
    intent or a user deleted), before anything reads the counters again."""
    ids = sorted(set(product_ids))
    ensure_seat_rows(tenant, ids)
    TenantProduct.objects.filter(tenant=tenant, product_id__in=ids).update(
        assigned=_scalar(_holders(OuterRef("tenant"), OuterRef("product")))
    )


# The group counters the pages read (docs/rules.md §1): a group's members, its members whose
# inherited license is in Error, and, per group intent, the members in Error for its product.
# Memberships change in a handful of services, which add to them; error rows change wherever
# the engine writes rows, which then recounts the groups whose rows in Error changed (over
# the index of a group's rows in Error: one group's, never the tenant's).


def add_members_counted(group_ids: Iterable[int], delta: int) -> None:
    """Add ``delta`` to these groups' member counters (negative: members left)."""
    if delta:
        Group.objects.filter(id__in=list(group_ids)).update(
            member_counter=F("member_counter") + delta
        )


def recount_members(group_ids: Iterable[int]) -> None:
    """Set member counters from the memberships: after memberships went by cascade (a user
    deleted) or were written in bulk outside the services (the bench's and load tenants)."""
    ids = sorted(set(group_ids))
    if ids:
        members = GroupMembership.objects.filter(group=OuterRef("pk"))
        Group.objects.filter(id__in=ids).update(member_counter=_counted(members, "group", "*"))


def error_groups(before: Iterable[tuple], after: Iterable[tuple]) -> set[int]:
    """The groups whose rows in Error differ between two sets of (group id, product id, user
    id) of rows in Error: the groups ``recount_errors`` must recount after a write."""
    changed = set(before) ^ set(after)
    return {group_id for group_id, _, _ in changed if group_id is not None}


def recount_errors(group_ids: Iterable[int]) -> None:
    """Set the error counters of these groups and of their intents from their rows in Error."""
    ids = sorted(set(group_ids))
    if not ids:
        return
    in_error = UserLicense.objects.filter(state=LicenseState.ERROR)
    Group.objects.filter(id__in=ids).update(
        error_counter=_counted(
            in_error.filter(via_group=OuterRef("pk")), "via_group", "user_id", distinct=True
        )
    )
    LicenseAssignment.objects.filter(group_id__in=ids).update(
        error_counter=_counted(
            in_error.filter(via_group=OuterRef("group_id"), product=OuterRef("product_id")),
            "via_group",
            "*",
        )
    )


def recount_tenant_errors(tenant: Tenant) -> None:
    """After rows went by cascade (an intent or a user deleted): the groups counting errors
    are the only ones whose counters can have dropped."""
    recount_errors(
        Group.objects.filter(tenant=tenant, error_counter__gt=0).values_list("id", flat=True)
    )


def _counted(rows: QuerySet, per: str, what: str, *, distinct: bool = False) -> Coalesce:
    counted = rows.order_by().values(per).annotate(n=Count(what, distinct=distinct)).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def counted_group_figures(tenant: Tenant) -> tuple[dict, dict, dict]:
    """The group counters as the rows say they must be: members and members in Error per
    group, and members in Error per group intent (the consistency check)."""
    members = dict(
        GroupMembership.objects.filter(group__tenant=tenant)
        .values("group_id")
        .annotate(n=Count("*"))
        .values_list("group_id", "n")
    )
    in_error = UserLicense.objects.filter(
        tenant=tenant, state=LicenseState.ERROR, via_group__isnull=False
    )
    errors = dict(
        in_error.values("via_group_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("via_group_id", "n")
    )
    per_intent = dict(
        in_error.values("assignment_id").annotate(n=Count("*")).values_list("assignment_id", "n")
    )
    return members, errors, per_intent


def counted_assigned(tenant: Tenant) -> dict[int, int]:
    """Assigned per product counted from the rows (what the counters must say)."""
    return dict(
        UserLicense.objects.filter(tenant=tenant)
        .holding_seats()
        .values("product_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("product_id", "n")
    )


def _holders(tenant, product) -> QuerySet:
    return (
        UserLicense.objects.filter(tenant=tenant, product=product)
        .holding_seats()
        .values("tenant")
        .annotate(n=Count("user", distinct=True))
        .values("n")
    )


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
    And the products of every group with a run still pending that shares a member with
    these groups: locking them completes that run first (``licensing.locking.hold_seats``),
    so that two pending runs never share a member and each is decided after the changes
    made before it (docs/rules.md §8).
    """
    groups = list(groups)
    groups += pending_sharing_members(tenant, groups)
    products = list(products)
    if not isinstance(users, QuerySet):
        users = list(users)
    # One query: the products of the groups and of the users (intent and rows), and one hop
    # further, the products of every group holding any of those.
    intent = Q(group_id__in=groups)
    if isinstance(users, QuerySet) or users:
        memberships = GroupMembership.objects.filter(user_id__in=users).values("group_id")
        intent |= Q(user_id__in=users) | Q(group_id__in=memberships)
    near = LicenseAssignment.objects.filter(intent, tenant=tenant).values_list("product_id")
    held = UserLicense.objects.filter(tenant=tenant, user_id__in=users).values_list("product_id")
    holding = LicenseAssignment.objects.filter(tenant=tenant, group__isnull=False).filter(
        Q(product_id__in=products)
        | Q(product_id__in=near.values("product_id"))
        | Q(product_id__in=held.values("product_id"))
    )
    hop = LicenseAssignment.objects.filter(
        tenant=tenant, group_id__in=holding.values("group_id")
    ).values_list("product_id")
    found = near.order_by().union(held.order_by(), hop.order_by())
    return set(products) | {product_id for (product_id,) in found}


def pending_sharing_members(tenant: Tenant, group_ids: list[int]) -> list[int]:
    """Other groups whose run is queued or in progress and that share a member with these."""
    if not group_ids:
        return []
    shared = GroupMembership.objects.filter(
        group_id=OuterRef("pk"), user__memberships__group_id__in=group_ids
    )
    return list(
        Group.objects.filter(
            tenant=tenant,
            processing_state__in=[ProcessingState.QUEUED, ProcessingState.IN_PROGRESS],
        )
        .exclude(id__in=group_ids)
        .filter(Exists(shared))
        .values_list("id", flat=True)
    )


def seat_figures(
    tenant: Tenant, product_ids: Iterable[int] | None = None
) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    """Per product: (Total, Expiring soon) of its subscriptions, and its Assigned counter
    where that is not zero, in one query (docs/rules.md §1). Total counts units of Enabled
    and Warning subscriptions (``rules.seat_total``, pinned by a test), Expiring the Warning
    units."""
    counting = ", ".join("%s" for _ in COUNTING_STATUSES)
    ids: list[int] = []
    only = ""
    if product_ids is not None:
        ids = [int(p) for p in product_ids]
        if not ids:
            return {}, {}
        only = f"AND product_id IN ({', '.join('%s' for _ in ids)})"
    statuses = [str(SubscriptionStatus.WARNING), tenant.id, *map(str, COUNTING_STATUSES)]
    sql = f"""
        SELECT 0, product_id, SUM(units), SUM(CASE WHEN status = %s THEN units ELSE 0 END)
        FROM licensing_subscription
        WHERE tenant_id = %s AND status IN ({counting}) {only}
        GROUP BY product_id
        UNION ALL
        SELECT 1, product_id, assigned, 0
        FROM licensing_tenantproduct
        WHERE tenant_id = %s AND assigned > 0 {only}
    """
    totals: dict[int, tuple[int, int]] = {}
    assigned: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*statuses, *ids, tenant.id, *ids])
        for kind, product_id, n, expiring in cursor.fetchall():
            if kind == 0:
                totals[product_id] = (n or 0, expiring or 0)
            else:
                assigned[product_id] = n
    return totals, assigned


def seat_counts(tenant: Tenant, product_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Per product id: total, expiring, assigned, available (docs/rules.md §1). One query.

    Assigned counts distinct users holding the product through at least one path in a
    seat-holding state, so a user licensed directly and through two groups uses one seat:
    read from the counters the writers keep (``adjust_assigned``), not counted per page.
    """
    totals, assigned = seat_figures(tenant, product_ids)
    return {
        p: seat_row(*totals.get(p, (0, 0)), assigned.get(p, 0))
        for p in totals.keys() | assigned.keys()
    }


def seat_row(total: int, expiring: int, assigned: int) -> dict:
    """One product's seats as every page shows them: Available includes the expiring units,
    and a product whose Total dropped below Assigned is over-assigned (docs/rules.md §1)."""
    return {
        "total": total,
        "expiring": expiring,
        "assigned": assigned,
        "available": total - assigned,
        "over_assigned": assigned > total,
    }


def annotate_seat_counts(tenant_products: QuerySet) -> QuerySet:
    """``seat_counts`` as an annotation on TenantProduct rows (``total``; ``assigned`` is the
    row's counter): the same rule for many tenants at once, in one query (the admin)."""
    total = Subscription.objects.filter(
        tenant=OuterRef("tenant"), product=OuterRef("product"), status__in=COUNTING_STATUSES
    )
    return tenant_products.annotate(
        total=_scalar(total.values("tenant").annotate(n=Sum("units")).values("n"))
    )


def _scalar(subquery: QuerySet) -> Coalesce:
    return Coalesce(Subquery(subquery, output_field=IntegerField()), 0)

"""The operator's consistency check: the UserLicense rows equal the engine's recomputation from
intent, nothing crosses tenants, and Assigned ≤ Total unless Total dropped below it."""

from __future__ import annotations

from django.db.models import F, Q

from licensing.models import (
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseAssignment,
    Product,
    Tenant,
    TenantProduct,
    UserLicense,
)
from licensing.reconcile import Options, compute
from licensing.seats import counted_assigned, counted_group_figures


def consistency_problems(tenant: Tenant) -> list[str]:
    problems: list[str] = []
    user_ids = list(DirectoryUser.objects.filter(tenant=tenant).values_list("id", flat=True))
    every_product = frozenset(Product.objects.values_list("id", flat=True))
    desired, existing, _released = compute(tenant, user_ids, Options(products=every_product))
    for key in existing.keys() - desired.keys():
        problems.append(f"row without intent: assignment {key[0]}, user {key[1]}")
    for key in desired.keys() - existing.keys():
        problems.append(f"missing row: assignment {key[0]}, user {key[1]}")
    for key in desired.keys() & existing.keys():
        want, row = desired[key], existing[key]
        have = (
            row["product_id"],
            row["via_group_id"],
            row["disabled_plans"],
            row["state"],
            row["error"],
        )
        wanted = (want.product_id, want.group_id, want.disabled, want.state, want.error)
        if have != wanted:
            problems.append(f"row {key}: have {have}, recomputed {wanted}")
    crossing = (
        UserLicense.objects.filter(tenant=tenant).exclude(user__tenant=tenant).count()
        + UserLicense.objects.filter(user__tenant=tenant).exclude(tenant=tenant).count()
        + UserLicense.objects.filter(tenant=tenant).exclude(assignment__tenant=tenant).count()
        + LicenseAssignment.objects.filter(tenant=tenant, user__isnull=False)
        .exclude(user__tenant=tenant)
        .count()
        + LicenseAssignment.objects.filter(tenant=tenant, group__isnull=False)
        .exclude(group__tenant=tenant)
        .count()
        + GroupMembership.objects.filter(group__tenant=tenant).exclude(user__tenant=tenant).count()
    )
    if crossing:
        problems.append(f"{crossing} rows cross tenants")
    # UserLicense has no database foreign keys (it is derived, see its docstring): every row
    # must still point at a user and an intent of its tenant, and copy the intent's product
    # and group.
    rows = UserLicense.objects.filter(tenant=tenant)
    dangling = (
        rows.exclude(user_id__in=DirectoryUser.objects.filter(tenant=tenant).values("id")).count()
        + rows.exclude(
            assignment_id__in=LicenseAssignment.objects.filter(tenant=tenant).values("id")
        ).count()
        + rows.exclude(product_id=F("assignment__product_id")).count()
        + rows.filter(
            Q(via_group__isnull=True, assignment__group__isnull=False)
            | Q(via_group__isnull=False, assignment__group__isnull=True)
            | (Q(via_group__isnull=False) & ~Q(via_group_id=F("assignment__group_id")))
        ).count()
    )
    if dangling:
        problems.append(f"{dangling} rows point at a missing or different user or intent")
    counted = counted_assigned(tenant)
    for product_id, kept in TenantProduct.objects.filter(tenant=tenant).values_list(
        "product_id", "assigned"
    ):
        if kept != counted.pop(product_id, 0):
            problems.append(f"product {product_id}: Assigned counter {kept}, rows say more/less")
    for product_id, n in counted.items():
        problems.append(f"product {product_id}: {n} seats held but no Assigned counter")
    problems += group_counter_problems(tenant)
    return problems


def group_counter_problems(tenant: Tenant) -> list[str]:
    """The group counters the pages read, against the rows."""
    members, errors, per_intent = counted_group_figures(tenant)
    problems = []
    for group_id, kept_members, kept_errors in Group.objects.filter(tenant=tenant).values_list(
        "id", "member_counter", "error_counter"
    ):
        if kept_members != members.get(group_id, 0):
            problems.append(
                f"group {group_id}: member counter {kept_members}, "
                f"{members.get(group_id, 0)} members"
            )
        if kept_errors != errors.get(group_id, 0):
            problems.append(
                f"group {group_id}: error counter {kept_errors}, "
                f"{errors.get(group_id, 0)} members in Error"
            )
    for intent_id, kept in LicenseAssignment.objects.filter(
        tenant=tenant, group__isnull=False
    ).values_list("id", "error_counter"):
        if kept != per_intent.get(intent_id, 0):
            problems.append(
                f"group intent {intent_id}: error counter {kept}, "
                f"{per_intent.get(intent_id, 0)} members in Error"
            )
    return problems

"""Groups as the pages, the API and SCIM read them."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from django.db.models import Q

from licensing.models import (
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseAssignment,
    LicenseError,
    LicenseState,
    Product,
    Tenant,
    UserLicense,
)


def group(*, tenant: Tenant, public_id) -> Group | None:
    """The tenant's group with this id, or None: another tenant's group is not found."""
    return Group.objects.filter(tenant=tenant, public_id=public_id).first()


def groups(*, tenant: Tenant, search: str = "", order_by: Sequence[str] = ("name", "id")):
    """The tenant's groups with their member and license counts, matching ``search`` in the
    name, in this order: a queryset for the page to count and slice."""
    found = Group.objects.filter(tenant=tenant).with_license_counts()
    if search:
        found = found.filter(name__icontains=search)
    return found.order_by(*order_by)


def groups_named(*, tenant: Tenant, search: str = "", limit: int = 20) -> list[Group]:
    """At most ``limit`` of the tenant's groups matching ``search``, by name: the pickers."""
    found = Group.objects.filter(tenant=tenant)
    if search:
        found = found.filter(name__icontains=search)
    return list(found.order_by("name")[:limit])


def groups_by_ids(*, tenant: Tenant, public_ids: Iterable) -> list[Group]:
    """The tenant's groups with these ids, by name (another tenant's are not found: compare
    the lengths)."""
    return list(
        Group.objects.filter(tenant=tenant, public_id__in=list(public_ids)).order_by("name")
    )


def groups_in_error(*, tenant: Tenant) -> list[Group]:
    """The tenant's groups with members in license error, by name (Licenses > Overview)."""
    return list(Group.objects.filter(tenant=tenant).with_license_errors().order_by("name"))


def licensed_groups(*, tenant: Tenant, product: Product) -> list[Group]:
    """The tenant's groups that assign this product, with their counts for it, by name."""
    return list(
        Group.objects.filter(tenant=tenant, assignments__product=product)
        .with_license_counts(product=product)
        .order_by("name")
    )


def members(*, tenant: Tenant, group: Group):
    """The group's members by name: a queryset for the page to count and slice."""
    return DirectoryUser.objects.filter(tenant=tenant, memberships__group=group).order_by(
        "display_name", "id"
    )


def member_candidates(
    *, tenant: Tenant, group: Group, search: str, limit: int = 20
) -> list[DirectoryUser]:
    """At most ``limit`` of the tenant's users, not deleted and not in the group, matching
    ``search`` in the name or user principal name: who Add members offers."""
    if not search:
        return []
    return list(
        DirectoryUser.objects.active()
        .filter(tenant=tenant)
        .filter(Q(display_name__icontains=search) | Q(user_principal_name__icontains=search))
        .exclude(memberships__group=group)
        .order_by("display_name")[:limit]
    )


def is_licensed(*, tenant: Tenant, group: Group) -> bool:
    """Whether the group assigns any product."""
    return LicenseAssignment.objects.filter(tenant=tenant, group=group).exists()


def license_blade(*, tenant: Tenant, group: Group, shown: int = 500) -> dict:
    """The group's Licenses blade: its assignments by product name, and its members in error
    (the first ``shown`` failed rows, grouped per user with the most common reason), with
    how many members are in error in all."""
    assignments = list(
        LicenseAssignment.objects.filter(tenant=tenant, group=group)
        .select_related("product")
        .order_by("product__display_name")
    )
    errors = UserLicense.objects.filter(
        tenant=tenant, via_group=group, state=LicenseState.ERROR
    ).order_by("user__display_name", "product__display_name")
    by_user: dict[int, dict] = {}
    for row in errors.select_related("user", "product")[:shown]:
        line = by_user.setdefault(
            row.user_id, {"user": row.user, "failed": [], "reasons": Counter()}
        )
        line["failed"].append(row.product.display_name)
        line["reasons"][row.error] += 1
    reasons = dict(LicenseError.choices)
    in_error = [
        {**line, "top_reason": reasons.get(line["reasons"].most_common(1)[0][0], "")}
        for line in by_user.values()
    ]
    return {
        "assignments": assignments,
        "in_error": in_error,
        "error_count": errors.values("user_id").distinct().count(),
    }


# -- SCIM's reads (portal/scim/) ---------------------------------------------------------------

# The fields a SCIM filter may name (``portal.scim.filter``), each compared ignoring case but
# ``public_id``.
MATCHABLE_GROUP_FIELDS = ("name", "external_id", "public_id")


def groups_page(
    *, tenant: Tenant, matching: Mapping[str, str], offset: int, limit: int
) -> tuple[int, list[Group]]:
    """How many of the tenant's groups match, and ``limit`` of them from ``offset`` in the
    order they were made (two queries; none when an id is not a UUID). ``matching``: field →
    value, each equal ignoring case (``public_id`` exactly)."""
    found = Group.objects.filter(tenant=tenant)
    for field, value in matching.items():
        if field not in MATCHABLE_GROUP_FIELDS:
            raise ValueError(f"Groups are not matched on {field}.")
        if field == "public_id":
            try:
                found = found.filter(public_id=uuid.UUID(value))
            except ValueError:
                found = found.none()
        else:
            found = found.filter(**{f"{field}__iexact": value})
    return found.count(), list(found.order_by("id")[offset : offset + limit])


def group_member_ids(*, tenant: Tenant, groups: Iterable[Group]) -> dict[int, list[uuid.UUID]]:
    """Group id → its members' user ids (public), in claim order, for the tenant's groups among
    ``groups`` (one query; none for no groups)."""
    groups = [g for g in groups if g.tenant_id == tenant.id]
    found: dict[int, list[uuid.UUID]] = {g.id: [] for g in groups}
    for group_id, public_id in (
        GroupMembership.objects.filter(group__in=groups)
        .order_by("group_id", "added_at", "user_id")
        .values_list("group_id", "user__public_id")
    ):
        found[group_id].append(public_id)
    return found


def group_member_count(*, tenant: Tenant, group: Group) -> int:
    """How many members the tenant's group has (one query; 0 for another tenant's group, with
    none)."""
    if group.tenant_id != tenant.id:
        return 0
    return GroupMembership.objects.filter(group=group).count()

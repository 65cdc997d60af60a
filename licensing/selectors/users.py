"""Users of the directory as the pages, the API and SCIM read them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from django.db.models import Q

from licensing.catalog_store import current_catalog
from licensing.models import DirectoryUser, Group, LicenseAssignment, Product, Tenant, UserLicense
from licensing.rules import effective_location, product_line
from licensing.selectors.products import tenant_products


def user(*, tenant: Tenant, public_id) -> DirectoryUser | None:
    """The tenant's user with this id (soft-deleted or not), or None: another tenant's user
    is not found."""
    return (
        DirectoryUser.objects.select_related("tenant")
        .filter(tenant=tenant, public_id=public_id)
        .first()
    )


def users(*, tenant: Tenant, search: str = "", order_by: Sequence[str] = ("display_name", "id")):
    """The tenant's users (deleted ones too), matching ``search`` in the name or the user
    principal name, in this order: a queryset for the page to count and slice."""
    found = DirectoryUser.objects.filter(tenant=tenant)
    if search:
        found = found.filter(_matching(search))
    return found.order_by(*order_by)


def deleted_users(*, tenant: Tenant):
    """The tenant's soft-deleted users, the longest deleted first (a queryset to page)."""
    return DirectoryUser.objects.filter(tenant=tenant, soft_deleted_at__isnull=False).order_by(
        "soft_deleted_at", "id"
    )


def deleted_user(*, tenant: Tenant, public_id) -> DirectoryUser | None:
    """The tenant's soft-deleted user with this id, or None (also when not deleted)."""
    return DirectoryUser.objects.filter(
        tenant=tenant, public_id=public_id, soft_deleted_at__isnull=False
    ).first()


def active_users(*, tenant: Tenant, search: str = "", limit: int = 20) -> list[DirectoryUser]:
    """At most ``limit`` of the tenant's users who are not deleted, matching ``search``, by
    name: the pickers."""
    found = DirectoryUser.objects.active().filter(tenant=tenant)
    if search:
        found = found.filter(_matching(search))
    return list(found.order_by("display_name")[:limit])


def member_ids(*, tenant: Tenant, groups: Iterable[Group]) -> set[int]:
    """The ids of the users in any of these groups of the tenant (one query)."""
    groups = [g for g in groups if g.tenant_id == tenant.id]
    if not groups:
        return set()
    return set(
        DirectoryUser.objects.filter(tenant=tenant, memberships__group__in=groups).values_list(
            "id", flat=True
        )
    )


def without_location(*, tenant: Tenant, ids: Iterable[int], limit: int = 50) -> list[DirectoryUser]:
    """Of these users of the tenant, at most ``limit`` without a usage location of their own
    (they take the organization's), by name."""
    ids = list(ids)
    if not ids:
        return []
    return list(
        DirectoryUser.objects.filter(tenant=tenant, id__in=ids, usage_location="").order_by(
            "display_name"
        )[:limit]
    )


def license_lines(*, tenant: Tenant, user: DirectoryUser) -> list[dict]:
    """The user's Licenses blade: per product, its paths (direct, inherited from groups), one
    state and error and the enabled services (``rules.product_line``)."""
    rows = list(
        UserLicense.objects.filter(tenant=tenant, user=user)
        .select_related("product", "via_group")
        .order_by("product__display_name")
    )
    catalog = current_catalog()
    location = effective_location(user.usage_location, tenant.country)
    by_product: dict[Product, list[UserLicense]] = {}
    for row in rows:
        by_product.setdefault(row.product, []).append(row)
    return [
        {
            "product": product,
            "direct": any(r.via_group_id is None for r in product_rows),
            "inherited_from": [r.via_group for r in product_rows if r.via_group_id],
            **product_line(product_rows, location, catalog),
        }
        for product, product_rows in by_product.items()
    ]


def direct_choices(*, tenant: Tenant, user: DirectoryUser) -> list[dict]:
    """The user's Assignments dialog: every product of the tenant that can be assigned, ticked
    where the user has it directly, marked where the user only inherits it."""
    held = set(
        LicenseAssignment.objects.filter(tenant=tenant, user=user).values_list(
            "product_id", flat=True
        )
    )
    inherited = set(
        UserLicense.objects.filter(tenant=tenant, user=user, via_group__isnull=False).values_list(
            "product_id", flat=True
        )
    )
    return [
        {
            "product": p,
            "checked": p.id in held,
            "inherited_only": p.id in inherited and p.id not in held,
        }
        for p in tenant_products(tenant=tenant)
        if p.is_assignable
    ]


def _matching(search: str) -> Q:
    return Q(display_name__icontains=search) | Q(user_principal_name__icontains=search)


# -- SCIM's reads (portal/scim/) ---------------------------------------------------------------

# The fields a SCIM filter may name (``portal.scim.filter``), each compared ignoring case but
# ``public_id``.
MATCHABLE_USER_FIELDS = ("user_principal_name", "external_id", "display_name", "public_id")


def users_page(
    *, tenant: Tenant, matching: Mapping[str, str], offset: int, limit: int
) -> tuple[int, list[DirectoryUser]]:
    """How many of the tenant's users match, and ``limit`` of them from ``offset`` in the order
    they were made (two queries; none when an id is not a UUID). ``matching``: field →
    value, each equal ignoring case (``public_id`` exactly)."""
    found = DirectoryUser.objects.filter(tenant=tenant)
    for field, value in matching.items():
        if field not in MATCHABLE_USER_FIELDS:
            raise ValueError(f"Users are not matched on {field}.")
        if field == "public_id":
            try:
                found = found.filter(public_id=uuid.UUID(value))
            except ValueError:
                found = found.none()
        else:
            found = found.filter(**{f"{field}__iexact": value})
    return found.count(), list(found.order_by("id")[offset : offset + limit])


def users_by_ids(*, tenant: Tenant, public_ids: Iterable[uuid.UUID]) -> list[DirectoryUser]:
    """The tenant's users with these ids, by display name (one query; none for no ids). An id
    of no user of the tenant is left out."""
    return list(DirectoryUser.objects.filter(tenant=tenant, public_id__in=list(public_ids)))

"""Groups as the pages, the API and SCIM read them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db.models import Exists, OuterRef

from licensing.models import (
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseAssignment,
    LicenseState,
    Tenant,
    UserLicense,
)
from licensing.selectors.base import keyset


def group(*, tenant: Tenant, public_id) -> Group | None:
    """The tenant's group with this id, or None: another tenant's group is not found."""
    return Group.objects.filter(tenant=tenant, public_id=public_id).first()


# -- the Graph-compatible API's reads -----------------------------------------------------------


def groups_page(
    *,
    tenant: Tenant,
    after: int | None = None,
    size: int,
    with_license_errors: Iterable[bool] = (),
) -> list[Group]:
    """A page of the tenant's groups, keyset-paged after the group with id ``after``
    (``base.keyset``): ``size`` + 1 at most, the last one only saying that there is a next
    page. For each of ``with_license_errors``, only the groups with (True) or without
    (False) a member whose license through the group is in Error. One query."""
    found = Group.objects.filter(tenant=tenant)
    for wanted in with_license_errors:
        in_error = UserLicense.objects.filter(via_group=OuterRef("pk"), state=LicenseState.ERROR)
        found = found.filter(Exists(in_error) if wanted else ~Exists(in_error))
    return list(keyset(found, after=after)[: size + 1])


def assigned_licenses(
    *, tenant: Tenant, groups: Iterable[Group]
) -> dict[int, list[tuple[str, list[str]]]]:
    """The licenses assigned to each of these groups of the tenant, per group id: (SKU id,
    disabled plans sorted), in the order they were assigned. One query (none for no
    groups); another tenant's groups have none."""
    ids = [g.id for g in groups if g.tenant_id == tenant.id]
    assigned: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)
    for group_id, sku_id, disabled in (
        LicenseAssignment.objects.filter(group__in=ids)
        .order_by("group_id", "created_at", "id")
        .values_list("group_id", "product__sku_id", "disabled_plans")
    ):
        assigned[group_id].append((str(sku_id), sorted(disabled)))
    return assigned


def group_members_page(
    *,
    tenant: Tenant,
    group: Group,
    columns: Sequence[str],
    after: int | None = None,
    size: int,
    in_error: bool = False,
) -> list[dict]:
    """A page of the members of the tenant's group (deleted users too), as rows of
    ``columns`` (with ``id``), keyset-paged as ``groups_page``; with ``in_error``, only those
    whose license through the group is in Error. One query; none for another tenant's
    group, which has no members here."""
    if group.tenant_id != tenant.id:
        return []
    people = DirectoryUser.objects.filter(memberships__group=group)
    if in_error:
        errors_here = UserLicense.objects.filter(
            user=OuterRef("pk"), via_group=group, state=LicenseState.ERROR
        )
        people = people.filter(Exists(errors_here))
    return list(keyset(people.values(*columns), after=after)[: size + 1])


def is_member(*, tenant: Tenant, group: Group, user: DirectoryUser) -> bool:
    """Whether the user is a member of the tenant's group (one query; none for another
    tenant's group)."""
    if group.tenant_id != tenant.id:
        return False
    return GroupMembership.objects.filter(group=group, user=user).exists()

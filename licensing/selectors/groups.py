"""Groups as the pages, the API and SCIM read them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from licensing.models import Group, GroupMembership, Tenant


def group(*, tenant: Tenant, public_id) -> Group | None:
    """The tenant's group with this id, or None: another tenant's group is not found."""
    return Group.objects.filter(tenant=tenant, public_id=public_id).first()


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

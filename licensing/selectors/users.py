"""Users of the directory as the pages, the API and SCIM read them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from licensing.models import DirectoryUser, Tenant


def user(*, tenant: Tenant, public_id) -> DirectoryUser | None:
    """The tenant's user with this id (soft-deleted or not), or None: another tenant's user
    is not found."""
    return (
        DirectoryUser.objects.select_related("tenant")
        .filter(tenant=tenant, public_id=public_id)
        .first()
    )


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

"""Users of the directory as the pages, the API and SCIM read them."""

from __future__ import annotations

from licensing.models import DirectoryUser, Tenant


def user(*, tenant: Tenant, public_id) -> DirectoryUser | None:
    """The tenant's user with this id (soft-deleted or not), or None: another tenant's user
    is not found."""
    return (
        DirectoryUser.objects.select_related("tenant")
        .filter(tenant=tenant, public_id=public_id)
        .first()
    )

"""Groups as the pages, the API and SCIM read them."""

from __future__ import annotations

from licensing.models import Group, Tenant


def group(*, tenant: Tenant, public_id) -> Group | None:
    """The tenant's group with this id, or None: another tenant's group is not found."""
    return Group.objects.filter(tenant=tenant, public_id=public_id).first()

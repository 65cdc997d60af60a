"""Tenants as the sign-in of the Graph-compatible API reads them."""

from __future__ import annotations

import uuid

from licensing.models import Tenant


def tenant(*, key: str) -> Tenant | None:
    """The tenant named by its id (a GUID) or by its initial domain (any case, surrounding
    spaces ignored), as Entra's URLs name a directory; None when there is none (one query)."""
    try:
        return Tenant.objects.filter(public_id=uuid.UUID(key)).first()
    except ValueError:
        return Tenant.objects.filter(initial_domain=key.strip().lower()).first()

"""App registrations as the Graph-compatible API's sign-in reads them (docs/api.md)."""

from __future__ import annotations

import uuid

from licensing.models import AppRegistration, Tenant


def live_app_exists(*, tenant: Tenant, client_id: uuid.UUID) -> bool:
    """Whether the tenant has an app with this client id that is not revoked (one query)."""
    return AppRegistration.objects.filter(
        tenant=tenant, client_id=client_id, revoked_at=None
    ).exists()


def live_app(*, tenant_public_id: uuid.UUID, client_id: uuid.UUID) -> AppRegistration | None:
    """The app with this client id, not revoked, of the tenant with this id (as a token names
    them both), with its tenant; None otherwise (one query)."""
    return (
        AppRegistration.objects.select_related("tenant")
        .filter(client_id=client_id, tenant__public_id=tenant_public_id, revoked_at=None)
        .first()
    )

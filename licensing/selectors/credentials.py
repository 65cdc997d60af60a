"""A tenant's credentials as its pages and the API's sign-in read them: app registrations and
SCIM provisioning tokens."""

from __future__ import annotations

import uuid

from licensing.models import AppRegistration, ScimToken, Tenant


def app_registrations(*, tenant: Tenant) -> list[AppRegistration]:
    """The tenant's apps, live ones first, by name."""
    return list(AppRegistration.objects.filter(tenant=tenant).order_by("revoked_at", "name", "id"))


def app_registration(*, tenant: Tenant, client_id) -> AppRegistration | None:
    """The tenant's app with this client id, or None."""
    return AppRegistration.objects.filter(tenant=tenant, client_id=client_id).first()


def scim_tokens(*, tenant: Tenant) -> list[ScimToken]:
    """The tenant's provisioning tokens, in the model's order."""
    return list(ScimToken.objects.filter(tenant=tenant))


def scim_token(*, tenant: Tenant, public_id) -> ScimToken | None:
    """The tenant's provisioning token with this id, or None."""
    return ScimToken.objects.filter(tenant=tenant, public_id=public_id).first()


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

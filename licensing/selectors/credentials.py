"""A tenant's credentials as its pages read them: app registrations (the API) and SCIM
provisioning tokens."""

from __future__ import annotations

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

"""SCIM provisioning tokens: one live bearer token per tenant (docs/provisioning.md)."""

from __future__ import annotations

import secrets

from django.utils import timezone

from licensing import audit
from licensing.models import ScimToken, Tenant
from licensing.services.apps import mark_used, secret_digest
from licensing.services.base import check_tenant, service

# How the audit log names the identity provider's changes.
PROVISIONING_ACTOR = "Provisioning (SCIM)"


@service
def scim_token_issue(*, tenant: Tenant, actor) -> tuple[ScimToken, str]:
    """A new token for the tenant, which revokes the previous one (rotate). Returns it and
    the token itself, which is never shown again."""
    # The race this prevents: admins issuing at once each revoke the live tokens they see,
    # then each insert one, leaving several live. Issues of one tenant take turns.
    Tenant.objects.select_for_update().filter(id=tenant.id).values_list("id", flat=True).get()
    now = timezone.now()
    ScimToken.objects.filter(tenant=tenant, revoked_at=None).update(revoked_at=now)
    raw = secrets.token_urlsafe(32)
    token = ScimToken.objects.create(
        tenant=tenant,
        token_sha256=secret_digest(raw),
        token_hint=raw[:4],
        created_by=audit.actor_name(actor),
    )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.ADD_PROVISIONING_TOKEN,
        target=tenant,
        target_type="Tenant",
        details={"token": f"{token.token_hint}…"},
    )
    return token, raw


@service
def scim_token_revoke(*, tenant: Tenant, token: ScimToken, actor) -> None:
    check_tenant(tenant, token)
    if not ScimToken.objects.filter(id=token.id, revoked_at=None).update(revoked_at=timezone.now()):
        return
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.REVOKE_PROVISIONING_TOKEN,
        target=tenant,
        target_type="Tenant",
        details={"token": f"{token.token_hint}…"},
    )


def scim_authenticate(tenant_public_id, raw: str) -> ScimToken | None:
    """The live token with this value for this tenant, or None. Its "last used" is written
    once a minute at most."""
    token = (
        ScimToken.objects.filter(
            token_sha256=secret_digest(raw or ""),
            tenant__public_id=tenant_public_id,
            revoked_at=None,
        )
        .select_related("tenant")
        .first()
    )
    if token is None:
        return None
    mark_used(token, timezone.now())
    return token

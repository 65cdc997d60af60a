"""App registrations: the identities scripts use for the Graph-compatible API (docs/api.md)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from licensing import audit
from licensing.errors import InvalidInput
from licensing.models import AppPermission, AppRegistration, Tenant
from licensing.services.base import check_tenant, service
from licensing.services.directory import clean_text


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@service
def app_register(
    *, tenant: Tenant, name: str, read_only: bool = False, actor
) -> tuple[AppRegistration, str]:
    """Register an app; returns it and its client secret, which is never shown again."""
    if not isinstance(name, str) or not " ".join(name.split()) or len(name.strip()) > 120:
        raise InvalidInput(_("An app needs a name of at most 120 characters."))
    # The directory's rule for names (no control or invisible characters), as for users.
    name = clean_text(" ".join(name.split()), field=_("Name"), max_length=120, required=True)
    secret = secrets.token_urlsafe(32)
    app = AppRegistration.objects.create(
        tenant=tenant,
        name=name,
        secret_sha256=secret_digest(secret),
        secret_hint=secret[:3],
        permission=AppPermission.READ if read_only else AppPermission.LICENSING,
        created_by=audit.actor_name(actor),
    )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.ADD_APPLICATION,
        target=app,
        target_type="Application",
        details={"client_id": str(app.client_id), "permission": app.permission},
    )
    return app, secret


@service
def app_revoke(*, tenant: Tenant, app: AppRegistration, actor) -> None:
    """Revoke an app: its secret and every token it holds stop working at once."""
    check_tenant(tenant, app)
    app = AppRegistration.objects.select_for_update().get(pk=app.pk)
    if app.revoked_at is not None:
        return
    app.revoked_at = timezone.now()
    app.save(update_fields=["revoked_at"])
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.REVOKE_APPLICATION,
        target=app,
        target_type="Application",
        details={"client_id": str(app.client_id)},
    )


def mark_used(obj, now) -> None:
    """Write an app's or a token's "last used", to the minute: once a minute at most, not an
    UPDATE per request."""
    if obj.last_used_at is None or obj.last_used_at < now - timedelta(minutes=1):
        type(obj).objects.filter(id=obj.id).update(last_used_at=now)


def app_sign_in_failed(*, tenant: Tenant, client_id: str, address: str, reason: str) -> None:
    """A refused token request, audited as a failed sign-in of the app (Entra keeps service
    principals' sign-ins beside the users'): the client id it named, the source address."""
    try:
        app = AppRegistration.objects.filter(tenant=tenant, client_id=uuid.UUID(client_id)).first()
    except ValueError:
        app = None
    audit.event(
        tenant=tenant,
        actor=app.actor if app else f"Unknown app ({client_id[:100]})",
        activity=audit.SIGN_IN,
        target=app or client_id[:100],
        target_type="Application",
        details={
            "method": "client secret",
            "client_id": client_id[:100],
            "result": "failure",
            "reason": reason,
            "address": address,
        },
    )


def app_authenticate(tenant: Tenant, client_id, secret: str) -> AppRegistration | None:
    """The tenant's live app with this client id and secret, or None (read only)."""
    app = (
        AppRegistration.objects.filter(tenant=tenant, client_id=client_id, revoked_at=None)
        .select_related("tenant")
        .first()
    )
    if app is None or not hmac.compare_digest(app.secret_sha256, secret_digest(secret or "")):
        return None
    return app

"""The organization identity each portal account is bound to (docs/security.md).

An account is bound at its first sign-in with the organization's account to that identity
(issuer, subject, Entra's tenant id); from then on only that identity signs in as it.
Support unbinds it in the Django admin, and the next identity with the account's e-mail
binds it again.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from licensing import audit
from licensing.locking import service
from licensing.models import AccountIdentity, AccountPreferences

# Not Azure's words: Entra has no such binding (its accounts are its identities).
BIND_IDENTITY = "Bind sign-in identity"
UNBIND_IDENTITY = "Unbind sign-in identity"


def _details(identity: AccountIdentity) -> dict:
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "tenant_id": identity.tenant_id,
    }


@service
def identity_bind(*, account, issuer: str, subject: str, tenant_id: str) -> bool:
    """Bind an unbound account to this identity (its first sign-in, audited with the account
    as the actor). True when the account is bound to this identity, now or before; False when
    it is bound to another one."""
    # Two first sign-ins of one account at once: the second waits here and finds the first's
    # binding, so an account is never bound twice.
    get_user_model().objects.select_for_update().filter(pk=account.pk).first()
    wanted = {"issuer": issuer, "subject": subject, "tenant_id": tenant_id}
    existing = AccountIdentity.objects.filter(account=account).first()
    if existing is not None:
        return _details(existing) == wanted
    try:
        with transaction.atomic():
            identity = AccountIdentity.objects.create(account=account, **wanted)
    except IntegrityError:
        return False  # this identity was bound to another account meanwhile
    audit.event(
        tenant=None,
        actor=account,
        activity=BIND_IDENTITY,
        target=account.get_username(),
        target_type="Account",
        details=_details(identity),
    )
    return True


@service
def identity_unbind(*, account, actor) -> bool:
    """Let go of the account's identity (audited); the next identity with the account's
    e-mail binds it. False when it had none."""
    identity = AccountIdentity.objects.select_for_update().filter(account=account).first()
    if identity is None:
        return False
    identity.delete()
    audit.event(
        tenant=None,
        actor=actor,
        activity=UNBIND_IDENTITY,
        target=account.get_username(),
        target_type="Account",
        details=_details(identity),
    )
    return True


@service
def sign_in_record(*, actor, who: str, method: str, success: bool, reason: str = "") -> None:
    """A sign-in to the portal, successful or not, in the audit log (no tenant: the account's,
    not a tenant's). ``actor``: the account when it signed in, else None."""
    audit.sign_in(actor=actor, who=who, method=method, success=success, reason=reason)


@service
def account_set_language(*, account, language: str) -> None:
    """Remember the account's language for its next sign-in (the caller checked it is one of
    the portal's). Not audited: a setting of the account's own view, like the language of
    Azure's portal, which changes no license and no directory object."""
    AccountPreferences.objects.update_or_create(account=account, defaults={"language": language})

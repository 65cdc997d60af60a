"""Sign-in with the organization's account: OpenID Connect by mozilla-django-oidc (README,
"Signing in with the organization's account"; docs/security.md, the trust model).

* **Identity.** The provider's identity is its issuer (``iss``), subject (``sub``) and, for
  Entra ID, directory (``tid``), read from the signed ID token; the userinfo answer must
  name the same subject. ``OIDC_ALLOWED_ISSUERS`` and ``OIDC_ALLOWED_TENANT_IDS`` (empty:
  any) say which identities may be matched at all.
* **Binding.** An identity bound to an account signs in as that account, whatever e-mail it
  asserts now. An unbound identity is matched by e-mail (case insensitive; active accounts),
  and binds the account at its first sign-in; an account bound to another identity refuses
  it. Support unbinds in the Django admin (``licensing.services.accounts``).
* **The e-mail.** Only a JSON ``true`` in ``email_verified`` counts as verified; any other
  value refuses. Entra ID sends none: an absent claim is accepted, because the binding, not
  the e-mail, decides from the first sign-in on. An e-mail that is not one clean string (a
  list, a NUL) refuses like any other unusable claim, never a 500.
* **Access.** An account with no role in any organization (and not support staff) is refused
  like an unknown one. Accounts are never created by sign-in. Every refusal lands on the
  refusal page, with no session, and is audited with its reason.
* **Throttling.** Refused identities are not password failures: django-axes does not count
  them (``portal.signin.PasswordAttemptsHandler``), so they never lock an address out of the
  password form.
* **Refresh.** ``SessionRefresh`` goes back to the provider (silently) when the ID token's
  renewal time has passed, for full-page requests of sessions signed in this way.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.middleware import SessionRefresh as OIDCSessionRefresh
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from licensing import selectors
from licensing.services.accounts import identity_bind, sign_in_record
from portal.graph import is_api

logger = logging.getLogger(__name__)

# For the refusal page: who the provider said signed in (a clean e-mail or nothing), and why
# it was refused (one of the page's cases). Never a session of its own.
REFUSED = "signin_refused"
REFUSED_CASE = "signin_refused_case"
UNKNOWN, NO_ROLE, BOUND, CLAIMS = "unknown", "no-role", "bound", "claims"

MAX_EMAIL = 254  # RFC 5321's longest path; Django's EmailField too


def configured() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


def has_access(account) -> bool:
    return account.is_staff or selectors.accounts.has_role(account=account)


def clean_claim(value, max_length: int) -> str:
    """A claim that is one printable string of at most ``max_length`` characters; else ""."""
    if not isinstance(value, str):
        return ""
    if len(value) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    return value


def usable_email(claims) -> str:
    email = clean_claim(claims.get("email"), MAX_EMAIL).strip()
    return email if "@" in email else ""


class Refused(Exception):
    """A sign-in refused: ``reason`` for the audit log, ``case`` for the refusal page."""

    def __init__(self, reason: str, case: str = CLAIMS):
        super().__init__(reason)
        self.reason, self.case = reason, case


class PortalOIDCBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims) -> bool:
        # Only a JSON true is verified; "false", 0, null are not. Absent: see the module.
        return (
            super().verify_claims(claims)
            and bool(usable_email(claims))
            and claims.get("email_verified", True) is True
        )

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        email = usable_email(userinfo)
        try:
            return self.account_for(payload, userinfo, email)
        except Refused as refused:
            logger.warning(
                "organization sign-in refused: %s (issuer %r, subject %r, e-mail %r)",
                refused.reason,
                payload.get("iss"),
                payload.get("sub"),
                email,
            )
            if self.request is not None:
                # portal.signin audits the refusal with these.
                self.request.signin_refusal = refused.reason
                self.request.signin_refused_email = email
                self.request.session[REFUSED] = email if refused.case != CLAIMS else ""
                self.request.session[REFUSED_CASE] = refused.case
            return None

    def account_for(self, payload: dict, userinfo: dict, email: str):
        issuer = clean_claim(payload.get("iss"), 512)
        subject = clean_claim(payload.get("sub"), 255)
        tenant_id = clean_claim(payload.get("tid", ""), 64).lower()
        if not (issuer and subject) or (payload.get("tid") and not tenant_id):
            raise Refused("no usable identity in the ID token")
        if userinfo.get("sub") != payload.get("sub"):
            # OpenID Connect Core 5.3.2: userinfo of another subject is not this sign-in's.
            raise Refused("userinfo names another subject")
        if settings.OIDC_ALLOWED_ISSUERS and issuer not in settings.OIDC_ALLOWED_ISSUERS:
            raise Refused("issuer not allowed")
        allowed_tenants = {t.lower() for t in settings.OIDC_ALLOWED_TENANT_IDS}
        if allowed_tenants and tenant_id not in allowed_tenants:
            raise Refused("tenant not allowed")

        bound = selectors.accounts.bound_identity(
            issuer=issuer, subject=subject, tenant_id=tenant_id
        )
        if bound is not None:
            account = bound.account
            if not account.is_active:
                raise Refused("account is disabled")
        else:
            account = self.account_by_email(userinfo, email)
        if not has_access(account):
            raise Refused("no role in any organization", NO_ROLE)
        if bound is None and not identity_bind(
            account=account, issuer=issuer, subject=subject, tenant_id=tenant_id
        ):
            raise Refused("account is bound to another identity", BOUND)
        return account

    def account_by_email(self, userinfo: dict, email: str):
        """An unbound identity's account: the one active account with its e-mail."""
        if not email:
            raise Refused("no usable e-mail in the claims")
        if not self.verify_claims(userinfo):
            raise Refused("e-mail not verified by the provider")
        accounts = list(self.filter_users_by_claims({"email": email})[:2])
        if not accounts:
            raise Refused("no active account with this e-mail", UNKNOWN)
        if len(accounts) > 1:
            raise Refused("several accounts with this e-mail")
        return accounts[0]

    def filter_users_by_claims(self, claims):
        email = usable_email(claims)
        if not email:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email, is_active=True)


class SessionRefresh(OIDCSessionRefresh):
    def is_refreshable_url(self, request: HttpRequest) -> bool:
        # htmx fragments and the API cannot follow a redirect to the provider: the next full
        # page does it.
        if request.headers.get("HX-Request") or is_api(request):
            return False
        return super().is_refreshable_url(request)


def _configured_only(view):
    def wrapped(request, *args, **kwargs):
        if not configured():
            raise Http404("Sign-in with an organization account is not configured.")
        try:
            return view(request, *args, **kwargs)
        except SuspiciousOperation:
            # A state or nonce that is not the one this browser was given: refused (400),
            # and recorded like every other failed sign-in.
            sign_in_record(
                actor=None,
                who="",
                method="organization account",
                success=False,
                reason="state or nonce does not match",
            )
            raise

    return wrapped


@require_safe
def refused(request: HttpRequest):
    """Where a refused sign-in lands: who signed in, and why there is no access."""
    email = request.session.pop(REFUSED, "")
    case = request.session.pop(REFUSED_CASE, "")
    return render(request, "registration/refused.html", {"email": email, "case": case})


urlpatterns = [
    path(
        "authenticate/",
        _configured_only(OIDCAuthenticationRequestView.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "callback/",
        _configured_only(OIDCAuthenticationCallbackView.as_view()),
        name="oidc_authentication_callback",
    ),
    path("logout/", OIDCLogoutView.as_view(), name="oidc_logout"),
]

"""Sign-in with the organization's account: OpenID Connect by mozilla-django-oidc (README,
"Signing in with the organization's account").

* **Matching.** The provider's identity is matched to a portal account by e-mail (case
  insensitive; active accounts). An e-mail the provider says is not verified
  (``email_verified: false``) matches nothing. Accounts are never created by sign-in.
* **Access.** An account with no role in any organization (and not support staff) is refused
  like an unknown one: the refusal page, no session.
* **Throttling.** Refused identities are not password failures: django-axes does not count
  them (``portal.signin.PasswordAttemptsHandler``), so they never lock an address out of the
  password form.
* **Refresh.** ``SessionRefresh`` goes back to the provider (silently) when the ID token's
  renewal time has passed, for full-page requests of sessions signed in this way.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
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

from licensing import audit
from licensing.models import RoleAssignment
from portal.graph import is_api

REFUSED = "signin_refused"


def configured() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


def has_access(account) -> bool:
    return account.is_staff or RoleAssignment.objects.filter(account=account).exists()


class PortalOIDCBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims) -> bool:
        return super().verify_claims(claims) and claims.get("email_verified") is not False

    def filter_users_by_claims(self, claims):
        email = (claims.get("email") or "").strip()
        if not email:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email, is_active=True)

    def get_or_create_user(self, access_token, id_token, payload):
        account = None
        try:
            account = super().get_or_create_user(access_token, id_token, payload)
        finally:
            if account is not None and not has_access(account):
                account = None
            if account is None and self.request is not None:
                # For the refusal page: who the provider said signed in (never a session).
                self.request.session[REFUSED] = str(self.claims_email or "")[:254]
        return account

    def get_userinfo(self, access_token, id_token, payload):
        claims = super().get_userinfo(access_token, id_token, payload)
        self.claims_email = claims.get("email")
        return claims

    claims_email: str | None = None


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
            audit.sign_in(
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
    known = bool(
        email and get_user_model().objects.filter(email__iexact=email, is_active=True).exists()
    )
    return render(request, "registration/refused.html", {"email": email, "known": known})


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

"""Sign-in throttling behind a proxy (django-axes).

* **The client's address.** Behind a TLS-terminating proxy (``BEHIND_PROXY=1``)
  ``REMOTE_ADDR`` is the proxy's own address, the same for everyone. The proxy appends the
  address it saw to ``X-Forwarded-For``; entries further left were sent by the client and
  prove nothing. So the client is the entry ``TRUSTED_PROXIES`` places from the right (one
  proxy: the last one). Without a proxy it is ``REMOTE_ADDR``. django-axes reads it through
  ``AXES_CLIENT_IP_CALLABLE``.
* **Two limits.** django-axes locks a user name *from one address* out after
  ``AXES_FAILURE_LIMIT`` failures (so nobody elsewhere can lock an admin out), and
  :class:`AddressThrottleBackend` locks an *address* out after ``SIGNIN_ADDRESS_LIMIT``
  failures over any user names within the cool-off (password spraying). Both show the lockout
  page and last ``AXES_COOLOFF_MINUTES``.
"""

from __future__ import annotations

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.dispatch import receiver
from django.http import HttpRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from licensing.services.accounts import sign_in_record
from portal.oidc import REFUSED, configured


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.BEHIND_PROXY:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    if len(hops) < settings.TRUSTED_PROXIES:
        return remote
    candidate = hops[-settings.TRUSTED_PROXIES]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def address_failures(ip: str) -> int:
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return (
        AccessAttempt.objects.filter(ip_address=ip, attempt_time__gte=since).aggregate(
            n=Sum("failures_since_start")
        )["n"]
        or 0
    )


class AddressThrottleBackend:
    """Refuses every sign-in from an address that failed too often, whatever the user name.
    First in ``AUTHENTICATION_BACKENDS``: a refused attempt never reaches the password check.
    It has no ``get_user``: it never signs anyone in, so Django never records it as the
    session's backend."""

    def authenticate(self, request, **credentials):
        if request is None or "password" not in credentials:
            return None  # not a password sign-in (the organization's account)
        ip = client_ip(request)
        if ip and address_failures(ip) >= settings.SIGNIN_ADDRESS_LIMIT:
            # django-axes' middleware turns this flag into its lockout page.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            raise PermissionDenied("Too many failed sign-ins from this address.")
        return None


class BoundedUserNameMixin:
    """Django's sign-in forms show a user name's maximum length but do not enforce it, so a
    10,000-character name reached django-axes, whose record of the attempt holds 255 (a 500).
    A user name longer than any account's is refused as a plain invalid sign-in."""

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        if len(username) > get_user_model()._meta.get_field("username").max_length:
            raise ValidationError(_("Enter a valid user name."), code="invalid")
        return username


class SignInForm(BoundedUserNameMixin, AuthenticationForm):
    pass


class AdminSignInForm(BoundedUserNameMixin, AdminAuthenticationForm):
    pass


class PasswordAttemptsHandler(AxesDatabaseHandler):
    """django-axes counts failed *password* sign-ins only: an organization account the portal
    refuses is not a guessed password, and must not lock an address out of the password
    form."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if "username" not in credentials:
            return None
        return super().user_login_failed(sender, credentials, request, **kwargs)


def _method(backend: str) -> str:
    return "organization account" if backend.endswith("PortalOIDCBackend") else "password"


@receiver(user_logged_in)
def _audit_sign_in(sender, request, user, **kwargs):
    sign_in_record(
        actor=user,
        who=user.get_username(),
        method=_method(getattr(user, "backend", "")),
        success=True,
    )


@receiver(user_login_failed)
def _audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    password = "username" in credentials
    who = credentials.get("username") if password else ""
    reason = ""
    if not password and request is not None:
        # What portal.oidc found: the e-mail (when usable) and why it refused.
        who = getattr(request, "signin_refused_email", request.session.get(REFUSED, ""))
        reason = getattr(request, "signin_refusal", "")
    sign_in_record(
        actor=None,
        who=who,
        method="password" if password else "organization account",
        success=False,
        reason=reason,
    )


class PortalLoginView(LoginView):
    """The sign-in page: the organization account's button when it is configured, the
    password form unless ``PASSWORD_SIGN_IN=0`` (then a posted password is refused)."""

    redirect_authenticated_user = True
    authentication_form = SignInForm

    def post(self, request, *args, **kwargs):
        if not settings.PASSWORD_SIGN_IN:
            return _password_refused(request)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "organization_sign_in": configured(),
            "password_sign_in": settings.PASSWORD_SIGN_IN,
        }


def _password_refused(request):
    return render(
        request,
        "registration/refused.html",
        {"password_off": True},
        status=403,
    )


def admin_login(request, extra_context=None):
    """The Django admin's sign-in follows the portal's: with password sign-in off it sends
    people to the portal's sign-in page and refuses a posted password."""
    if not settings.PASSWORD_SIGN_IN:
        if request.method == "POST":
            return _password_refused(request)
        return redirect_to_login(request.GET.get("next") or "/admin/")
    return _admin_login(request, extra_context)


_admin_login = admin.site.login

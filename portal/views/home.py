from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from licensing import selectors


def home(request: HttpRequest) -> HttpResponse:
    """Tenant admins start on Licenses > Overview; support staff without a tenant role in the
    Django admin; everyone else signs in first."""
    if not request.user.is_authenticated:
        return redirect("login")
    if selectors.accounts.has_role(account=request.user):
        return redirect("portal:overview")
    if request.user.is_staff:
        return redirect("admin:index")
    return redirect("portal:overview")

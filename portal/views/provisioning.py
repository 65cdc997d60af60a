"""Provisioning: the Global administrator connects the identity provider (SCIM,
docs/provisioning.md): the endpoint to paste into Entra ID or Okta, a token shown once
(issuing a new one rotates it), revoke, last used."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from licensing import selectors, services
from portal import scim
from portal.access import portal_view, require_directory_admin
from portal.responses import command_done, found


@require_http_methods(["GET", "POST"])
@portal_view
def provisioning(request: HttpRequest) -> HttpResponse:
    require_directory_admin(request)
    new = None
    if request.method == "POST":
        # Shown once, in this answer (no-store), and kept nowhere: not in the session, where
        # it sat in the clear until the next page.
        _token, new = services.scim_token_issue(tenant=request.tenant, actor=request.user)
    context = {
        "section": "provisioning",
        "tokens": selectors.credentials.scim_tokens(tenant=request.tenant),
        "new": new,
        "endpoint": scim.tenant_url(request, request.tenant),
    }
    return render(request, "portal/provisioning.html", context)


@require_POST
@portal_view
def revoke(request: HttpRequest, token_id) -> HttpResponse:
    require_directory_admin(request)
    token = found(selectors.credentials.scim_token(tenant=request.tenant, public_id=token_id))
    services.scim_token_revoke(tenant=request.tenant, token=token, actor=request.user)
    return command_done(
        request,
        _("Revoked the provisioning token; the identity provider can no longer provision."),
        reverse("portal:provisioning"),
    )

"""App registrations: the Global administrator registers scripts for the Graph-compatible API
(docs/api.md), sees a new secret once, and revokes apps."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from licensing import selectors, services
from licensing.errors import LicensingError
from portal.access import portal_view, require_directory_admin
from portal.responses import command_done, found


@require_http_methods(["GET", "POST"])
@portal_view
def app_list(request: HttpRequest) -> HttpResponse:
    require_directory_admin(request)
    error, new = "", None
    if request.method == "POST":
        try:
            app, secret = services.app_register(
                tenant=request.tenant,
                name=request.POST.get("name", ""),
                read_only=request.POST.get("permission") == "read",
                actor=request.user,
            )
        except LicensingError as refused:
            error = str(refused)
        else:
            # Shown once, in this answer (no-store), and kept nowhere: not in the session,
            # where it sat in the clear until the next page.
            new = {"client_id": str(app.client_id), "secret": secret}
    context = {
        "section": "apps",
        "apps": selectors.credentials.app_registrations(tenant=request.tenant),
        "new": new,
        "error": error,
        "token_url": request.build_absolute_uri(f"/{request.tenant.public_id}/oauth2/v2.0/token"),
        "graph_url": request.build_absolute_uri("/v1.0"),
    }
    return render(request, "portal/apps/list.html", context, status=400 if error else 200)


@require_POST
@portal_view
def app_revoke(request: HttpRequest, client_id) -> HttpResponse:
    require_directory_admin(request)
    app = found(selectors.credentials.app_registration(tenant=request.tenant, client_id=client_id))
    services.app_revoke(tenant=request.tenant, app=app, actor=request.user)
    return command_done(
        request,
        _("Revoked %(app)s: its secret and tokens no longer work.") % {"app": app.name},
        reverse("portal:apps"),
    )

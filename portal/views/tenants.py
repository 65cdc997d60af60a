from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from portal.access import SESSION_TENANT, portal_view
from portal.responses import HttpResponseSeeOther


@require_POST
@portal_view
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Switch to another tenant in which the account has a role; anything else is a 404."""
    wanted = request.POST.get("tenant", "")
    role = next((r for r in request.roles if str(r.tenant.public_id) == wanted), None)
    if role is None:
        raise Http404
    request.session[SESSION_TENANT] = role.tenant_id
    return HttpResponseSeeOther("/")

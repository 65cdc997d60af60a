from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.access import SESSION_TENANT, portal_view
from portal.responses import HttpResponseSeeOther

# Where a switch of tenant lands, by the URL name of the page it was made from: the same kind
# of page of the other tenant, never one of this tenant's objects (its id is a 404 there). A
# product's pages and Assign go to All products, a user's or a group's pages to the list.
SWITCH_TARGETS = {
    "portal:overview": "portal:overview",
    "portal:products": "portal:products",
    "portal:product": "portal:products",
    "portal:product_groups": "portal:products",
    "portal:product_plans": "portal:products",
    "portal:assign": "portal:products",
    "portal:users": "portal:users",
    "portal:deleted_users": "portal:deleted_users",
    "portal:sync_upload": "portal:sync_upload",
    "portal:user": "portal:users",
    "portal:user_licenses": "portal:users",
    "portal:user_assignments": "portal:users",
    "portal:user_license_plans": "portal:users",
    "portal:groups": "portal:groups",
    "portal:group": "portal:groups",
    "portal:group_licenses": "portal:groups",
    "portal:audit": "portal:audit",
    "portal:apps": "portal:apps",
    "portal:provisioning": "portal:provisioning",
}
# The Global administrator's pages: a role without them in the other tenant lands on the
# Overview rather than on a 403.
DIRECTORY_ADMIN_PAGES = {"portal:sync_upload", "portal:apps", "portal:provisioning"}


@require_POST
@portal_view
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Switch to another tenant in which the account has a role (anything else is a 404), and
    stay on the same kind of page. ``from`` names the page (its URL name, which the shell
    sends); a name not in SWITCH_TARGETS, forged or not, lands on the Overview: the answer
    only ever redirects to one of those pages, never to an address the form sent."""
    wanted = request.POST.get("tenant", "")
    role = next((r for r in request.roles if str(r.tenant.public_id) == wanted), None)
    if role is None:
        raise Http404
    request.session[SESSION_TENANT] = role.tenant_id
    target = SWITCH_TARGETS.get(request.POST.get("from", ""), "portal:overview")
    if target in DIRECTORY_ADMIN_PAGES and not role.can_manage_directory:
        target = "portal:overview"
    return HttpResponseSeeOther(reverse(target))

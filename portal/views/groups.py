"""Groups (SPEC §4.6)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from licensing.models import Group, LicenseState
from portal.access import portal_view
from portal.responses import template_for


@portal_view
def group_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    groups = Group.objects.filter(tenant=request.tenant).annotate(
        member_count=Count("memberships", distinct=True),
        members_in_error=Count(
            "inherited_licenses__user",
            filter=Q(inherited_licenses__state=LicenseState.ERROR),
            distinct=True,
        ),
    )
    if search:
        groups = groups.filter(name__icontains=search)
    page = Paginator(groups.order_by("name", "id"), 50).get_page(request.GET.get("page", 1))
    context = {"section": "groups", "page": page, "search": search}
    return render(request, template_for(request, "portal/groups/list.html", "group-rows"), context)
